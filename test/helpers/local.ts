/**
 * Integration-test helpers: Sundial's local mode on a free loopback port with a temporary data dir,
 * a small fetch wrapper, and seeding of runs and task attempts straight through the store (the engine
 * that would create them is not part of these tests).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessStatus, TaskStatus } from '../../lambdas/domain/models';
import { signTaskToken } from '../../lambdas/domain/task-token';
import type { Services } from '../../lambdas/services';
import type { TaskRecord } from '../../lambdas/store/runs';
import { type LocalSundial, startLocal } from '../../local/server';
import { isoAt } from './factories';

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
 * a string body is sent as is, with the same content type unless `headers` give another.
 */
export function apiClient(baseUrl: string): Api {
  return async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
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
}

/** Starts the local mode on a free port over `dataDir` (a fresh temporary one by default), silently. */
export async function startTestSundial(dataDir: string = tempDataDir()): Promise<TestSundial> {
  // Seconds-apart ticks keep the schedule tests fast; `npm start` refuses them as EventBridge Scheduler does.
  const sundial = await startLocal({ port: 0, dataDir, log: () => undefined, schedulerMinIntervalSeconds: 1 });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await sundial.close();
  };
  return {
    sundial,
    services: sundial.services,
    url: sundial.url,
    dataDir,
    api: apiClient(sundial.url),
    stop,
    close: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One local Sundial for a test file: started in `beforeAll`, closed (data dir removed) in `afterAll`.
 * `api` calls it; `current()` is the running instance (its services, URL).
 */
export function sundialPerFile(): { current: () => TestSundial; api: Api } {
  let instance: TestSundial | undefined;
  beforeAll(async () => {
    instance = await startTestSundial();
  }, 60_000);
  afterAll(async () => {
    await instance?.close();
  });
  const current = () => {
    if (!instance) throw new Error('sundialPerFile: used outside a test (the server starts in beforeAll)');
    return instance;
  };
  return { current, api: (...args) => current().api(...args) };
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
