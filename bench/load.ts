/**
 * `npm run bench:load`: a bounded load test of the local mode on loopback with autocannon (not part of
 * `npm test`). Two phases against one server:
 *
 * 1. read routes (definitions, runs, one run, attempts, metrics) — LOAD_CONNECTIONS (default 200)
 *    connections for LOAD_SECONDS (default 30);
 * 2. callback routes: log and metadata entries with fresh ids, spread over LOAD_TASKS (default 200)
 *    running attempts, each call with its attempt's token — same connections and duration.
 *
 * It reports requests, errors, non-2xx answers, p50/p99/max latency and requests per second, then counts
 * entries: what the server answered as written must equal what the store holds (nothing lost, nothing
 * twice). It exits 1 on any error, non-2xx answer or difference.
 */
import '../local/polyfills';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signTaskToken } from '../lambdas/domain/task-token';
import { startLocal } from '../local/server';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 200);
const TASKS = Number(process.env.LOAD_TASKS ?? 200);
const ENTRIES_PER_CALL = 5;

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}
interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; max: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: { url: string; connections: number; duration: number; requests: AutocannonRequest[]; timeout?: number }) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function report(name: string, r: AutocannonResult): Record<string, number | string> {
  return {
    phase: name,
    requests: r.requests.total,
    'req/s': Math.round(r.requests.average),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    'p50 ms': r.latency.p50,
    'p99 ms': r.latency.p99,
    'max ms': r.latency.max,
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'sundial-load-'));
const sundial = await startLocal({ port: 0, dataDir, log: () => undefined });
const { store } = sundial.services;
try {
  // Prepare: a definition, a few finished runs to read, and TASKS running attempts to call back as.
  const put = (path: string, body: unknown, method = 'PUT') =>
    fetch(`${sundial.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await put('/api/process_definitions/load', {
    process_definition_name: 'load',
    task_definitions: [{ task_definition_name: 'noop', dependencies: [], executable: { shell_script_command: { script: 'echo hi' } }, max_attempts: 1, backoff_base_seconds: 0, require_explicit_success: false }],
  });
  const finishedRuns: string[] = [];
  for (let i = 0; i < 10; i++) {
    const run = (await (await fetch(`${sundial.url}/api/process_definitions/load/trigger`, { method: 'POST' })).json()) as { process_id: string };
    finishedRuns.push(run.process_id);
  }
  const key = await sundial.services.tokenKey();
  const processId = randomUUID();
  const start = new Date().toISOString();
  await store.runs.createRun({ process_id: processId, process_definition_name: 'load-callbacks', start_time: start, status: 'running' });
  const tasks: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < TASKS; i++) {
    const id = randomUUID();
    await store.runs.createTask({
      task_id: id,
      process_id: processId,
      process_definition_name: 'load-callbacks',
      task_definition_name: `t${i}`,
      start_time: start,
      previous_attempt_count: 0,
      status: 'running',
    });
    tasks.push({ id, token: signTaskToken(key, { tid: id, pid: processId }) });
  }

  // Phase 1: reads
  const reads = await autocannon({
    url: sundial.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    timeout: 30,
    requests: [
      { method: 'GET', path: '/api/process_definitions' },
      { method: 'GET', path: '/api/processes?max_records=10' },
      { method: 'GET', path: `/api/processes/${finishedRuns[0]}` },
      { method: 'GET', path: '/api/tasks?limit=10' },
      { method: 'GET', path: '/_internal_/metrics' },
    ],
  });

  // Phase 2: callbacks, each call with new entry ids; `written` of every 201 is summed
  let next = 0;
  let answeredWritten = 0;
  let sent = 0;
  const acknowledged = new Set<string>();
  const setup = (route: 'log_entries' | 'metadata') => (req: AutocannonRequest, context: Record<string, unknown>): AutocannonRequest => {
    const task = tasks[next++ % tasks.length] as { id: string; token: string };
    const when = new Date().toISOString();
    const entries = Array.from({ length: ENTRIES_PER_CALL }, (_, i) =>
      route === 'log_entries'
        ? { log_entry_id: randomUUID(), when, source: 'load', message: `line ${i}` }
        : { metadata_entry_id: randomUUID(), when, key: `k${i}`, value: String(i) },
    );
    context.ids = entries.map((e) => ('log_entry_id' in e ? e.log_entry_id : e.metadata_entry_id));
    sent += entries.length;
    return { ...req, method: 'POST', path: `/api/tasks/${task.id}/${route}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${task.token}` }, body: JSON.stringify(entries) };
  };
  const counted = (status: number, body: string, context: Record<string, unknown>) => {
    if (status !== 201) return;
    answeredWritten += (JSON.parse(body) as { written: number }).written;
    for (const id of context.ids as string[]) acknowledged.add(id);
  };
  const callbacks = await autocannon({
    url: sundial.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    timeout: 30,
    requests: [
      { setupRequest: setup('log_entries'), onResponse: counted },
      { setupRequest: setup('metadata'), onResponse: counted },
    ],
  });

  // Count, once calls still in flight when autocannon stopped have landed: every entry the server
  // acknowledged is stored, and nothing is stored that was not sent.
  await new Promise((r) => setTimeout(r, 2000));
  const run = await store.runs.getRun(processId);
  const storedIds = new Set((run?.task ?? []).flatMap((t) => [...t.log_entries.map((e) => e.log_entry_id), ...t.metadata_entries.map((e) => e.metadata_entry_id)]));
  const stored = storedIds.size;
  const lost = [...acknowledged].filter((id) => !storedIds.has(id)).length;

  const rows = [report('reads', reads), report('callbacks', callbacks)];
  console.table(rows);
  console.log(
    `entries: ${sent} sent, ${acknowledged.size} acknowledged (201; "written" summed: ${answeredWritten}), ${stored} stored, ` +
      `${lost} acknowledged but missing; ${stored - acknowledged.size} stored from calls whose answer came after the end (${ENTRIES_PER_CALL} per call, ${TASKS} attempts)`,
  );
  const failed =
    [reads, callbacks].some((r) => r.errors > 0 || r.timeouts > 0 || r.non2xx > 0) || lost > 0 || stored > sent || answeredWritten !== acknowledged.size;
  console.log(failed ? 'FAILED: errors, non-2xx answers or lost entries' : 'ok: zero errors, nothing lost');
  process.exitCode = failed ? 1 : 0;
} finally {
  await sundial.close();
  rmSync(dataDir, { recursive: true, force: true });
}
