/** What Sundial's state machines share: the task state machine (lib/task-state-machine.ts) and the tick's (lib/scheduling.ts). */

import { ArnFormat, Aws, Duration, Fn, Names, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { LAMBDA_STEP_MARGIN_SECONDS } from '../lambdas/engine/contract';

/**
 * Name, ARN and log group name of a state machine of `scope`: the name generated from the construct path
 * (unique per stack) plus `suffix`, so that the ARN is known without a reference to the state machine
 * (functions it invokes may then be given it without a dependency cycle). Step Functions needs a resource
 * policy on its log groups; under /aws/vendedlogs/ it does not grow the account's (size-limited) CloudWatch
 * Logs resource policy. The stack id's UUID makes the log group's name new for each stack created, so a
 * group retained from a deleted stack is not in the way.
 */
export function namedStateMachine(scope: Construct, suffix: string): { name: string; arn: string; logGroupName: string } {
  const name = `${Names.uniqueResourceName(scope, { maxLength: 74, separator: '-' })}-${suffix}`;
  return {
    name,
    arn: Stack.of(scope).formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    logGroupName: `/aws/vendedlogs/states/${name}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
  };
}

/**
 * `TimeoutSeconds` of a Task state invoking `fn`: its timeout (Lambda's default, 3 s, when it sets none)
 * plus {@link LAMBDA_STEP_MARGIN_SECONDS}.
 */
export function lambdaStepTimeout(fn: lambda.IFunction): sfn.Timeout {
  const timeout = (fn as { timeout?: Duration }).timeout?.toSeconds() ?? 3;
  return sfn.Timeout.duration(Duration.seconds(timeout + LAMBDA_STEP_MARGIN_SECONDS));
}

/** Errors of the Lambda service itself (not of the function): retried on every Lambda step (Prepare, Record, Tick). */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];
