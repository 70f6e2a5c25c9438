/**
 * The events of the engine Lambda (lambdas/functions/engine.ts): the `Prepare` and `Record` steps of the
 * task state machine (lib/task-state-machine.ts). `{ action: 'prepare', state }` → {@link PreparedAttempt};
 * `{ action: 'record', state }` → {@link Recorded}; `{ action: 'tick', process_definition_name,
 * scheduled_time, owner }` (the tick state machine) → `{ outcome }`; `{ action: 'reap' }` (the reaper's
 * schedule, lib/reaper.ts) → `{ reaped }`; `{ action: 'fan-out', … }` (a step over a large run's tasks,
 * handed over by a trigger, kill or retry or by the previous step: ./fan-out.ts, run by ./fan-out-steps.ts) → nothing. It also
 * receives, from EventBridge, the status change of a task execution that failed, timed out or was
 * aborted, and abandons its task (so that the run does not wait for a task nothing runs any more).
 * Anything else fails.
 */
import { executionFailure } from '../domain/attempt-failure';
import type { PreparedAttempt, PrepareRequest, PrepareState, Recorded, RecordRequest, TaskExecutionInput } from './contract';
import type { Engine } from './engine';
import type { FanOutEvent } from './fan-out';
import type { FanOutSteps } from './fan-out-steps';
import type { Preparation } from './prepare';
import type { Reaper, ReapedAttempt } from './reaper';
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
    super(`unknown engine action ${JSON.stringify(action)}: expected "prepare", "record", "tick", "reap" or "fan-out"`);
    this.name = 'UnknownActionError';
  }
}

/** EventBridge: a task execution ended other than by its `Done` state (rule in lib/engine.ts). */
export interface ExecutionStatusChange {
  source: 'aws.states';
  'detail-type': 'Step Functions Execution Status Change';
  detail: { name?: string; status: string; input?: string | null; error?: string | null; cause?: string | null };
}

export type EngineEvent = PrepareRequest | RecordRequest | TickRequest | FanOutEvent | ExecutionStatusChange | { action?: unknown };
export type EngineEventResult = PreparedAttempt | Recorded | { outcome: TickOutcome } | { reaped: ReapedAttempt[] } | void;

/** What the engine function answers events with: one of each per cold start. */
export interface EngineEventDeps {
  engine: Engine;
  /** The engine's `Prepare` (prepare.ts `preparationFor`), built beside it: only this function prepares. */
  preparation: Preparation;
  /** The steps of the engine's fan-outs (fan-out-steps.ts `fanOutStepsFor`), built beside it: only this function runs them. */
  steps: FanOutSteps;
  schedules: Schedules;
  reaper: Reaper;
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

/**
 * Time a fan-out step keeps when it hands the rest on: the calls it has under way finish (each within
 * the SDK's retries, lambdas/adapters/retry.ts) and the next step is queued before the function's timeout.
 */
export const FAN_OUT_MARGIN_MS = 10_000;

/** What the handler reads of Lambda's context: how long the invocation has left. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * The engine function's handler. `deps` is called at the first event, not before (a function's
 * configuration errors then fail an invocation, with the variable's name), and again only until it
 * succeeds.
 */
export function engineEventHandler(deps: () => EngineEventDeps): (event: EngineEvent, context?: InvocationContext) => Promise<EngineEventResult> {
  let built: EngineEventDeps | undefined;
  return async (event, context) => {
    const { engine, preparation, steps, schedules, reaper } = (built ??= deps());
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
        return preparation.prepare({ process_id, task_definition_name, ...(claim ? { claim } : {}) });
      }
      case 'record':
        return engine.record(event as RecordRequest);
      case 'reap':
        // The reaper's schedule (lib/reaper.ts): end attempts their executor lost.
        return { reaped: await reaper.reap() };
      case 'fan-out':
        return steps.step(event as FanOutEvent, () => (context ? context.getRemainingTimeInMillis() < FAN_OUT_MARGIN_MS : false));
      case 'tick': {
        const { process_definition_name, scheduled_time, owner } = event as TickRequest;
        return { outcome: await schedules.tick(process_definition_name, scheduled_time, owner) };
      }
      default:
        throw new UnknownActionError(action);
    }
  };
}
