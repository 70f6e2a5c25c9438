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
 * A trigger for the definition's incident, about `run` (failed), the `consecutiveFailures`-th failure in
 * a row; `runUrl` (the run's console page) becomes the incident's link when there is one.
 */
export function triggerEvent(routingKey: string, run: Process, consecutiveFailures: number, runUrl?: string): PagerDutyEvent {
  const failedTasks = [...new Set(run.task.filter((t) => t.status === 'failed').map((t) => t.task_definition_name))];
  const summary =
    `Sundial: ${run.process_definition_name} failed` +
    (consecutiveFailures > 1 ? ` ${consecutiveFailures} times in a row` : '') +
    (failedTasks.length > 0 ? ` (failed tasks: ${failedTasks.join(', ')})` : run.reason ? ` (${run.reason})` : '');
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
        failed_tasks: failedTasks,
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
