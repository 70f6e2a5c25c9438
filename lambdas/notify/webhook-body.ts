/**
 * What a webhook notification POSTs: a JSON summary of the run that ended (definition, run, outcome,
 * trigger when the run records one, each task with its status and attempts, the console link) and a
 * `text` line, so that a Slack incoming webhook shows a message as it is. No log lines: a channel is a
 * wider audience than the run's operators, and task output may hold anything.
 */
import type { Process } from '../domain/models';
import { summarizeTasks } from './render';

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
  /** Every task of the definition: its last attempt's status and its attempts (0 for a task that never ran). */
  tasks: Array<{ task_definition_name: string; status: string; attempts: number }>;
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
  return {
    text: webhookText(run, runUrl),
    process_definition_name: run.process_definition_name,
    process_id: run.process_id,
    status: run.status,
    ...(run.reason ? { reason: run.reason } : {}),
    start_time: run.start_time,
    ...(run.end_time ? { end_time: run.end_time } : {}),
    ...(trigger === undefined ? {} : { trigger }),
    tasks: [
      ...summarizeTasks(run.task).map((t) => ({ task_definition_name: t.task_definition_name, status: t.status, attempts: t.attempts })),
      ...notRun.map((t) => ({ task_definition_name: t.task_definition_name, status: t.status, attempts: 0 })),
    ],
    ...(runUrl ? { run_url: runUrl } : {}),
  };
}
