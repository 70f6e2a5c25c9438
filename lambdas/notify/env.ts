/** Environment variables of notifications, set by lib/notifications.ts, and the values read from them. */
import { DEPLOYED_PAGERDUTY_URLS, type PagerDutyUrlPolicy, parsePagerDutyHosts } from './pagerduty-url';

/** On the functions that end runs (engine, API): the notify function to invoke asynchronously. */
export const NOTIFY_FUNCTION_NAME_ENV = 'NOTIFY_FUNCTION_NAME';

/** On the notify function: the SES From address. Absent: emails are not deliverable (logged, counted). */
export const NOTIFY_SENDER_ENV = 'NOTIFY_SENDER';

/** On the notify function: the web console's URL (CloudFront), for links to a run. Absent: no console deployed. */
export const NOTIFY_CONSOLE_URL_ENV = 'SUNDIAL_CONSOLE_URL';

/**
 * On the API and notify functions: the hosts a PagerDuty `api_url` may name, comma-separated (PagerDuty's
 * Events API hosts plus the cdk context value `sundial:pagerDutyHosts`). Absent: PagerDuty's hosts only.
 */
export const PAGERDUTY_HOSTS_ENV = 'SUNDIAL_PAGERDUTY_HOSTS';

/**
 * The PagerDuty URL rule from {@link PAGERDUTY_HOSTS_ENV}. `allowLoopback` is for the local runtime only.
 * A malformed list throws (at cold start), naming the variable.
 */
export function pagerDutyUrlsFromEnv(allowLoopback = false, env: NodeJS.ProcessEnv = process.env): PagerDutyUrlPolicy {
  const value = env[PAGERDUTY_HOSTS_ENV];
  if (value === undefined || value.trim() === '') return { ...DEPLOYED_PAGERDUTY_URLS, allowLoopback };
  try {
    return { hosts: parsePagerDutyHosts(value), allowLoopback };
  } catch (err) {
    throw new Error(`${PAGERDUTY_HOSTS_ENV}: ${(err as Error).message}`);
  }
}

/** The web console's page of a run (its hash route `#/run/<id>`, web/app.ts). */
export function consoleRunLink(consoleUrl: string, processId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#/run/${encodeURIComponent(processId)}`;
}
