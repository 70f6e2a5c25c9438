/** The PagerDuty Events API v2 events Sundial sends about a definition's runs. */
import type { Process } from '../domain/models';
import type { PagerDutyEvent } from './ports';

/** One incident per definition: repeated failures update it, the next success resolves it. */
export function dedupKey(processDefinitionName: string): string {
  return `sundial/${processDefinitionName}`;
}

/** Events API v2 limit on `payload.summary`. */
const SUMMARY_MAX = 1024;

/**
 * The bytes of JSON `custom_details.failed_tasks` may take. "Events API payloads are limited to 512 KB" and
 * a 400 is not retried (https://developer.pagerduty.com/docs/events-API-v2/overview/, "Size Limits"): the
 * names of 10,000 failed tasks of 64 characters are 670 KB, so the list stops at half the limit, and
 * `failed_tasks_total` says how many there are.
 */
export const FAILED_TASKS_MAX_BYTES = 256 * 1024;

/** The first of `names` whose JSON array fits {@link FAILED_TASKS_MAX_BYTES}. */
function namesWithin(names: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 2; // []
  for (const name of names) {
    bytes += Buffer.byteLength(JSON.stringify(name)) + (kept.length > 0 ? 1 : 0);
    if (bytes > FAILED_TASKS_MAX_BYTES) break;
    kept.push(name);
  }
  return kept;
}

/**
 * A trigger for the definition's incident, about `run` (failed), the `consecutiveFailures`-th failure in
 * a row; `runUrl` (the run's console page) becomes the incident's link when there is one.
 */
export function triggerEvent(routingKey: string, run: Process, consecutiveFailures: number, runUrl?: string): PagerDutyEvent {
  const failedTasks = [...new Set(run.task.filter((t) => t.status === 'failed').map((t) => t.task_definition_name))];
  const summary =
    `Sundial: ${run.process_definition_name} failed` +
    (consecutiveFailures > 1 ? ` ${consecutiveFailures} times in a row` : '') +
    (failedTasks.length > 0 ? ` (failed tasks: ${failedTasks.join(', ')})` : run.reason ? ` (${run.reason})` : '');
  const listed = namesWithin(failedTasks);
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey(run.process_definition_name),
    payload: {
      summary: summary.length > SUMMARY_MAX ? `${summary.slice(0, SUMMARY_MAX - 1)}…` : summary,
      source: 'sundial',
      severity: 'error',
      ...(run.end_time ? { timestamp: run.end_time } : {}),
      component: run.process_definition_name,
      group: 'sundial',
      class: 'process run failed',
      custom_details: {
        process_id: run.process_id,
        process_definition_name: run.process_definition_name,
        consecutive_failures: consecutiveFailures,
        failed_tasks: listed,
        ...(listed.length < failedTasks.length ? { failed_tasks_total: failedTasks.length } : {}),
        start_time: run.start_time,
        ...(run.end_time ? { end_time: run.end_time } : {}),
        ...(run.reason ? { reason: run.reason } : {}),
      },
    },
    client: 'Sundial',
    ...(runUrl ? { client_url: runUrl, links: [{ href: runUrl, text: `Run ${run.process_id}` }] } : {}),
  };
}

/** Resolves the definition's incident (a no-op for PagerDuty when none is open). */
export function resolveEvent(routingKey: string, processDefinitionName: string): PagerDutyEvent {
  return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey(processDefinitionName) };
}
