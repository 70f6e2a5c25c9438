/**
 * `npm run bench:latency`: median and p99 of sequential requests per route of the local mode over
 * loopback (warm, one client), with 20 finished runs stored. Prints a table; writes
 * bench/latency.json. Figures vary with the machine: compare medians.
 */
import '../local/polyfills';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal } from '../local/server';
import { apiCaller, noop } from './local';
import { median, quantile } from './stats';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const sundial = await startLocal({ port: 0, dataDir, log: () => undefined });
  const call = apiCaller(sundial.url);
  const results: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length };

  // ---- route latency ---------------------------------------------------------------------------
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

  await sundial.close();
  rmSync(dataDir, { recursive: true, force: true });
  writeFileSync(join(import.meta.dirname, 'latency.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.table(latency);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
