/**
 * The engine Lambda: the `Prepare` and `Record` steps of the task state machine (lib/engine.ts).
 * `{ action: 'prepare', state }` → {@link PreparedAttempt};
 * `{ action: 'record', state }` → {@link Recorded}; `{ action: 'tick', process_definition_name,
 * scheduled_time, owner }` (the tick state machine) → `{ outcome }`. It also receives, from EventBridge, the status
 * change of a task execution that failed, timed out or was aborted, and abandons its task (so that
 * the run does not wait for a task nothing runs any more). Anything else fails.
 */
import { secretKeyLoader } from '../adapters/secrets';
import { executionFailure } from '../domain/attempt-failure';
import { TASK_STATE_MACHINE_ARN_ENV } from '../adapters/sfn';
import { sfnExecutionGone } from '../adapters/sfn-executions';
import { createLogger } from '../logger';
import { createDb, Store } from '../store';
import { Reaper, type ReapedAttempt } from './reaper';
import { requireEnv } from '../config';
import { scheduledEngineFromEnv } from '../services';
import type { PreparedAttempt, PrepareRequest, PrepareState, Recorded, RecordRequest, TaskExecutionInput } from './contract';
import type { Engine } from './engine';
import type { Schedules, TickOutcome } from './schedules';

/** A tick of a definition's schedule, from the tick state machine (lib/scheduling.ts). */
export interface TickRequest {
  action: 'tick';
  process_definition_name: string;
  /** `<aws.scheduler.scheduled-time>` of the delivery. */
  scheduled_time: string;
  /** The tick execution's id: its retries carry on one claim, another delivery is a duplicate. */
  owner?: string;
}

/** An event whose `action` the engine Lambda does not know. */
export class UnknownActionError extends Error {
  constructor(action: unknown) {
    super(`unknown engine action ${JSON.stringify(action)}: expected "prepare", "record", "tick" or "reap"`);
    this.name = 'UnknownActionError';
  }
}

/** EventBridge: a task execution ended other than by its `Done` state (rule in lib/engine.ts). */
export interface ExecutionStatusChange {
  source: 'aws.states';
  'detail-type': 'Step Functions Execution Status Change';
  detail: { name?: string; status: string; input?: string | null; error?: string | null; cause?: string | null };
}

function isExecutionStatusChange(event: object): event is ExecutionStatusChange {
  return (
    (event as Partial<ExecutionStatusChange>).source === 'aws.states' &&
    (event as Partial<ExecutionStatusChange>)['detail-type'] === 'Step Functions Execution Status Change'
  );
}

/** Why an execution ended, for the attempt's outcome log entry (no Step Functions error name in it). */
function abandonReason({ status, error, cause }: ExecutionStatusChange['detail']): string {
  return executionFailure(status, error, cause);
}

let engine: Engine | undefined;
let reaperStore: Store | undefined;
let schedules: Schedules | undefined;

export async function handler(
  event: PrepareRequest | RecordRequest | TickRequest | ExecutionStatusChange | { action?: unknown },
): Promise<PreparedAttempt | Recorded | { outcome: TickOutcome } | { reaped: ReapedAttempt[] } | void> {
  if (!engine || !schedules) {
    // The engine function prepares attempts: it needs the callback URL and the token key, so it fails fast without them.
    const sundialUrl = requireEnv('SUNDIAL_URL');
    ({ engine, schedules } = scheduledEngineFromEnv({ callbackUrl: () => sundialUrl, tokenKey: secretKeyLoader(requireEnv('TOKEN_SECRET_ARN')) }));
  }
  if (isExecutionStatusChange(event)) {
    const input = JSON.parse(event.detail.input ?? '{}') as Partial<TaskExecutionInput>;
    if (!input.process_id || !input.task_definition_name) {
      throw new Error(`execution ${event.detail.name ?? '(unnamed)'} has no task execution input: nothing to abandon`);
    }
    return engine.abandon({ process_id: input.process_id, task_definition_name: input.task_definition_name }, abandonReason(event.detail));
  }
  const action = (event as { action?: unknown }).action;
  switch (action) {
    case 'prepare': {
      // `{ action, state }`; executions started before 2026-12 send `{ action, process_id, task_definition_name }`.
      const { process_id, task_definition_name, claim } = (event as Partial<PrepareRequest>).state ?? (event as unknown as PrepareState);
      return engine.prepare({ process_id, task_definition_name, ...(claim ? { claim } : {}) });
    }
    case 'record':
      return engine.record(event as RecordRequest);
    case 'reap': {
      // The reaper's schedule (lib/reaper.ts): end attempts their executor lost.
      const reaper = new Reaper({
        store: (reaperStore ??= new Store(createDb(requireEnv('TABLE_NAME')))),
        engine,
        now: () => new Date(),
        logger: createLogger(),
        executionGone: sfnExecutionGone(requireEnv(TASK_STATE_MACHINE_ARN_ENV)),
      });
      return { reaped: await reaper.reap() };
    }
    case 'tick': {
      const { process_definition_name, scheduled_time, owner } = event as TickRequest;
      return { outcome: await schedules.tick(process_definition_name, scheduled_time, owner) };
    }
    default:
      throw new UnknownActionError(action);
  }
}
