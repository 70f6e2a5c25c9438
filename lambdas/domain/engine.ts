/**
 * The engine's rules, without I/O: backoff, the outcome of an attempt, a run's final status, and the
 * environment an attempt gets; the rules of the task DAG (dependents, blocking, which tasks start) are
 * in dag.ts. (DESIGN.md "Semantics" and "Tasks calling back".)
 */
import type { EnvironmentVariable, TaskDefinition, TaskExecutable } from './models';

/** State of one task definition within one run. */
export type SlotStatus = 'waiting' | 'running' | 'succeeded' | 'failed' | 'blocked';

/** Seconds to wait before the next attempt, given the attempts made so far (0 → first attempt, no wait). */
export function backoffSeconds(task: Pick<TaskDefinition, 'backoff_base_seconds' | 'backoff_exponent'>, attemptsSoFar: number): number {
  if (attemptsSoFar <= 0) return 0;
  const seconds = task.backoff_base_seconds * task.backoff_exponent ** attemptsSoFar;
  // Step Functions Wait accepts up to 99999999 s; a year is plenty for any backoff.
  return Math.min(Math.round(seconds), 31_536_000);
}

/** What the executor said about an attempt. */
export interface ExecutorResult {
  /** The container or process ended with exit code 0. */
  ok: boolean;
  /** Why it did not (exit code, timeout, launch failure, kill). */
  reason?: string;
}

/** What the task itself reported through `/succeed` or `/fail`, if anything. */
export type Report = 'succeeded' | 'failed' | undefined;

/**
 * The outcome of an attempt: a non-zero exit always fails it; `/fail` fails it; with
 * `require_explicit_success`, exit 0 succeeds only after `/succeed`.
 */
export function attemptOutcome(
  result: ExecutorResult,
  report: Report,
  requireExplicitSuccess: boolean,
): { status: 'succeeded' | 'failed'; reason?: string } {
  if (!result.ok) return { status: 'failed', reason: result.reason ?? 'the attempt failed' };
  if (report === 'failed') return { status: 'failed', reason: 'the task called /fail' };
  if (requireExplicitSuccess && report !== 'succeeded') {
    return { status: 'failed', reason: 'exited 0 without calling /succeed (require_explicit_success)' };
  }
  return { status: 'succeeded' };
}

/** Whether a failed attempt is followed by another. */
export function shouldRetry(attemptsMade: number, maxAttempts: number, runKilled: boolean): boolean {
  return !runKilled && attemptsMade < maxAttempts;
}

/** A finished run: failed if any task failed or was blocked, else succeeded. */
export function finalRunStatus(failedOrBlocked: number): 'succeeded' | 'failed' {
  return failedOrBlocked > 0 ? 'failed' : 'succeeded';
}

export interface CallbackContext {
  url: string;
  taskId: string;
  processId: string;
  token: string;
  previousAttempts: number;
  /** The run's logical time (its trigger's `scheduled_time`, docs/TRIGGERS.md). */
  scheduledTime: string;
}

/**
 * The environment of an attempt: the executable's own variables, then the run's overrides (its
 * parameters, then the trigger's environment_variables: domain/parameters.ts `parameterVariables`),
 * then Sundial's variables, which nothing may override.
 */
export function attemptEnvironment(
  executable: TaskExecutable,
  runOverrides: readonly EnvironmentVariable[],
  callback: CallbackContext,
): Record<string, string> {
  const own =
    executable.shell_script_command?.environment_variables ??
    executable.docker_image_command?.environment_variables ??
    executable.batch_image_command?.environment_variables ??
    [];
  const env: Record<string, string> = {};
  for (const v of [...own, ...runOverrides]) env[v.variable_name] = v.value;
  env.SUNDIAL_URL = callback.url;
  env.SUNDIAL_TASK_ID = callback.taskId;
  env.SUNDIAL_PROCESS_ID = callback.processId;
  env.SUNDIAL_TASK_TOKEN = callback.token;
  env.SUNDIAL_TASK_PREVIOUS_ATTEMPTS = String(callback.previousAttempts);
  env.SUNDIAL_SCHEDULED_TIME = callback.scheduledTime;
  return env;
}

/** Progress of a run, as the agenda seed's progress API answers it. */
export interface Progress {
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  waiting: number;
}

export function progressOf(statuses: readonly SlotStatus[]): Progress {
  const p: Progress = { total: statuses.length, succeeded: 0, failed: 0, running: 0, waiting: 0 };
  for (const s of statuses) {
    if (s === 'succeeded') p.succeeded++;
    else if (s === 'failed' || s === 'blocked') p.failed++;
    else if (s === 'running') p.running++;
    else p.waiting++;
  }
  return p;
}

/** The kind of executor an executable runs on. */
export function executorKind(executable: TaskExecutable): 'shell' | 'docker' | 'batch' {
  if (executable.shell_script_command) return 'shell';
  if (executable.docker_image_command) return 'docker';
  return 'batch';
}
