/** Environment variables of notifications, set by lib/notifications.ts. */

/** On the functions that end runs (engine, API): the notify function to invoke asynchronously. */
export const NOTIFY_FUNCTION_NAME_ENV = 'NOTIFY_FUNCTION_NAME';

/** On the notify function: the SES From address. Absent: emails are not deliverable (logged, counted). */
export const NOTIFY_SENDER_ENV = 'NOTIFY_SENDER';

/** On the notify function: the API base URL, for the link to a run. */
export const NOTIFY_PUBLIC_URL_ENV = 'SUNDIAL_URL';

/** Link to a run: its `GET /api/processes/{id}`. */
export function runLink(baseUrl: string, processId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/processes/${processId}`;
}
