/**
 * What a webhook notification POSTs: a JSON summary of the run that ended (definition, run, outcome,
 * trigger when the run records one, its tasks with their status and attempts, the console link) and a
 * `text` line, so that a Slack incoming webhook shows a message as it is. No log lines: a channel is a
 * wider audience than the run's operators, and task output may hold anything.
 */
import type { Process } from '../domain/models';
import { summarizeTasks, tasksToTell } from './render';

/**
 * Tasks one body lists at most, as an email lists them (render.ts `tasksToTell`: those that did not succeed
 * first; the rest counted in `tasks_omitted`, and on the run's page). A task's entry is at most ~130 bytes
 * (a name of 64 characters), so a body stays under about 135 KB however large the run: every task of a run
 * of 10,000 would be ~1.3 MB, which every receiver reads and a chat channel shows nothing of.
 */
export const WEBHOOK_TASKS_MAX = 1000;

/** The body of a webhook notification. */
export interface WebhookSummary {
  /** One line, like an email's subject, with the link: what chat webhooks show. */
  text: string;
  process_definition_name: string;
  process_id: string;
  status: Process['status'];
  /** Why the run ended as it did (e.g. killed), when not obvious. */
  reason?: string;
  start_time: string;
  end_time?: string;
  /** What started the run, as the run answers it (when runs record it). */
  trigger?: unknown;
  /**
   * The run's tasks, each with its last attempt's status and its attempts (0 for a task that never ran):
   * every task of the definition, or past {@link WEBHOOK_TASKS_MAX} that many, those that did not succeed first.
   */
  tasks: Array<{ task_definition_name: string; status: string; attempts: number }>;
  /** How many tasks `tasks` leaves out (present only when some are): the run's page lists them all. */
  tasks_omitted?: number;
  /** The run's page in the web console; absent when no console is deployed. */
  run_url?: string;
}

/** `Sundial: <definition> run <id> <outcome>`, and the link when there is one. */
export function webhookText(run: Pick<Process, 'process_definition_name' | 'process_id' | 'status'>, runUrl?: string): string {
  return `Sundial: ${run.process_definition_name} run ${run.process_id} ${run.status}${runUrl ? ` ${runUrl}` : ''}`;
}

/** The summary of `run`; `notRun` are the tasks that never got an attempt (blocked, or not started when it was killed). */
export function webhookSummary(
  run: Process,
  notRun: ReadonlyArray<{ task_definition_name: string; status: string }>,
  runUrl?: string,
): WebhookSummary {
  // What started the run (issue #16's provenance), read loosely: a run stored before runs recorded it has none.
  const { trigger } = run as Process & { trigger?: unknown };
  const { shown, omitted } = tasksToTell(
    [
      ...summarizeTasks(run.task).map((t) => ({ task_definition_name: t.task_definition_name, status: t.status, attempts: t.attempts })),
      ...notRun.map((t) => ({ task_definition_name: t.task_definition_name, status: t.status, attempts: 0 })),
    ],
    WEBHOOK_TASKS_MAX,
  );
  return {
    text: webhookText(run, runUrl),
    process_definition_name: run.process_definition_name,
    process_id: run.process_id,
    status: run.status,
    ...(run.reason ? { reason: run.reason } : {}),
    start_time: run.start_time,
    ...(run.end_time ? { end_time: run.end_time } : {}),
    ...(trigger === undefined ? {} : { trigger }),
    tasks: shown,
    ...(omitted > 0 ? { tasks_omitted: omitted } : {}),
    ...(runUrl ? { run_url: runUrl } : {}),
  };
}
