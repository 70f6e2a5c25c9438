import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { executionArn } from '../lambdas/adapters/sfn';
import { RETENTION_DAYS_ENV } from '../lambdas/functions/environment';
import { acknowledgeWildcardResources } from './nag';

/** Properties of {@link SundialReaper}. */
export interface SundialReaperProps {
  /** The engine function: it runs the reaper on `{action: "reap"}` (lambdas/engine/events.ts). */
  readonly engineFunction: lambda.Function;

  /** ARN of the task state machine, whose executions the reaper describes. */
  readonly stateMachineArn: string;

  /**
   * How often the reaper looks for attempts their executor lost.
   *
   * @default Duration.minutes(5)
   */
  readonly every?: Duration;
}

/**
 * The reaper, deployed: an EventBridge schedule invokes the engine function with `{action: "reap"}`
 * every few minutes; it ends attempts whose execution is gone or that ran past their deadline
 * (lambdas/engine/reaper.ts). The function may describe the task state machine's executions, nothing more.
 */
export class SundialReaper extends Construct {
  /** The schedule rule. */
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: SundialReaperProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Sundial: end task attempts their executor lost (the reaper)',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(5)),
      // A missed sweep is made up by the next one: no retry storm.
      targets: [new targets.LambdaFunction(props.engineFunction, { event: events.RuleTargetInput.fromObject({ action: 'reap' }), retryAttempts: 0 })],
    });
    const executions = executionArn(props.stateMachineArn, '*');
    iam.Grant.addToPrincipal({ grantee: props.engineFunction, actions: ['states:DescribeExecution'], resourceArns: [executions] });
    if (props.engineFunction.role) {
      acknowledgeWildcardResources(
        props.engineFunction.role,
        [executions],
        'Reaper: executions of the task state machine are named per run and task at run time; the wildcard is ' +
          'the execution name, within this one state machine, for DescribeExecution only.',
      );
    }
  }
}

/**
 * Retention of run history (lambdas/domain/retention.ts): every function that writes run history sets the same
 * `expires_at` on a finished run's items, DynamoDB TTL deletes them. `0` keeps history for ever.
 */
export function applyRetention(functions: readonly lambda.Function[], days: number): void {
  if (!Number.isFinite(days) || days < 0) throw new Error(`retentionDays must be a number of days >= 0, got ${days}`);
  for (const fn of functions) fn.addEnvironment(RETENTION_DAYS_ENV, String(days));
}
