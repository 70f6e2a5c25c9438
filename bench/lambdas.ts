/**
 * What the memory size of each Lambda function rests on. Each bundle (built by bench/bundles.ts into
 * bench/.bundles/<name>/index.mjs) runs in a fresh Node process of its own (bench/lambda-child.mjs), as on
 * Lambda, and serves its heaviest requests, one at a time, against the local mode's store (the embedded
 * dynalite, through its loopback endpoint), with a stub for Secrets Manager (the task-token key) and
 * EventBridge Scheduler.
 * Reported per function: the RSS after load, the peak RSS after every invocation (a REPORT line's
 * `Max Memory Used`), and each request's median wall and CPU time (Lambda allots CPU in proportion to
 * memory: 1,769 MB is one vCPU).
 *
 * Measured: api (the list routes over runs of 200 attempts with their log entries, one such run, a
 * definition of 200 tasks) and callbacks (100 log entries and 100 metadata entries a call, to a running
 * attempt). The engine and notify functions handle one attempt or one finished run per invocation and
 * call services that nothing answers locally (Step Functions, Batch, ECS, SES): their load RSS
 * (bench/bundles.ts) is their figure. `BENCH_LAMBDA_LOGS=1` shows the functions' own log lines.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signTaskToken } from '../lambdas/domain/task-token';
import { LOCAL_TABLE_NAME } from '../local/dynalite';
import { httpEvent } from '../local/http-adapter';
import { BUNDLES_DIR, LAMBDA_ENV } from './bundles';
import { type BenchSundial, noop } from './local';
import { median, round } from './stats';

/** Memory configured for each function: lib/api.ts (api; callbacks: SundialFunction's default), lib/engine.ts (the default), lib/notifications.ts. */
export const CONFIGURED_MEMORY_MB: Record<string, number> = { api: 1024, callbacks: 512, engine: 512, notify: 256 };

/** The token key the Secrets Manager stub hands the callbacks function. */
const STUB_KEY = 'bench-token-key';

interface Request {
  label: string;
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** The JSON body, made anew for each invocation. */
  body?: () => unknown;
}

export interface LambdaFigures {
  memory_mb: number;
  rss_after_load_mb: number;
  /** Peak RSS of the function's process over every invocation: a REPORT line's Max Memory Used. */
  peak_rss_mb: number;
  invocations: number;
  routes: Record<string, { median_ms: number; median_cpu_ms: number; status: number; response_kb: number }>;
}

/** The API Gateway HTTP API event of a request, built as the local mode builds it. */
function eventOf(r: Request) {
  return httpEvent({
    method: r.method,
    path: r.path,
    query: r.query ?? {},
    headers: { 'content-type': 'application/json', ...r.headers },
    ...(r.body === undefined ? {} : { body: JSON.stringify(r.body()) }),
    requestId: randomUUID(),
  });
}

/**
 * An endpoint for the AWS services other than DynamoDB that these requests touch: Secrets Manager's
 * GetSecretValue answers {@link STUB_KEY}; anything else (EventBridge Scheduler's DeleteSchedule, when a
 * definition without a schedule is saved) answers an empty success.
 */
async function awsStub(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const secret = req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue';
      res.writeHead(200, { 'content-type': secret ? 'application/x-amz-json-1.1' : 'application/json' });
      res.end(JSON.stringify(secret ? { ARN: LAMBDA_ENV.TOKEN_SECRET_ARN, Name: 'bench', SecretString: STUB_KEY, VersionId: '1' } : {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Messages of one child, in order. */
function inbox(child: ChildProcess, name: string): () => Promise<any> {
  const queued: unknown[] = [];
  const waiting: Array<{ resolve: (m: unknown) => void; reject: (e: Error) => void }> = [];
  let gone: Error | undefined;
  child.on('message', (m) => {
    const w = waiting.shift();
    if (w) w.resolve(m);
    else queued.push(m);
  });
  child.on('exit', (code) => {
    gone = new Error(`the ${name} function's process exited (${code})`);
    for (const w of waiting.splice(0)) w.reject(gone);
  });
  return () => {
    if (queued.length > 0) return Promise.resolve(queued.shift());
    if (gone) return Promise.reject(gone);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
}

async function measureFunction(name: string, env: Record<string, string>, requests: Request[], rounds: number): Promise<LambdaFigures> {
  const child = fork(join(import.meta.dirname, 'lambda-child.mjs'), [], {
    env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV, ...env, BENCH_BUNDLE: join(BUNDLES_DIR, name, 'index.mjs') },
    stdio: ['ignore', process.env.BENCH_LAMBDA_LOGS ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    execArgv: [],
  });
  const next = inbox(child, name);
  try {
    const ready = await next();
    const times: Record<string, { ms: number[]; cpu: number[]; status: number; bytes: number }> = {};
    // The first round warms up (lazy SDK clients, the token key, JIT), as a function's first invocations do.
    for (let r = 0; r <= rounds; r++) {
      for (const req of requests) {
        child.send({ t: 'invoke', event: eventOf(req) });
        const m = await next();
        if (m.status >= 300) throw new Error(`${name}: ${req.method} ${req.path} answered ${m.status}`);
        const t = (times[req.label] ??= { ms: [], cpu: [], status: m.status, bytes: m.bytes });
        if (r > 0) {
          t.ms.push(m.ms);
          t.cpu.push(m.cpu_ms);
        }
      }
    }
    child.send({ t: 'report' });
    const report = await next();
    return {
      memory_mb: CONFIGURED_MEMORY_MB[name] ?? 0,
      rss_after_load_mb: Math.round(ready.rss / 1024 / 1024),
      peak_rss_mb: Math.round(report.max_rss / 1024 / 1024),
      invocations: (rounds + 1) * requests.length,
      routes: Object.fromEntries(
        Object.entries(times).map(([label, t]) => [
          label,
          { median_ms: round(median(t.ms), 1), median_cpu_ms: round(median(t.cpu), 1), status: t.status, response_kb: round(t.bytes / 1024, 1) },
        ]),
      ),
    };
  } finally {
    child.kill();
  }
}

/** A definition of `n` tasks that each print `lines` log lines (each line of output is a log entry). */
function chatty(name: string, n: number, lines: number) {
  return {
    process_definition_name: name,
    task_definitions: Array.from({ length: n }, (_, i) => noop(`t${i}`, [], `for i in $(seq ${lines}); do echo "line $i of task ${i}"; done`)),
  };
}

/** The workload: `runs` runs of `tasks` attempts (5 log entries each), `rounds` rounds after the warm-up. */
export interface LambdaWorkload {
  runs: number;
  tasks: number;
  rounds: number;
}

/** Seeds the local mode `b` (bundles built already), then measures the api and callbacks functions. */
export async function measureLambdas(b: BenchSundial, work: LambdaWorkload = { runs: 5, tasks: 200, rounds: 5 }): Promise<Record<string, LambdaFigures>> {
  const { runs, tasks, rounds } = work;
  // History: the list routes assemble runs with their attempts and entries.
  const big = chatty('lambda-big', tasks, 5);
  await b.call('PUT', '/api/process_definitions/lambda-big', big);
  let lastRun = '';
  for (let i = 0; i < runs; i++) {
    const run = await b.call('POST', '/api/process_definitions/lambda-big/trigger');
    const status = await b.ended(run.process_id);
    if (status !== 'succeeded') throw new Error(`lambda-big run ${run.process_id} ended ${status}`);
    lastRun = run.process_id;
  }
  // A running attempt for the callbacks (killed at the end).
  await b.call('PUT', '/api/process_definitions/lambda-cb', { process_definition_name: 'lambda-cb', task_definitions: [noop('wait', [], 'sleep 300')] });
  const cb = await b.call('POST', '/api/process_definitions/lambda-cb/trigger');
  let taskId: string | undefined;
  for (let i = 0; i < 600 && !taskId; i++) {
    taskId = (await b.call('GET', `/api/processes/${cb.process_id}`)).task?.find((t: { status: string }) => t.status === 'running')?.task_id;
    if (!taskId) await new Promise((r) => setTimeout(r, 25));
  }
  if (!taskId) throw new Error('the callbacks task did not start within 15 s');

  const stub = await awsStub();
  const env = {
    TABLE_NAME: LOCAL_TABLE_NAME,
    AWS_ENDPOINT_URL_DYNAMODB: b.sundial.storeEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
    AWS_ENDPOINT_URL_SCHEDULER: stub.url,
  };
  try {
    const api = await measureFunction(
      'api',
      env,
      [
        { label: `GET /api/processes/?process_definition_name&max_records=${runs} (${runs} runs × ${tasks} attempts)`, method: 'GET', path: '/api/processes/', query: { process_definition_name: 'lambda-big', max_records: String(runs) } },
        { label: `GET /api/processes/{id} (${tasks} attempts)`, method: 'GET', path: `/api/processes/${lastRun}` },
        { label: 'GET /api/tasks/?process_definition_name&limit=100', method: 'GET', path: '/api/tasks/', query: { process_definition_name: 'lambda-big', limit: '100' } },
        { label: `PUT /api/process_definitions/{name} (${tasks} tasks)`, method: 'PUT', path: '/api/process_definitions/lambda-put', body: () => ({ ...big, process_definition_name: 'lambda-put' }) },
        { label: 'GET /_internal_/metrics', method: 'GET', path: '/_internal_/metrics' },
      ],
      rounds,
    );
    const auth = { authorization: `Bearer ${signTaskToken(Buffer.from(STUB_KEY, 'utf8'), { tid: taskId, pid: cb.process_id })}` };
    const when = new Date().toISOString();
    const entries = (kind: 'log' | 'metadata') =>
      Array.from({ length: 100 }, (_, i) =>
        kind === 'log'
          ? { log_entry_id: randomUUID(), when, source: 'bench', message: `entry ${i} ${'x'.repeat(100)}` }
          : { metadata_entry_id: randomUUID(), when, key: `k${i}`, value: 'v'.repeat(100) },
      );
    const callbacks = await measureFunction(
      'callbacks',
      env,
      [
        { label: 'POST /api/tasks/{id}/log_entries (100 entries)', method: 'POST', path: `/api/tasks/${taskId}/log_entries`, headers: auth, body: () => entries('log') },
        { label: 'POST /api/tasks/{id}/metadata (100 entries)', method: 'POST', path: `/api/tasks/${taskId}/metadata`, headers: auth, body: () => entries('metadata') },
      ],
      rounds,
    );
    return { api, callbacks };
  } finally {
    await stub.close();
    await b.call('POST', `/api/processes/${cb.process_id}/kill`).catch(() => undefined);
  }
}
