/**
 * What the engine needs from the outside world, deployed (AWS adapters in lambdas/adapters) or
 * local (local/engine).
 */
import type { TaskDefinition } from '../domain/models';
import type { ScheduleSpec } from '../domain/schedule';
import type { BatchJobRequest, EcsTaskRequest, PrepareState } from './contract';
import type { FanOutEvent } from './fan-out';

/** Starts and stops task executions (Step Functions deployed, the local interpreter locally). */
export interface Orchestrator {
  /** Starts an execution; the same `name` twice starts it once. */
  startTask(name: string, input: PrepareState): Promise<void>;
  /** Stops an execution if it still runs. */
  stopTask(name: string, cause: string): Promise<void>;
}

/** One page of the running task executions: names, and the token of the next page if there is one. */
export interface RunningExecutionsPage {
  names: string[];
  nextToken?: string;
}

/**
 * The task state machine's running executions, a page at a time (the reaper's question): deployed,
 * ListExecutions with `statusFilter` RUNNING (lambdas/adapters/sfn-executions.ts); locally, the same call
 * of the local orchestrator, under the same quota. Eventually consistent: an execution started or ended a
 * moment ago may be missing or still listed.
 */
export type ListRunningExecutions = (nextToken?: string) => Promise<RunningExecutionsPage>;

/**
 * Hands a step of a fan-out over a large run's tasks to the engine function (./fan-out.ts): an
 * asynchronous invocation deployed (lambdas/adapters/lambda-engine.ts), the step in the background locally
 * (local/fan-outs.ts). Answers once the step is queued.
 */
export interface FanOutDispatcher {
  handOff(event: FanOutEvent): Promise<void>;
}

/** The attempt a launcher builds a request for. */
export interface AttemptToLaunch {
  process_id: string;
  process_definition_name: string;
  task_definition: TaskDefinition;
  task_id: string;
  environment: Record<string, string>;
}

/** Turns an attempt into an executor request, and stops what runs. */
export interface Launcher {
  plan(attempt: AttemptToLaunch): Promise<{ executor: 'batch'; batch: BatchJobRequest } | { executor: 'ecs'; ecs: EcsTaskRequest }>;
  /** Stops the attempt's job, task or process, if it runs. */
  stop(attempt: { task_id: string; task_definition: TaskDefinition }, reason: string): Promise<void>;
}

/**
 * Told when a run has ended (succeeded, failed, killed), after its final status is stored. Notifications,
 * schedules (continuous runs, `wait` catch-up runs, backfills) and upstream starts (./upstream.ts) listen.
 * A listener's failure is logged and never changes the run; listeners must be idempotent (a replayed step
 * may tell them twice).
 */
export interface RunListener {
  runEnded(run: { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' }): Promise<void>;
  /**
   * A failed run is about to be reopened by a retry (schedules register it as in progress again). May
   * refuse it (throws, e.g. a ConflictError); answers what undoes it if the retry then fails.
   */
  runRetrying?(run: { process_id: string; process_definition_name: string; start_time: string }): Promise<() => Promise<void>>;
}

/**
 * Fires a definition's ticks (EventBridge Scheduler deployed, an in-process scheduler locally). A tick
 * reaches `Schedules.tick(name, scheduled time)`; what it starts is decided there, not here. Schedules
 * are named after their definition: at most one per definition.
 */
export interface Scheduler {
  /** The shortest interval it can fire (s): 60 for EventBridge (rate() counts minutes), 1 locally. */
  readonly minIntervalSeconds: number;
  /** Creates or replaces the definition's recurring schedule, enabled or disabled (paused). */
  put(definitionName: string, spec: ScheduleSpec, enabled: boolean): Promise<void>;
  /** Arranges one tick at `time` (a continuous definition's next run), replacing the definition's schedule. */
  fireAt(definitionName: string, time: Date): Promise<void>;
  /** Removes the definition's schedule, if it has one. */
  remove(definitionName: string): Promise<void>;
}
