/**
 * What the engine needs from the outside world, deployed (AWS adapters in lambdas/adapters) or
 * local (local/engine).
 */
import type { TaskDefinition } from '../domain/models';
import type { BatchJobRequest, EcsTaskRequest, TaskExecutionInput } from './contract';

/** Starts and stops task executions (Step Functions deployed, the local interpreter locally). */
export interface Orchestrator {
  /** Starts an execution; the same `name` twice starts it once. */
  startTask(name: string, input: TaskExecutionInput): Promise<void>;
  /** Stops an execution if it still runs. */
  stopTask(name: string, cause: string): Promise<void>;
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
 * Told when a run has ended (succeeded, failed, killed), after its final status is stored. Notifications
 * and schedules (continuous runs, `wait` catch-up runs) listen. A listener's failure is logged and never
 * changes the run; listeners must be idempotent (a replayed step may tell them twice).
 */
export interface RunListener {
  runEnded(run: { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' }): Promise<void>;
}
