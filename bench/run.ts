/**
 * `npm run bench`: Sundial's local-mode figures, printed as a table and written to bench/results.json.
 *
 * - route latency: median and p99 of sequential requests per route over loopback (warm);
 * - engine: a 1,000-task DAG of no-op shell tasks (10 layers of 100, each task depending on one task of
 *   the layer above): wall time, the tasks' own time on the critical path, overhead per task, peak RSS, and
 *   Step Functions state transitions per task attempt counted from the local interpreter's events.
 *
 * Figures vary with the machine: compare medians and ratios, not single runs.
 */
import '../local/polyfills';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal } from '../local/server';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
};

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const sundial = await startLocal({ port: 0, dataDir, log: () => undefined });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(sundial.url + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  };
  const results: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length };

  // ---- route latency ---------------------------------------------------------------------------
  const noop = (name: string, deps: string[] = []) => ({
    task_definition_name: name,
    dependencies: deps.map((d) => ({ task_definition_name: d })),
    executable: { shell_script_command: { script: 'true' } },
    max_attempts: 1,
    backoff_base_seconds: 0,
    require_explicit_success: false,
  });
  await call('PUT', '/api/process_definitions/small', { process_definition_name: 'small', task_definitions: [noop('a'), noop('b', ['a'])] });
  const runIds: string[] = [];
  for (let i = 0; i < 20; i++) runIds.push((await call('POST', '/api/process_definitions/small/trigger')).process_id);
  while ((await call('GET', '/api/processes/?allowed_statuses=running')).length > 0) await new Promise((r) => setTimeout(r, 50));
  const routes: Array<[string, string, string]> = [
    ['GET', '/api/process_definitions/small', 'GET definition'],
    ['GET', '/api/process_definitions/', 'GET definitions'],
    ['GET', `/api/processes/${runIds[0]}`, 'GET process'],
    ['GET', '/api/processes/?process_definition_name=small&max_records=20', 'GET processes (20)'],
    ['GET', '/api/tasks/?process_definition_name=small&limit=20', 'GET tasks (20)'],
    ['GET', '/_internal_/metrics', 'GET metrics'],
  ];
  const latency: Record<string, { median_ms: number; p99_ms: number }> = {};
  for (const [method, path, label] of routes) {
    for (let i = 0; i < 50; i++) await call(method, path); // warm up
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await call(method, path);
      times.push(performance.now() - t0);
    }
    latency[label] = { median_ms: +median(times).toFixed(2), p99_ms: +quantile(times, 0.99).toFixed(2) };
  }
  results.route_latency = latency;

  // ---- engine: 1,000 no-op shell tasks ----------------------------------------------------------
  const layers = Number(process.env.BENCH_LAYERS ?? 10);
  const width = 100;
  const tasks = [];
  for (let l = 0; l < layers; l++) for (let i = 0; i < width; i++) tasks.push(noop(`t${l}-${i}`, l === 0 ? [] : [`t${l - 1}-${i}`]));
  await call('PUT', '/api/process_definitions/big', { process_definition_name: 'big', task_definitions: tasks });
  // the tasks' own time: spawning a no-op shell, measured alone
  const spawnTimes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    spawnSync('/bin/sh', ['-c', 'true']);
    spawnTimes.push(performance.now() - t0);
  }
  const transitionsBefore = sundial.orchestrator.stateTransitions;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const t0 = performance.now();
  const run = await call('POST', '/api/process_definitions/big/trigger');
  // Poll the cheap metrics route (one read) rather than the 1,000-task run itself.
  while (/sundial_processes\{status="running"\} [1-9]/.test(await call('GET', '/_internal_/metrics'))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const wall = performance.now() - t0;
  const final = await call('GET', `/api/processes/${run.process_id}`);
  clearInterval(sampler);
  const attempts = final.task.length;
  const ownTime = layers * median(spawnTimes);
  results.engine_1000_tasks = {
    status: final.status,
    tasks: tasks.length,
    attempts,
    wall_ms: Math.round(wall),
    critical_path_task_time_ms: Math.round(ownTime),
    overhead_per_task_ms: +((wall - ownTime) / tasks.length).toFixed(2),
    state_transitions_per_attempt: +((sundial.orchestrator.stateTransitions - transitionsBefore) / attempts).toFixed(2),
    peak_rss_mb: Math.round(peakRss / 1024 / 1024),
  };

  await sundial.close();
  rmSync(dataDir, { recursive: true, force: true });
  writeFileSync(join(import.meta.dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.table(latency);
  console.table(results.engine_1000_tasks as object);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
