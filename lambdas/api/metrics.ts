/** Prometheus text exposition of the counters the store keeps. */
import { PROCESS_STATUSES, TASK_STATUSES } from '../domain/models';
import type { Counter, NotificationChannel } from '../store/stats';

const NOTIFICATION_CHANNELS: readonly NotificationChannel[] = ['email', 'pagerduty', 'webhook'];

export function renderMetrics(counters: Partial<Record<Counter, number>>): string {
  const n = (c: Counter) => Math.max(0, counters[c] ?? 0);
  const lines = [
    '# HELP sundial_process_definitions Registered process definitions.',
    '# TYPE sundial_process_definitions gauge',
    `sundial_process_definitions ${n('definitions')}`,
    '# HELP sundial_processes Runs by status.',
    '# TYPE sundial_processes gauge',
    ...PROCESS_STATUSES.map((st) => `sundial_processes{status="${st}"} ${n(`runs_${st}`)}`),
    '# HELP sundial_tasks Task attempts by status.',
    '# TYPE sundial_tasks gauge',
    ...TASK_STATUSES.map((st) => `sundial_tasks{status="${st}"} ${n(`tasks_${st}`)}`),
    '# HELP sundial_notifications_sent Notifications delivered (emails, PagerDuty events, webhooks).',
    '# TYPE sundial_notifications_sent counter',
    ...NOTIFICATION_CHANNELS.map((c) => `sundial_notifications_sent{channel="${c}"} ${n(`notifications_sent_${c}`)}`),
    '# HELP sundial_notifications_failed Notifications that could not be delivered after their retries (they never change a run).',
    '# TYPE sundial_notifications_failed counter',
    ...NOTIFICATION_CHANNELS.map((c) => `sundial_notifications_failed{channel="${c}"} ${n(`notifications_failed_${c}`)}`),
  ];
  return `${lines.join('\n')}\n`;
}
