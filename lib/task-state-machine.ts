import { Aws, Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ECS_ENDED_ERROR, EXECUTOR_STEP_TIMEOUT_SECONDS, STATE, TIMEOUT_ERROR } from '../lambdas/engine/contract';
import type { SundialCompute } from './compute';
import { LAMBDA_SERVICE_ERRORS, lambdaStepTimeout } from './step-functions';

/**
 * Errors a throttled AWS call raises in the engine function (the SDK's error name is the Lambda error type
 * Step Functions matches: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
 * DynamoDB (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`), Batch
 * (`TooManyRequestsException`), ECS and Secrets Manager (`ThrottlingException`). The same names as the AWS
 * SDK's own list of throttling errors (@smithy/core, THROTTLING_ERROR_CODES).
 */
export const THROTTLING_ERRORS = ['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'TooManyRequestsException'];

/** Properties of {@link TaskStateMachine}. */
export interface TaskStateMachineProps {
  /**
   * Name of the state machine, from `namedStateMachine` (lib/step-functions.ts): so that its ARN is known
   * before it exists (the engine function, which the definition references, carries it).
   */
  readonly stateMachineName: string;

  /** The engine Lambda behind `Prepare` and `Record`; their `TimeoutSeconds` follow its timeout. */
  readonly engineFunction: lambda.IFunction;

  /**
   * Where `RunEcsTask` runs ECS tasks: the cluster and its network. (A Batch job names its queue in the
   * request `Prepare` builds.)
   */
  readonly ecs: Pick<SundialCompute, 'cluster' | 'subnetIds' | 'securityGroup' | 'assignPublicIp'>;

  /** Where the state machine logs (ALL events, without execution data). */
  readonly logGroup: logs.ILogGroup;
}

/**
 * The task state machine: one Standard execution per task of a run, running all its attempts. Its ASL
 * is the contract of lambdas/engine/contract.ts (the diagram there); docs/ENGINE.md explains the design.
 * The local runtime runs the same ASL, taken from the synthesized template (local/engine/synth-asl.ts).
 *
 * Its states are built in `scope`, beside it: a state machine's definition must exist before it does. They
 * are not resources, so their ids are in no logical id; one task state machine per scope.
 */
export class TaskStateMachine extends sfn.StateMachine {
  constructor(scope: Construct, id: string, props: TaskStateMachineProps) {
    super(scope, id, {
      stateMachineName: props.stateMachineName,
      comment: 'Sundial: every attempt of one task of one run (docs/ENGINE.md)',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(taskStates(scope, props)),
      tracingEnabled: true,
      logs: {
        destination: props.logGroup,
        level: sfn.LogLevel.ALL,
        // The state carries each attempt's SUNDIAL_TASK_TOKEN and environment: keep them out of the logs.
        includeExecutionData: false,
      },
    });
  }
}

/** The states, wired as in lambdas/engine/contract.ts; returns the first, `Prepare`. */
function taskStates(scope: Construct, props: TaskStateMachineProps): sfn.IChainable {
  const prepare = prepareStep(scope, props.engineFunction);
  const record = recordStep(scope, props.engineFunction);
  const runBatchJob = batchJobStep(scope);
  const ecsAttempt = ecsAttemptStep(scope, props.ecs);
  // The ECS attempt ends by failing (ecsAttemptStep): EcsEnded is its task's result, caught before any other error.
  ecsAttempt.addCatch(record, { errors: [ECS_ENDED_ERROR], resultPath: '$.result' });

  const done = new sfn.Succeed(scope, 'Done', { stateName: STATE.done });
  // One Choice routes every prepared attempt: to Done when skipped, to its executor, through a Wait
  // only when there is a backoff (never on a first attempt). Separate Skip?/Backoff/Executor? states
  // cost 3 transitions per attempt where this costs 1 (Step Functions bills per transition; docs/ENGINE.md).
  const route = new sfn.Choice(scope, 'Route', { stateName: STATE.route }).when(sfn.Condition.booleanEquals('$.attempt.skip', true), done);
  routeToExecutor(scope, route, record, 'batch', runBatchJob, { id: 'BatchBackoff', stateName: STATE.batchBackoff });
  routeToExecutor(scope, route, record, 'ecs', ecsAttempt, { id: 'EcsBackoff', stateName: STATE.ecsBackoff });
  const again = new sfn.Choice(scope, 'Again', { stateName: STATE.again })
    .when(sfn.Condition.booleanEquals('$.recorded.retry', true), prepare)
    .otherwise(done);

  prepare.next(route);
  record.next(again);
  return prepare;
}

/**
 * One executor's way through an attempt: `route` sends a prepared attempt for `executor` to `step`, through
 * the Wait `backoff` when it has a backoff, and the step goes on to `record` whether it succeeds or fails.
 */
function routeToExecutor(
  scope: Construct,
  route: sfn.Choice,
  record: sfn.IChainable,
  executor: 'batch' | 'ecs',
  step: sfn.CustomState | sfn.Parallel,
  backoff: { id: string; stateName: string },
): void {
  step.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  step.next(record);
  const wait = new sfn.Wait(scope, backoff.id, { stateName: backoff.stateName, time: sfn.WaitTime.secondsPath('$.attempt.backoff_seconds') }).next(step);
  const isExecutor = sfn.Condition.stringEquals('$.attempt.executor', executor);
  route
    .when(sfn.Condition.and(isExecutor, sfn.Condition.isPresent('$.attempt.backoff_seconds'), sfn.Condition.numberGreaterThan('$.attempt.backoff_seconds', 0)), wait)
    .when(isExecutor, step);
}

/** `Prepare`: claims the next attempt and builds its executor request, into `$.attempt`. */
function prepareStep(scope: Construct, engineFunction: lambda.IFunction): tasks.LambdaInvoke {
  const prepare = new tasks.LambdaInvoke(scope, 'Prepare', {
    stateName: STATE.prepare,
    lambdaFunction: engineFunction,
    taskTimeout: lambdaStepTimeout(engineFunction),
    payloadResponseOnly: true,
    // The whole state: the execution input or Record's answer, with the claim hint when there is one.
    payload: sfn.TaskInput.fromObject({ action: 'prepare', state: sfn.JsonPath.entirePayload }),
    resultPath: '$.attempt',
    retryOnServiceExceptions: false,
  });
  prepare.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 });
  // Prepare is safe to replay (docs/ENGINE.md "Prepare is safe to retry"): the claim is conditional and a
  // replay carries on with the attempt it claimed. So a throttled DynamoDB, Batch, ECS or Secrets Manager
  // call (a fan-out of Prepares in a new account) is waited out, with jitter so that the fan-out spreads,
  // and any other failure of the function (a 5xx, a reset connection) is tried twice more, instead of
  // failing the execution and with it the task's remaining attempts.
  prepare.addRetry({
    errors: THROTTLING_ERRORS,
    interval: Duration.seconds(1),
    maxAttempts: 8,
    backoffRate: 2,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  });
  prepare.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), maxAttempts: 2, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
  return prepare;
}

/** `Record`: decides the attempt's outcome and whether another attempt follows. */
function recordStep(scope: Construct, engineFunction: lambda.IFunction): tasks.LambdaInvoke {
  const record = new tasks.LambdaInvoke(scope, 'Record', {
    stateName: STATE.record,
    lambdaFunction: engineFunction,
    taskTimeout: lambdaStepTimeout(engineFunction),
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({ action: 'record', state: sfn.JsonPath.entirePayload }),
    // No ResultPath: Record's answer ({ process_id, task_definition_name, recorded }) replaces the state,
    // so the next attempt starts without this attempt's result or error. (An explicit "$" means the
    // same on AWS, but aws-local-stepfunctions 3.0.0 writes it to a key named "$".)
    retryOnServiceExceptions: false,
  });
  record.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 });
  // Record is idempotent (conditional writes only), so a failure of the function itself — a throttled
  // table, a Secrets Manager hiccup — is retried too; a failed Record would leave the task running forever.
  record.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
  return record;
}

/** `RunBatchJob`: submits the prepared job and waits for its end (`.sync`). */
function batchJobStep(scope: Construct): sfn.CustomState {
  return new sfn.CustomState(scope, STATE.runBatchJob, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::batch:submitJob.sync`,
      Parameters: {
        'JobName.$': '$.attempt.batch.JobName',
        'JobQueue.$': '$.attempt.batch.JobQueue',
        'JobDefinition.$': '$.attempt.batch.JobDefinition',
        'ContainerOverrides.$': '$.attempt.batch.ContainerOverrides',
        'Timeout.$': '$.attempt.batch.Timeout',
      },
      // Only what DescribeJobs always answers (Status, JobId are required fields of JobDetail): a
      // missing path is States.Runtime, which no Catch catches and which would fail the execution.
      ResultSelector: { 'Status.$': '$.Status', 'JobId.$': '$.JobId' },
      ResultPath: '$.result',
      // Batch bounds the attempt (AttemptDurationSeconds); this only keeps the interpreter's default away.
      TimeoutSeconds: EXECUTOR_STEP_TIMEOUT_SECONDS,
    },
  });
}

/**
 * `EcsAttempt`: runs the prepared ECS task (`.sync`) against the attempt's deadline.
 *
 * ECS has no attempt timeout of its own, and TimeoutSecondsPath cannot be used portably (AWS reads it
 * from the state input, the local interpreter from the Parameters output). So the task races a
 * deadline in a Parallel state: whichever branch ends first ends the attempt, by failing with a name
 * the Catch sorts out — EcsEnded (the task ended, exit 0) or EcsTimedOut (max_runtime_seconds).
 * Step Functions stops the branch still running; Record also stops the ECS task after a timeout.
 */
function ecsAttemptStep(scope: Construct, ecs: TaskStateMachineProps['ecs']): sfn.Parallel {
  const runEcsTask = new sfn.CustomState(scope, STATE.runEcsTask, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::ecs:runTask.sync`,
      Parameters: {
        Cluster: ecs.cluster.clusterArn,
        LaunchType: 'FARGATE',
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            Subnets: ecs.subnetIds,
            SecurityGroups: [ecs.securityGroup.securityGroupId],
            AssignPublicIp: ecs.assignPublicIp ? 'ENABLED' : 'DISABLED',
          },
        },
        'TaskDefinition.$': '$.attempt.ecs.TaskDefinition',
        'StartedBy.$': '$.attempt.ecs.StartedBy',
        'Overrides.$': '$.attempt.ecs.Overrides',
      },
      // runTask.sync succeeds only when every container exited 0 (a non-zero exit is States.TaskFailed);
      // the branch then ends in EcsEnded, so no output is read (a missing path would be States.Runtime).
      ResultPath: null,
      // The EcsDeadline branch bounds the attempt; this only keeps the interpreter's default away.
      TimeoutSeconds: EXECUTOR_STEP_TIMEOUT_SECONDS,
    },
  });
  const ecsEnded = new sfn.Fail(scope, 'EcsEnded', { stateName: STATE.ecsEnded, error: ECS_ENDED_ERROR, cause: 'the ECS task ended' });
  const ecsDeadline = new sfn.Wait(scope, 'EcsDeadline', {
    stateName: STATE.ecsDeadline,
    time: sfn.WaitTime.secondsPath('$.attempt.timeout_seconds'),
  });
  const ecsTimedOut = new sfn.Fail(scope, 'EcsTimedOut', {
    stateName: STATE.ecsTimedOut,
    error: TIMEOUT_ERROR,
    cause: 'the attempt exceeded max_runtime_seconds',
  });
  return new sfn.Parallel(scope, 'EcsAttempt', { stateName: STATE.ecsAttempt, resultPath: '$.result' })
    .branch(runEcsTask.next(ecsEnded))
    .branch(ecsDeadline.next(ecsTimedOut));
}
