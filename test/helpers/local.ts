/**
 * Integration-test helpers: Sundial's local mode on a free loopback port with a temporary data dir
 * (one per test file: `sundialPerFile`), the calls most tests make of it (define, trigger, wait for a
 * run's end), a small fetch wrapper, and seeding of runs and task attempts straight through the store
 * (for tests of what the engine would create, without the engine).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessStatus, TaskStatus } from '../../lambdas/domain/models';
import { signTaskToken } from '../../lambdas/domain/task-token';
import type { Services } from '../../lambdas/api/ports';
import { TTL_ATTRIBUTE } from '../../lambdas/store/keys';
import type { TaskRecord } from '../../lambdas/store/runs';
import { markFunctions } from '../../local/function-context';
import { type LocalSundial, startLocal } from '../../local/server';
import { isoAt, type JsonObject } from './factories';
import { perFile } from './per-file';
import { until } from './until';

export * from './factories';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. Typed loosely: tests assert on its shape. */
  json: any;
}

export type Api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse>;

/**
 * A fetch wrapper bound to `baseUrl`. An object body is sent as JSON (`content-type: application/json`);
 * a string or bytes (a compressed body) are sent as they are, with the same content type unless `headers`
 * give another.
 */
export function apiClient(baseUrl: string): Api {
  return async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body);
      const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
      if (!hasType) (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, init);
    const text = await res.text();
    const isJson = /json/.test(res.headers.get('content-type') ?? '');
    return { status: res.status, headers: res.headers, text, json: isJson && text !== '' ? JSON.parse(text) : undefined };
  };
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sundial-test-'));
}

export interface TestSundial {
  sundial: LocalSundial;
  services: Services;
  url: string;
  dataDir: string;
  api: Api;
  /** Stops the server and its embedded DynamoDB; the data dir is kept (restart tests). */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  close(): Promise<void>;
  /**
   * PUTs definition `name`: `body` is its task definitions, or the rest of its body. Expects a 2xx;
   * answers the stored definition.
   */
  define(name: string, body: JsonObject[] | JsonObject): Promise<any>;
  /** POSTs a trigger of `name` (`query` such as `?force=true`); expects 201, answers the run. */
  trigger(name: string, body?: unknown, query?: string): Promise<any>;
  /** Waits until the run is no longer `running`; answers it as GET answers it. */
  finished(processId: string, timeoutMs?: number): Promise<any>;
  /**
   * Waits until the run's end is complete: its listeners told (schedules, notifications) and then its
   * expiry set, the engine's last step of a run's end (retention is on, as by default). Whatever the
   * end of the run starts has started.
   */
  settled(processId: string, timeoutMs?: number): Promise<void>;
}

export interface TestSundialOptions {
  /** Receives the server's log lines (by default they are dropped). */
  log?: (line: string) => void;
  /** Days a finished run is kept (lambdas/domain/retention.ts). @default SUNDIAL_RETENTION_DAYS, else 90 */
  retentionDays?: number;
  /** The clock the server's services read (LocalOptions.now). @default the system clock */
  now?: () => Date;
}

/** Starts the local mode on a free port over `dataDir` (a fresh temporary one by default), silently. */
export async function startTestSundial(dataDir: string = tempDataDir(), options: TestSundialOptions = {}): Promise<TestSundial> {
  // Which function each call runs as: the IAM harness and some tests read it (local/function-context.ts).
  markFunctions();
  // Seconds-apart ticks keep the schedule tests fast; `npm start` refuses them as EventBridge Scheduler does.
  const sundial = await startLocal({ port: 0, dataDir, log: options.log ?? (() => undefined), schedulerMinIntervalSeconds: 1, ...(options.retentionDays === undefined ? {} : { retentionDays: options.retentionDays }), ...(options.now ? { now: options.now } : {}) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await sundial.close();
  };
  const api = apiClient(sundial.url);
  return {
    sundial,
    services: sundial.services,
    url: sundial.url,
    dataDir,
    api,
    stop,
    close: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    define: async (name, body) => {
      const rest = Array.isArray(body) ? { task_definitions: body } : body;
      const res = await api('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, ...rest });
      expect(res.status, res.text).toBeLessThan(300);
      return res.json;
    },
    trigger: async (name, body, query = '') => {
      const res = await api('POST', `/api/process_definitions/${name}/trigger${query}`, body);
      expect(res.status, res.text).toBe(201);
      return res.json;
    },
    finished: (processId, timeoutMs) =>
      until(() => api('GET', `/api/processes/${processId}`), (r) => r.status === 200 && r.json.status !== 'running', timeoutMs).then((r) => r.json),
    settled: async (processId, timeoutMs) => {
      await until(() => sundial.services.store.runs.getRunRecord(processId), (r) => r?.status !== 'running' && r?.[TTL_ATTRIBUTE] !== undefined, timeoutMs);
    },
  };
}

/** What {@link sundialPerFile} answers: the instance's calls, usable before it has started. */
export type PerFileSundial = Pick<TestSundial, 'api' | 'define' | 'trigger' | 'finished' | 'settled'> & { current: () => TestSundial };

/**
 * One local Sundial for a test file: started in `beforeAll`, closed (data dir removed) in `afterAll`.
 * `api`, `define`, `trigger`, `finished` and `settled` call it; `current()` is the running instance
 * (its services, URL).
 */
export function sundialPerFile(options: TestSundialOptions = {}): PerFileSundial {
  const current = perFile('sundialPerFile', () => startTestSundial(undefined, options), 60_000);
  return {
    current,
    api: (...args) => current().api(...args),
    define: (...args) => current().define(...args),
    trigger: (...args) => current().trigger(...args),
    finished: (...args) => current().finished(...args),
    settled: (...args) => current().settled(...args),
  };
}

/** A bearer token for one task attempt, signed with the running instance's key. */
export async function mintTaskToken(services: Services, taskId: string, processId: string): Promise<string> {
  return signTaskToken(await services.tokenKey(), { tid: taskId, pid: processId });
}

/** `Authorization` header carrying `token`. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface SeedTask {
  task_definition_name: string;
  status?: TaskStatus;
  previous_attempt_count?: number;
  /** @default the run's start time plus one second per task index */
  start_time?: string;
  end_time?: string;
}

export interface SeedRun {
  process_definition_name: string;
  /** @default 'running' */
  status?: ProcessStatus;
  /** @default isoAt(0) */
  start_time?: string;
  end_time?: string;
  /** @default one running attempt of task `first` */
  tasks?: SeedTask[];
}

export interface SeededTask extends TaskRecord {
  /** A valid callback token for this attempt. */
  token: string;
}

export interface SeededRun {
  process_id: string;
  process_definition_name: string;
  start_time: string;
  status: ProcessStatus;
  tasks: SeededTask[];
}

/** Writes a run and its task attempts through the store, as the engine would, and mints their tokens. */
export async function seedRun(services: Services, spec: SeedRun): Promise<SeededRun> {
  const processId = randomUUID();
  const startTime = spec.start_time ?? isoAt(0);
  const status = spec.status ?? 'running';
  await services.store.runs.createRun({
    process_id: processId,
    process_definition_name: spec.process_definition_name,
    start_time: startTime,
    status,
    ...(spec.end_time ? { end_time: spec.end_time } : {}),
  });
  const tasks: SeededTask[] = [];
  for (const [i, t] of (spec.tasks ?? [{ task_definition_name: 'first' }]).entries()) {
    const record: TaskRecord = {
      task_id: randomUUID(),
      process_id: processId,
      process_definition_name: spec.process_definition_name,
      task_definition_name: t.task_definition_name,
      start_time: t.start_time ?? new Date(Date.parse(startTime) + i * 1000).toISOString(),
      previous_attempt_count: t.previous_attempt_count ?? 0,
      status: t.status ?? 'running',
      ...(t.end_time ? { end_time: t.end_time } : {}),
    };
    await services.store.runs.createTask(record);
    tasks.push({ ...record, token: await mintTaskToken(services, record.task_id, processId) });
  }
  return { process_id: processId, process_definition_name: spec.process_definition_name, start_time: startTime, status, tasks };
}

/** The value of one sample (`name{labels} value`) of a Prometheus text exposition. */
export function metricValue(exposition: string, sample: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/**
 * Follows a listing's `x-next-cursor` header with the `next` query parameter until it ends; answers
 * every page's items in order. `path` may already carry a query.
 */
export async function listAllPages(api: Api, path: string, maxPages = 100): Promise<{ pages: unknown[][]; items: unknown[] }> {
  const pages: unknown[][] = [];
  let next: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api('GET', next === null ? path : `${path}${sep}next=${encodeURIComponent(next)}`);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.text}`);
    pages.push(res.json as unknown[]);
    next = res.headers.get('x-next-cursor');
  } while (next !== null && pages.length < maxPages);
  if (next !== null) throw new Error(`GET ${path} had more than ${maxPages} pages`);
  return { pages, items: pages.flat() };
}
