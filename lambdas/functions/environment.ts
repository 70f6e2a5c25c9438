/**
 * Every environment variable of the deployed functions, by name: lib/ sets them (each construct on the
 * functions it serves), ./wiring.ts reads them. One list, so that the two cannot drift apart.
 */
import { DEFAULT_RETENTION_DAYS } from '../domain/retention';
import { DEPLOYED_PAGERDUTY_URLS, type PagerDutyUrlPolicy, parsePagerDutyHosts } from '../domain/pagerduty-url';

/** The DynamoDB table (lib/store.ts). */
export const TABLE_NAME_ENV = 'TABLE_NAME';

/** The ARN of the task-token signing secret (lib/task-tokens.ts). */
export const TOKEN_SECRET_ARN_ENV = 'TOKEN_SECRET_ARN';

/** Base URL of the Sundial API that tasks call back to; the engine gives it to every attempt (lib/engine.ts). */
export const SUNDIAL_URL_ENV = 'SUNDIAL_URL';

/** Region of the function, set by Lambda itself (the launcher's `awslogs-region`). */
export const AWS_REGION_ENV = 'AWS_REGION';

/** The ARN of the task state machine (lib/engine.ts). */
export const TASK_STATE_MACHINE_ARN_ENV = 'TASK_STATE_MACHINE_ARN';

/** Where and how attempts run (lib/engine.ts, `SundialEngine`): the launcher's, and the task output's, configuration. */
export const LAUNCHER_ENV = {
  batchJobQueueArn: 'BATCH_JOB_QUEUE_ARN',
  batchShellImage: 'BATCH_SHELL_IMAGE',
  batchExecutionRoleArn: 'BATCH_EXECUTION_ROLE_ARN',
  batchLogGroup: 'BATCH_LOG_GROUP',
  batchAssignPublicIp: 'BATCH_ASSIGN_PUBLIC_IP',
  ecsClusterArn: 'ECS_CLUSTER_ARN',
  ecsExecutionRoleArn: 'ECS_EXECUTION_ROLE_ARN',
  ecsLogGroup: 'ECS_LOG_GROUP',
} as const;

/** Of a function that manages schedules (set by `SundialScheduling.grantManageSchedules`, lib/scheduling.ts). */
export const SCHEDULER_ENV = {
  groupName: 'SCHEDULE_GROUP_NAME',
  roleArn: 'SCHEDULER_ROLE_ARN',
  tickStateMachineArn: 'TICK_STATE_MACHINE_ARN',
} as const;

/**
 * On the API function: the engine function, which it hands the fan-outs over a large run's tasks
 * (trigger, kill, retry: lambdas/engine/fan-out.ts) with an asynchronous invocation (lib/engine.ts).
 */
export const ENGINE_FUNCTION_NAME_ENV = 'ENGINE_FUNCTION_NAME';

/** The name of the function itself, set by Lambda: the engine function hands the next step of a fan-out to itself. */
export const LAMBDA_FUNCTION_NAME_ENV = 'AWS_LAMBDA_FUNCTION_NAME';

/** On the functions that end runs (engine, API): the notify function to invoke asynchronously (lib/notifications.ts). */
export const NOTIFY_FUNCTION_NAME_ENV = 'NOTIFY_FUNCTION_NAME';

/** On the notify function: the SES From address. Absent: emails are not deliverable (logged, counted). */
export const NOTIFY_SENDER_ENV = 'NOTIFY_SENDER';

/** On the notify function: the web console's URL (CloudFront), for links to a run. Absent: no console deployed. */
export const NOTIFY_CONSOLE_URL_ENV = 'SUNDIAL_CONSOLE_URL';

/**
 * On the API and notify functions: the hosts a PagerDuty `api_url` may name, comma-separated (PagerDuty's
 * Events API hosts plus the cdk context value `sundial:pagerDutyHosts`). Absent: PagerDuty's hosts only.
 */
export const PAGERDUTY_HOSTS_ENV = 'SUNDIAL_PAGERDUTY_HOSTS';

/**
 * Days run history is kept after a run ended (domain/retention.ts); deployed set by lib/reaper.ts on every
 * function that writes history, locally read by npm start.
 */
export const RETENTION_DAYS_ENV = 'SUNDIAL_RETENTION_DAYS';

/** A variable the function cannot work without: a missing or empty one fails with its name. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`missing environment variable ${name}`);
  return value;
}

/** Days from {@link RETENTION_DAYS_ENV}; a value that is not a non-negative number fails fast with the variable's name. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[RETENTION_DAYS_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isFinite(days) || days < 0) throw new Error(`${RETENTION_DAYS_ENV} must be a number of days (0 = keep for ever), got "${raw}"`);
  return days;
}

/**
 * The PagerDuty URL rule from {@link PAGERDUTY_HOSTS_ENV}. `allowLoopback` is for the local runtime only.
 * A malformed list throws (at cold start), naming the variable.
 */
export function pagerDutyUrlsFromEnv(allowLoopback = false, env: NodeJS.ProcessEnv = process.env): PagerDutyUrlPolicy {
  const value = env[PAGERDUTY_HOSTS_ENV];
  if (value === undefined || value.trim() === '') return { ...DEPLOYED_PAGERDUTY_URLS, allowLoopback };
  try {
    return { hosts: parsePagerDutyHosts(value), allowLoopback };
  } catch (err) {
    throw new Error(`${PAGERDUTY_HOSTS_ENV}: ${(err as Error).message}`);
  }
}
