/**
 * Every route of the HTTP API, once, as data: method, path, the function that serves it deployed, who
 * may call it, and its summary. The handlers take their routes from it by name (lambdas/api/routes.ts,
 * lambdas/callbacks/routes.ts), the CDK app declares API Gateway's routes from it (lib/api.ts), and
 * test/lib/routes.test.ts checks that the routes deployed are the routes the handlers serve. Pure
 * data without imports, so that the CDK app reads it without loading any handler code.
 */

/**
 * `operator`: IAM (SigV4) at API Gateway deployed, open on loopback locally.
 * `task`: a task's bearer token, checked by the handler (the callback routes).
 * `public`: no authentication (metrics only).
 */
export type Auth = 'operator' | 'task' | 'public';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** The Lambda function that serves a route deployed: `api` (operators, metrics) or `callbacks` (tasks). */
export type RouteFunction = 'api' | 'callbacks';

export interface RouteEntry {
  readonly method: Method;
  /** API Gateway style: `/api/processes/{process_id}`. */
  readonly path: string;
  readonly fn: RouteFunction;
  readonly auth: Auth;
  readonly summary: string;
}

export const ROUTES = {
  // process definitions
  listDefinitions: { method: 'GET', path: '/api/process_definitions', fn: 'api', auth: 'operator', summary: 'List all process definitions' },
  getDefinition: { method: 'GET', path: '/api/process_definitions/{process_definition_name}', fn: 'api', auth: 'operator', summary: 'Get a process definition' },
  putDefinition: { method: 'PUT', path: '/api/process_definitions/{process_definition_name}', fn: 'api', auth: 'operator', summary: 'Create or replace a process definition' },
  deleteDefinition: { method: 'DELETE', path: '/api/process_definitions/{process_definition_name}', fn: 'api', auth: 'operator', summary: 'Delete a process definition (its runs are kept)' },
  pauseDefinition: { method: 'POST', path: '/api/process_definitions/{process_definition_name}/pause', fn: 'api', auth: 'operator', summary: 'Pause the schedule (manual triggers still run)' },
  resumeDefinition: { method: 'POST', path: '/api/process_definitions/{process_definition_name}/resume', fn: 'api', auth: 'operator', summary: 'Resume the schedule' },
  triggerDefinition: { method: 'POST', path: '/api/process_definitions/{process_definition_name}/trigger', fn: 'api', auth: 'operator', summary: 'Start a run now (201 with the run)' },
  backfillDefinition: { method: 'POST', path: '/api/process_definitions/{process_definition_name}/backfill', fn: 'api', auth: 'operator', summary: 'Queue one run per cron occurrence in a window, run one after another (201 with the occurrences)' },
  getBackfill: { method: 'GET', path: '/api/process_definitions/{process_definition_name}/backfill', fn: 'api', auth: 'operator', summary: "The definition's backfill: each occurrence started, waiting or cancelled" },
  cancelBackfill: { method: 'DELETE', path: '/api/process_definitions/{process_definition_name}/backfill', fn: 'api', auth: 'operator', summary: 'Cancel the occurrences of the backfill not started yet (started runs go on): 200 with the backfill' },
  // runs
  listProcesses: { method: 'GET', path: '/api/processes', fn: 'api', auth: 'operator', summary: 'List runs, newest first' },
  getProcess: { method: 'GET', path: '/api/processes/{process_id}', fn: 'api', auth: 'operator', summary: 'Get a run with its attempts and their last log and metadata entries' },
  killProcess: { method: 'POST', path: '/api/processes/{process_id}/kill', fn: 'api', auth: 'operator', summary: 'Kill a running run (it ends failed)' },
  retryProcess: { method: 'POST', path: '/api/processes/{process_id}/retry', fn: 'api', auth: 'operator', summary: 'Retry a failed run: each failed task gets one more attempt' },
  // task attempts
  listTasks: { method: 'GET', path: '/api/tasks', fn: 'api', auth: 'operator', summary: 'List task attempts, newest first (of one run, process_id: in the order of their ids)' },
  taskOutput: { method: 'GET', path: '/api/tasks/{task_id}/output', fn: 'api', auth: 'operator', summary: "A page of an attempt's container stdout/stderr (next= to follow)" },
  taskLogEntries: { method: 'GET', path: '/api/tasks/{task_id}/log_entries', fn: 'api', auth: 'operator', summary: "A page of an attempt's log entries, oldest first (next= to follow)" },
  taskMetadata: { method: 'GET', path: '/api/tasks/{task_id}/metadata', fn: 'api', auth: 'operator', summary: "A page of an attempt's metadata entries, oldest first (next= to follow)" },
  // the API itself, health
  openApi: { method: 'GET', path: '/api/openapi.json', fn: 'api', auth: 'operator', summary: 'This API as an OpenAPI 3.1 document' },
  metrics: { method: 'GET', path: '/_internal_/metrics', fn: 'api', auth: 'public', summary: 'Prometheus metrics: definitions, runs and tasks by status' },
  // task callbacks
  appendLogEntries: { method: 'POST', path: '/api/tasks/{task_id}/log_entries', fn: 'callbacks', auth: 'task', summary: 'Append log entries (idempotent on log_entry_id)' },
  appendMetadata: { method: 'POST', path: '/api/tasks/{task_id}/metadata', fn: 'callbacks', auth: 'task', summary: 'Append metadata entries (idempotent on metadata_entry_id)' },
  succeedTask: { method: 'POST', path: '/api/tasks/{task_id}/succeed', fn: 'callbacks', auth: 'task', summary: 'The running attempt reports success' },
  failTask: { method: 'POST', path: '/api/tasks/{task_id}/fail', fn: 'callbacks', auth: 'task', summary: 'The running attempt reports failure' },
  reportProgress: { method: 'POST', path: '/api/tasks/{task_id}/progress', fn: 'callbacks', auth: 'task', summary: 'The running attempt reports its progress (percent, message); it never moves backwards' },
} as const satisfies Record<string, RouteEntry>;

export type RouteName = keyof typeof ROUTES;
