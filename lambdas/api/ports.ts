/**
 * What the operator routes need from the outside world: the callback routes' services (they are served
 * beside them, and the OpenAPI document lists both) plus the engine, the schedules, the definitions and
 * where task output is read. Built once per cold start from the environment deployed
 * (lambdas/functions/wiring.ts), by the local runtime (local/server.ts), or by tests.
 */
import type { CallbackServices } from '../callbacks/ports';
import type { OutputLine, TaskDefinition } from '../domain/models';
import type { Definitions } from '../engine/definitions';
import type { Engine } from '../engine/engine';
import type { Schedules } from '../engine/schedules';
import type { TaskRecord } from '../store/runs';

export interface Services extends CallbackServices {
  engine: Engine;
  /** Schedules of definitions: sync on PUT/DELETE, pause, resume, ticks, stats. */
  schedules: Schedules;
  /** Process definitions: PUT (every rule, then store and schedule), GET, list, DELETE, pause, resume. */
  definitions: Definitions;
  /** Where a task attempt's container output is read: CloudWatch Logs deployed; absent = captured output (local). */
  taskOutput?: TaskOutputSource;
}

/**
 * A task attempt's container output (stdout/stderr): deployed, `CloudWatchTaskOutput`
 * (lambdas/adapters/cloudwatch-logs.ts) reads the attempt's awslogs stream; locally the lines its
 * executor captured are served (./output.ts).
 */
export interface TaskOutputSource {
  read(request: OutputRequest): Promise<OutputPage>;
}

/** What a source needs to find an attempt's output. */
export interface OutputRequest {
  /** The attempt (its entries are not read: a source reads only the page it answers). */
  task: TaskRecord;
  /** The task's definition in its run, when the engine's slot still has it. */
  definition?: TaskDefinition;
  /** Opaque position returned by the previous read. */
  next?: string;
  limit: number;
}

export interface OutputPage {
  origin: 'captured' | 'cloudwatch' | 'none';
  lines: OutputLine[];
  next?: string;
  note?: string;
}
