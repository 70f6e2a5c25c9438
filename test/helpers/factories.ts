/**
 * Pure factories for tests: wire bodies (process definitions, log and metadata entries) and API
 * Gateway events. Every factory answers a valid value; `overrides` replace top-level fields.
 */
import { randomUUID } from 'node:crypto';
import type { HttpEvent } from '../../lambdas/http/types';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A fixed instant the seeded data hangs off, so that ordering assertions do not depend on the clock. */
export const BASE_TIME = Date.parse('2026-03-01T12:00:00.000Z');

/**
 * The end of a task script that runs until it is stopped (a kill, max_runtime_seconds, the server
 * shutting down): a task the test needs running when it acts, with no duration a busy machine could outlast.
 * Not `tail -f`: it ends by itself once its stdout is a pipe nobody reads (coreutils 8.28 and later), which a
 * test that kills the spawner would take for the guard's work.
 */
export const UNTIL_STOPPED = 'exec sleep infinity';

/** `BASE_TIME` plus `minutes`, as `Date.toISOString()` (the form the store keys on). */
export function isoAt(minutes: number): string {
  return new Date(BASE_TIME + minutes * 60_000).toISOString();
}

/** A task definition running a shell script, with no dependencies unless given. */
export function shellTask(name: string, overrides: JsonObject = {}): JsonObject {
  return {
    task_definition_name: name,
    dependencies: [],
    executable: { shell_script_command: { script: `echo ${name}` } },
    max_attempts: 1,
    backoff_base_seconds: 0,
    require_explicit_success: false,
    ...overrides,
  };
}

/** {@link shellTask} running `script`. */
export function shellScript(name: string, script: string, overrides: JsonObject = {}): JsonObject {
  return shellTask(name, { executable: { shell_script_command: { script } }, ...overrides });
}

/** A task definition running a Docker image (the variant with the most defaults). */
export function dockerTask(name: string, overrides: JsonObject = {}): JsonObject {
  return {
    task_definition_name: name,
    dependencies: [],
    executable: { docker_image_command: { image: 'alpine', command: ['echo', name] } },
    max_attempts: 3,
    backoff_base_seconds: 5,
    require_explicit_success: false,
    ...overrides,
  };
}

/** A dependency on `name` (success_required left to its default unless given). */
export function dependsOn(name: string, successRequired?: boolean): JsonObject {
  return { task_definition_name: name, ...(successRequired === undefined ? {} : { success_required: successRequired }) };
}

/**
 * A cron schedule wrapper. Fields not given read 03:00 UTC on January 1st (`0 3 1 JAN ?`): valid, and
 * rare enough that a scheduler never starts a run while tests are running.
 */
export function cronSchedule(fields: Partial<Record<'minutes' | 'hours' | 'day_of_month' | 'month' | 'day_of_week' | 'time_zone', string>> = {}): JsonObject {
  return {
    cron_schedule: { minutes: '0', hours: '3', day_of_month: '1', month: 'JAN', day_of_week: '?', ...fields },
  };
}

/**
 * A valid process definition: two shell tasks, `second` depending on `first`, no schedule (manual
 * runs only, so nothing starts by itself) and no notifications. Only required fields are set, so
 * defaults show. Add a schedule with `{ schedule: cronSchedule() }`.
 */
export function processDefinition(name = 'nightly-report', overrides: JsonObject = {}): JsonObject {
  return {
    process_definition_name: name,
    task_definitions: [shellTask('first'), shellTask('second', { dependencies: [dependsOn('first')] })],
    ...overrides,
  };
}

/** A valid log entry with a fresh id. */
export function logEntry(overrides: JsonObject = {}): JsonObject {
  return { log_entry_id: randomUUID(), when: new Date(BASE_TIME).toISOString(), source: 'test', message: 'hello', ...overrides };
}

/** A valid metadata entry with a fresh id. */
export function metadataEntry(overrides: JsonObject = {}): JsonObject {
  return { metadata_entry_id: randomUUID(), when: new Date(BASE_TIME).toISOString(), key: 'rows', value: '42', ...overrides };
}

/** An API Gateway HTTP API (payload 2.0) event, as the local adapter and API Gateway build it. */
export function httpEvent(overrides: {
  method?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
} = {}): HttpEvent {
  const method = overrides.method ?? 'GET';
  const path = overrides.path ?? '/';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: overrides.query ?? '',
    headers: overrides.headers ?? {},
    requestContext: {
      accountId: 'test',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(BASE_TIME).toISOString(),
      timeEpoch: BASE_TIME,
    },
    body: overrides.body,
    isBase64Encoded: overrides.isBase64Encoded ?? false,
  };
}
