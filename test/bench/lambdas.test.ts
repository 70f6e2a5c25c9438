/**
 * The benchmark of the functions' memory (bench/lambdas.ts), small: the api and callbacks bundles, each in
 * a process of its own, serve their requests against the local mode's store through its loopback endpoint,
 * and what they write is there to read through the local API.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { measureBundles } from '../../bench/bundles';
import { measureLambdas } from '../../bench/lambdas';
import { type BenchSundial, startBench } from '../../bench/local';

let b: BenchSundial;

beforeAll(async () => {
  await measureBundles(1);
  b = await startBench();
}, 120_000);
afterAll(() => b?.close());

it('runs each function bundle against the local store and reports its memory and each request', async () => {
  // Act
  const figures = await measureLambdas(b, { runs: 2, tasks: 3, rounds: 1 });

  // Assess
  expect(Object.keys(figures).sort()).toEqual(['api', 'callbacks']);
  for (const f of Object.values(figures)) {
    expect(f.rss_after_load_mb).toBeGreaterThan(20);
    expect(f.peak_rss_mb).toBeGreaterThanOrEqual(f.rss_after_load_mb);
    for (const route of Object.values(f.routes)) {
      expect(route.status).toBeLessThan(300);
      expect(route.median_cpu_ms).toBeGreaterThan(0);
    }
  }
  expect(figures.api!.memory_mb).toBe(1024);
  expect(figures.api!.routes['GET /api/processes/?process_definition_name&max_records=2 (2 runs × 3 attempts)']!.response_kb).toBeGreaterThan(1);
  // The callbacks function wrote through the endpoint: two invocations of 100 entries each, and its token
  // was checked with the key the Secrets Manager stub gave it (the kill at the end adds Sundial's own entry).
  // Lists carry no entries (answers under Lambda's 6 MB): read them all through the attempt's entry pages.
  const [run] = await b.call('GET', '/api/processes/?process_definition_name=lambda-cb');
  const taskId: string = run.task[0].task_id;
  const all = async (route: 'log_entries' | 'metadata'): Promise<Array<{ source?: string }>> => {
    const entries: Array<{ source?: string }> = [];
    let next: string | undefined;
    do {
      const page = await b.call('GET', `/api/tasks/${taskId}/${route}?limit=1000${next ? `&next=${encodeURIComponent(next)}` : ''}`);
      entries.push(...(route === 'log_entries' ? page.log_entries : page.metadata_entries));
      next = page.next;
    } while (next);
    return entries;
  };
  expect((await all('log_entries')).filter((e) => e.source === 'bench')).toHaveLength(200);
  expect(await all('metadata')).toHaveLength(200);
}, 120_000);
