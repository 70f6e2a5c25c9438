/**
 * Why an attempt failed, in words a user reads: from what the executor step of the task state machine
 * handed `Record` — the `.sync` step's result, or the `{Error, Cause}` its Catch recorded — to
 * `exited with code 3`, `exceeded max_runtime_seconds (600 s)`, `stopped: …`, `could not pull image …`.
 * No Step Functions error name (`States.*`, `Sundial.*`) is ever part of a reason.
 *
 * What arrives, deployed and locally alike (the local executor produces the same shapes; the fixtures in
 * test/fixtures/aws/ are written from AWS's documentation and shared by both sides' tests):
 * - Batch `submitJob.sync` failing: `States.TaskFailed`, `Cause` the `DescribeJobs` job (JobDetail, in
 *   PascalCase) as JSON — https://docs.aws.amazon.com/step-functions/latest/dg/connect-batch.html,
 *   https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDetail.html
 * - ECS `runTask.sync` failing: `States.TaskFailed`, `Cause` the `DescribeTasks` task (Task, in PascalCase)
 *   as JSON — https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html,
 *   https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
 * - The deadline of an ECS attempt (the `EcsTimedOut` Fail state) or a Task state's own timeout:
 *   {@link TIMEOUT_ERROR} or `States.Timeout`.
 * - A request the service refused before any job or task existed: `ECS.InvalidParameterException` (overrides
 *   over 8,192 characters) or `Batch.ClientException` (a job over 30 KiB), `Cause` the service's message
 *   (lambdas/domain/aws-limits.ts; test/fixtures/aws/*-too-large.json).
 */
import type { ExecutorResult } from './engine';

/** Error of the `EcsEnded` Fail state: the ECS task ended (exit 0); caught into `$.result`. */
export const ECS_ENDED_ERROR = 'Sundial.AttemptEnded';

/** Error of the `EcsTimedOut` Fail state: the attempt overran `max_runtime_seconds` (ECS has no timeout of its own). */
export const TIMEOUT_ERROR = 'Sundial.Timeout';

/** `StatusReason` of a Batch job that AWS Batch ended at `AttemptDurationSeconds` (https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html). */
export const BATCH_TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

/** `StatusReason` / `StoppedReason` of a job or task whose essential container exited by itself. */
export const ESSENTIAL_CONTAINER_EXITED = 'Essential container in task exited';

/** What the executor step left in the state for `Record`. */
export interface AttemptEnd {
  /** The executor's result when the step succeeded: Batch's `{Status, JobId}`, or ECS's caught `{Error: ECS_ENDED_ERROR}`. */
  result?: { Status?: string; StatusReason?: string; ExitCode?: number | null; StoppedReason?: string; Error?: string };
  /** Set by the Catch: `{ Error, Cause }`. */
  error?: { Error?: string; Cause?: string };
  /** The attempt's bound (`max_runtime_seconds`, or the default), for the timeout reason. */
  timeoutSeconds: number;
}

/** Whether the attempt ended because a deadline of the state machine passed (not because the job or task ended). */
export function isDeadline(error: AttemptEnd['error']): boolean {
  return error?.Error === TIMEOUT_ERROR || error?.Error === 'States.Timeout';
}

/** The readable outcome of an attempt's executor step: ok, or failed with a reason. */
export function attemptFailure(end: AttemptEnd): ExecutorResult {
  const overran = `exceeded max_runtime_seconds (${end.timeoutSeconds} s)`;
  const { error, result } = end;
  if (error) {
    if (isDeadline(error)) return { ok: false, reason: overran };
    const described = parseJson(error.Cause);
    if (described) {
      const reason = describedFailure(described, overran);
      if (reason) return { ok: false, reason };
    }
    return { ok: false, reason: plainFailure(error) };
  }
  if (result?.Error !== undefined) return { ok: true }; // ECS: the task ended with every container at exit 0
  const exitCode = result?.ExitCode;
  if (exitCode !== undefined && exitCode !== null && exitCode !== 0) return { ok: false, reason: exited(exitCode) };
  if (result?.Status !== undefined && result.Status !== 'SUCCEEDED') {
    return { ok: false, reason: `the job ended ${result.Status}${result.StatusReason ? `: ${result.StatusReason}` : ''}` };
  }
  return { ok: true };
}

/**
 * Why a task execution ended without recording its attempt (the abandon rule, the local orchestrator):
 * the execution's error and cause, without a Step Functions error name.
 */
export function executionFailure(status: string, error?: string | null, cause?: string | null): string {
  const what = `the task execution ${status.toLowerCase().replace('_', ' ')}`;
  const why = plainFailure({ Error: error ?? undefined, Cause: cause ?? undefined });
  return why === 'the attempt failed' ? what : `${what}: ${why}`;
}

/**
 * Signals a container's process dies of, by the exit code a container then reports (128 + the signal's
 * number, as Docker, ECS and Batch report it).
 */
const SIGNAL_EXIT_CODES: Record<number, string> = { 129: 'SIGHUP', 130: 'SIGINT', 131: 'SIGQUIT', 134: 'SIGABRT', 137: 'SIGKILL', 139: 'SIGSEGV', 143: 'SIGTERM' };

/** `exited with code 137 (killed by signal SIGKILL)`, `exited with code 3`. */
function exited(code: number): string {
  const signal = SIGNAL_EXIT_CODES[code];
  return `exited with code ${code}${signal ? ` (killed by signal ${signal})` : ''}`;
}

type Json = Record<string, unknown>;

/** Characters of a plain-text cause kept in a reason. */
const MAX_CAUSE = 1000;

function parseJson(text: string | undefined): Json | undefined {
  if (!text || !text.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** A Batch JobDetail or an ECS Task, as the `Cause` of `States.TaskFailed`. */
function describedFailure(d: Json, overran: string): string | undefined {
  if ('JobId' in d || 'JobQueue' in d) return batchJobFailure(d, overran);
  if ('TaskArn' in d || 'Containers' in d || 'StopCode' in d) return ecsTaskFailure(d);
  return undefined;
}

/** https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDetail.html; the last attempt is the one that ended. */
function batchJobFailure(job: Json, overran: string): string {
  const attempts = Array.isArray(job.Attempts) ? (job.Attempts as unknown[]).map(obj) : [];
  const last = attempts.at(-1);
  const container = obj(job.Container) ?? obj(last?.Container);
  const statusReason = str(job.StatusReason) ?? str(last?.StatusReason);
  const containerReason = str(container?.Reason) ?? str(obj(last?.Container)?.Reason);
  const exitCode = int(container?.ExitCode) ?? int(obj(last?.Container)?.ExitCode);
  if (statusReason === BATCH_TIMEOUT_REASON) return overran;
  const refused = requestTooLarge(statusReason);
  if (refused) return refused;
  const image = str(container?.Image);
  const startFailure = containerFailure(containerReason, image);
  if (startFailure) return startFailure;
  if (exitCode !== undefined && exitCode !== 0 && (statusReason === undefined || statusReason === ESSENTIAL_CONTAINER_EXITED)) {
    return exited(exitCode);
  }
  // Anything else ended the job: TerminateJob or CancelJob (their reason), a queue that cancelled it, …
  if (statusReason && statusReason !== ESSENTIAL_CONTAINER_EXITED) return `stopped: ${statusReason}`;
  if (exitCode !== undefined && exitCode !== 0) return exited(exitCode);
  return `the job ended ${str(job.Status) ?? 'FAILED'}${containerReason ? `: ${containerReason}` : ''}`;
}

/**
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html; stop codes and reasons:
 * https://docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html
 */
function ecsTaskFailure(task: Json): string {
  const containers = Array.isArray(task.Containers) ? (task.Containers as unknown[]).map(obj) : [];
  const stoppedReason = str(task.StoppedReason);
  for (const c of containers) {
    const startFailure = containerFailure(str(c?.Reason), str(c?.Image));
    if (startFailure) return startFailure;
  }
  const startFailure = containerFailure(stoppedReason, undefined);
  if (startFailure) return startFailure;
  if (task.StopCode === 'UserInitiated' || task.StopCode === 'ServiceSchedulerInitiated' || task.StopCode === 'SpotInterruption') {
    return `stopped: ${stoppedReason ?? String(task.StopCode)}`;
  }
  const failed = containers.find((c) => int(c?.ExitCode) !== undefined && c?.ExitCode !== 0);
  if (failed) return exited(failed.ExitCode as number);
  if (stoppedReason && stoppedReason !== ESSENTIAL_CONTAINER_EXITED) return `stopped: ${stoppedReason}`;
  return `the task stopped${task.StopCode ? ` (${String(task.StopCode)})` : ''}`;
}

/** A container that never ran: an image that cannot be pulled, a container that cannot be started. */
function containerFailure(reason: string | undefined, image: string | undefined): string | undefined {
  if (!reason) return undefined;
  const pull = /^CannotPullContainerError:\s*(.*)$/s.exec(reason);
  if (pull) return `could not pull image${image ? ` ${image}` : ''}: ${pull[1]}`;
  const start = /^(CannotStartContainerError|ResourceInitializationError|CannotCreateVolumeError|ContainerRuntimeError|OutOfMemoryError):\s*(.*)$/s.exec(reason);
  if (start) return `could not start the container: ${start[2]}`;
  return undefined;
}

const count = (n: string) => Number(n).toLocaleString('en-US');

/**
 * A request over an ECS or Batch limit (lambdas/domain/aws-limits.ts), from the service's message: RunTask's
 * (also a Batch job's StatusReason on Fargate, where Batch runs the job through RunTask) or SubmitJob's.
 */
function requestTooLarge(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const overrides = /Container Overrides length must be at most (\d+)/.exec(message);
  if (overrides) return `the container overrides (command and environment) exceed ECS's ${count(overrides[1]!)} characters`;
  const job = /Job size must be less than (\d+) KiB, got (\d+) KiB/.exec(message);
  if (job) return `the Batch job (command and environment) exceeds Batch's ${count(job[1]!)} KiB (${count(job[2]!)} KiB)`;
  return undefined;
}

/** An error whose cause is text: the cause alone when the name is Step Functions' own, else `name: cause`. */
function plainFailure(error: { Error?: string; Cause?: string }): string {
  const name = error.Error;
  const refused = requestTooLarge(error.Cause);
  if (refused) return refused;
  const full = error.Cause?.trim();
  // A cause can be a whole service answer: enough of it to tell what failed.
  const cause = full && full.length > MAX_CAUSE ? `${full.slice(0, MAX_CAUSE - 1)}…` : full;
  const ownName = !name || name.startsWith('States.') || name.startsWith('Sundial.');
  if (name === 'States.Permissions') return `Step Functions was not allowed to run the attempt${cause ? `: ${cause}` : ''}`;
  if (ownName) return cause || 'the attempt failed';
  // A service's own error (Batch.ClientException, Lambda.Unknown, …): its name tells what failed.
  return cause ? `${name}: ${cause}` : name;
}
