/**
 * A task attempt's container output (stdout/stderr), behind one port: the local mode serves the lines
 * its executor captured (stored as the attempt's log entries with source `stdout`/`stderr`); deployed,
 * `CloudWatchTaskOutput` (lambdas/adapters/cloudwatch-logs.ts) reads the attempt's awslogs stream.
 */
import type { OutputLine, Task, TaskDefinition } from '../domain/models';

/** What a source needs to find an attempt's output. */
export interface OutputRequest {
  task: Task;
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

export interface TaskOutputSource {
  read(request: OutputRequest): Promise<OutputPage>;
}

const OUTPUT_SOURCES = new Set(['stdout', 'stderr']);

/**
 * Output captured by the local executor: the attempt's `stdout`/`stderr` log entries in time order.
 * The position is the number of lines already read (lines are only ever appended).
 */
export const capturedTaskOutput: TaskOutputSource = {
  async read({ task, next, limit }) {
    const all = task.log_entries.filter((e) => OUTPUT_SOURCES.has(e.source));
    const from = next === undefined ? 0 : Math.max(0, Number.parseInt(next, 10) || 0);
    const page = all.slice(from, from + limit);
    return {
      origin: 'captured',
      lines: page.map((e) => ({ when: e.when, stream: e.source as 'stdout' | 'stderr', message: e.message })),
      next: String(from + page.length),
    };
  },
};
