/**
 * The notify Lambda: invoked asynchronously with `{process_id, process_definition_name, status}` when a
 * run ends (lambdas/notify/dispatch.ts). Decides and delivers the run's notifications. A delivery that
 * fails after its retries is logged and counted, not thrown; only a failure to read the store throws,
 * so that Lambda retries the event (twice) and then parks it in the dead-letter queue (so does an event
 * that is not a run that ended).
 */
import { PagerDutyEventsClient } from '../adapters/pagerduty';
import { SesEmailSender } from '../adapters/ses';
import { requireEnv } from '../config';
import { createLogger } from '../logger';
import { createDb, Store } from '../store';
import { consoleRunLink, NOTIFY_CONSOLE_URL_ENV, NOTIFY_SENDER_ENV, pagerDutyUrlsFromEnv } from './env';
import { Notifier, type NotifyReport, type RunEnded } from './notifier';

/** An event that is not a run that ended (it ends in the dead-letter queue, for a human to look at). */
export class InvalidNotifyEventError extends Error {
  constructor(event: unknown) {
    super(`invalid notify event: expected {process_id, process_definition_name, status}, got ${JSON.stringify(event)?.slice(0, 500)}`);
    this.name = 'InvalidNotifyEventError';
  }
}

/**
 * A notifier from the environment: `TABLE_NAME`; `NOTIFY_SENDER` if emails may go out;
 * `SUNDIAL_CONSOLE_URL` if a console is deployed (links to runs); `SUNDIAL_PAGERDUTY_HOSTS` if an
 * operator allowed more PagerDuty hosts.
 */
export function notifierFromEnv(): Notifier {
  const logger = createLogger();
  const consoleUrl = process.env[NOTIFY_CONSOLE_URL_ENV];
  const from = process.env[NOTIFY_SENDER_ENV];
  if (!from) logger.warn(`${NOTIFY_SENDER_ENV} is not set: email notifications will not be delivered`);
  return new Notifier({
    store: new Store(createDb(requireEnv('TABLE_NAME'))),
    ...(from ? { email: { sender: new SesEmailSender(), from } } : {}),
    pagerduty: new PagerDutyEventsClient({ urls: pagerDutyUrlsFromEnv() }),
    ...(consoleUrl ? { runUrl: (id: string) => consoleRunLink(consoleUrl, id) } : {}),
    logger,
  });
}

function isRunEnded(event: unknown): event is RunEnded {
  const e = event as Partial<RunEnded> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.process_id === 'string' &&
    typeof e.process_definition_name === 'string' &&
    (e.status === 'succeeded' || e.status === 'failed')
  );
}

let notifier: Notifier | undefined;

export async function handler(event: unknown): Promise<NotifyReport> {
  if (!isRunEnded(event)) throw new InvalidNotifyEventError(event);
  notifier ??= notifierFromEnv();
  return notifier.notify(event);
}
