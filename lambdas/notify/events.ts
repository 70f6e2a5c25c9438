/**
 * The event of the notify Lambda (lambdas/functions/notify.ts): `{process_id, process_definition_name,
 * status}`, sent asynchronously when a run ends (lambdas/adapters/lambda-notify.ts). The notifier decides
 * and delivers the run's notifications. A delivery that fails after its retries is logged and counted,
 * not thrown; only a failure to read the store throws, so that Lambda retries the event (twice) and then
 * parks it in the dead-letter queue (so does an event that is not a run that ended).
 */
import type { Notifier, NotifyReport, RunEnded } from './notifier';

/** An event that is not a run that ended (it ends in the dead-letter queue, for a human to look at). */
export class InvalidNotifyEventError extends Error {
  constructor(event: unknown) {
    super(`invalid notify event: expected {process_id, process_definition_name, status}, got ${JSON.stringify(event)?.slice(0, 500)}`);
    this.name = 'InvalidNotifyEventError';
  }
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

/** The notify function's handler; `notifier` is called at the first valid event, not before. */
export function notifyEventHandler(notifier: () => Notifier): (event: unknown) => Promise<NotifyReport> {
  let built: Notifier | undefined;
  return async (event) => {
    if (!isRunEnded(event)) throw new InvalidNotifyEventError(event);
    return (built ??= notifier()).notify(event);
  };
}
