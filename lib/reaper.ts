import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RETENTION_DAYS_ENV } from '../lambdas/functions/environment';

/** Properties of {@link SundialReaper}. */
export interface SundialReaperProps {
  /** The engine function: it runs the reaper on `{action: "reap"}` (lambdas/engine/events.ts). */
  readonly engineFunction: lambda.Function;

  /** ARN of the task state machine, whose running executions the reaper lists. */
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
 * (lambdas/engine/reaper.ts). The function may list the task state machine's executions, nothing more:
 * `states:ListExecutions` is authorized on the state machine's ARN, not on its executions
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html), so the
 * grant names one resource, no wildcard.
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
    iam.Grant.addToPrincipal({ grantee: props.engineFunction, actions: ['states:ListExecutions'], resourceArns: [props.stateMachineArn] });
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
