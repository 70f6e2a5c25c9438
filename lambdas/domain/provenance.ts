/**
 * Provenance of a run (issue #16 item 2; docs/TRIGGERS.md): who or what started it, when, and the logical
 * time it stands for. Pure: the trigger route names the caller (lambdas/http/caller.ts), the scheduler its
 * schedule, the engine writes the result on the run item and reads it back through {@link runTrigger}.
 */
import type { EnvironmentVariable, RunTrigger, TriggerKind } from './models';

/** `by` of a call to the local mode (no authorizer), and of in-process callers that name nobody. */
export const LOCAL_CALLER = 'local';

/** `by` where nobody was recorded: a run, or a queued trigger, stored before provenance was. */
export const UNKNOWN_CALLER = 'unknown';

/** `by` of a run a definition's schedule started. */
export const scheduleCaller = (definitionName: string) => `schedule:${definitionName}`;

/** What a caller of the engine says about a run it starts; `at` defaults to the run's start, `scheduled_time` to `at`. */
export interface TriggerRequest {
  kind: Exclude<TriggerKind, 'retry'>;
  by: string;
  at?: string;
  scheduled_time?: string;
  upstream_process_id?: string;
}

/** The trigger a run is written with: `at` and `scheduled_time` filled in from the run's start. */
export function triggerOf(request: TriggerRequest, startTime: string): RunTrigger {
  const at = request.at ?? startTime;
  return {
    kind: request.kind,
    by: request.by,
    at,
    scheduled_time: request.scheduled_time ?? at,
    ...(request.upstream_process_id === undefined ? {} : { upstream_process_id: request.upstream_process_id }),
  };
}

/**
 * The trigger of a run after a retry: `by` and `at` of the retry, the same logical time, and the trigger
 * that started the run in `previous` (after several retries, still the one that started it: the last
 * retry and the origin are what a reader asks about, and the answer stays one level deep).
 */
export function retriedTrigger(current: RunTrigger, by: string, at: string): RunTrigger {
  const { previous, ...facts } = current;
  return { kind: 'retry', by, at, scheduled_time: current.scheduled_time, previous: current.kind === 'retry' && previous ? previous : facts };
}

/** What a run item holds that tells how it started. */
export interface StoredRunFacts {
  process_id: string;
  process_definition_name: string;
  start_time: string;
  trigger?: RunTrigger;
  environment_variables?: readonly EnvironmentVariable[];
  only_task?: string;
}

/**
 * The trigger of a run: as written, or, for a run stored before provenance was recorded, derived from
 * what its item holds (`derived: true`): a tick's run has a name-based id (version 5, engine.ts
 * `stableUuid`) and is a `schedule` run; any other is `manual` by `unknown` (a deferred tick's catch-up
 * cannot be told apart from it). Both take the run's start as `at` and `scheduled_time`.
 */
export function runTrigger(run: StoredRunFacts): RunTrigger {
  if (run.trigger) return run.trigger;
  const tick = run.process_id[14] === '5' && !run.only_task && (run.environment_variables ?? []).length === 0;
  return {
    kind: tick ? 'schedule' : 'manual',
    by: tick ? scheduleCaller(run.process_definition_name) : UNKNOWN_CALLER,
    at: run.start_time,
    scheduled_time: run.start_time,
    derived: true,
  };
}
