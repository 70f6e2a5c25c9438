/**
 * The console at 10,000 tasks (issue 18), in Chromium against the local mode: a definition of 10 layers
 * × 1,000 tasks PUT through the API, and a run of it seeded through the store (9,010 attempts: running
 * that many tasks is the bench's work, not a browser test's). Its DAG is drawn collapsed (web/dag.ts):
 * one node per layer with its counts by status, opened to list and search its tasks; the run's attempts
 * are shown a page at a time. Logs how long the pages take to draw (docs/PERFORMANCE.md, "Console at
 * 10,000 tasks"); asserts what they show, not how fast.
 */
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { mapLimited } from '../../lambdas/domain/concurrency';
import type { TaskRecord } from '../../lambdas/store/runs';
import { dependsOn, shellTask } from '../helpers/local';
import { browserPerFile } from './support';

const s = browserPerFile();
const LAYERS = 10;
const WIDTH = 1000;
const name = (layer: number, i: number) => `t${layer}-${i}`;

/** 10 layers of 1,000, each task depending on two neighbours of the layer before (the bench's shape). */
const definition = () =>
  Array.from({ length: LAYERS * WIDTH }, (_, k) => {
    const [layer, i] = [Math.floor(k / WIDTH), k % WIDTH];
    return shellTask(name(layer, i), { dependencies: layer === 0 ? [] : [dependsOn(name(layer - 1, (i + WIDTH - 1) % WIDTH)), dependsOn(name(layer - 1, i))] });
  });

/**
 * A run as far as layer 9: layers 1–8 succeeded; in layer 9, 600 succeeded, 390 running and 10 failed
 * twice (two attempts each); layer 10 not started. 9,010 attempts, those of layer 8 and the running ones
 * with a long progress message: ~4.6 MB of attempts, past the 4 MiB one answer of a run holds
 * (lambdas/domain/response-size.ts), so that the console reads the rest from `attempts_next`.
 */
async function seedRun(def: string): Promise<string> {
  const processId = randomUUID();
  const base = Date.parse('2026-12-01T10:00:00.000Z');
  const at = (ms: number) => new Date(base + ms).toISOString();
  await s.t.services.store.runs.createRun({ process_id: processId, process_definition_name: def, start_time: at(0), status: 'running' });
  seeded.push(processId);
  const attempts: TaskRecord[] = [];
  const progress = (percent: number) => ({ percent, message: `partition ${percent}%: ${'copying rows '.repeat(70)}`, when: at(0) });
  const attempt = (layer: number, i: number, status: TaskRecord['status'], n = 0): TaskRecord => ({
    task_id: randomUUID(),
    process_id: processId,
    process_definition_name: def,
    task_definition_name: name(layer, i),
    start_time: at(layer * 60_000 + n * 20_000 + i),
    ...(status === 'running' ? {} : { end_time: at(layer * 60_000 + n * 20_000 + i + 15_000) }),
    previous_attempt_count: n,
    status,
    ...(layer === 7 ? { progress: progress(100) } : status === 'running' ? { progress: progress(40) } : {}),
  });
  for (let layer = 0; layer < 8; layer++) for (let i = 0; i < WIDTH; i++) attempts.push(attempt(layer, i, 'succeeded'));
  for (let i = 0; i < WIDTH; i++) {
    if (i < 600) attempts.push(attempt(8, i, 'succeeded'));
    else if (i < 990) attempts.push(attempt(8, i, 'running'));
    else attempts.push(attempt(8, i, 'failed'), attempt(8, i, 'failed', 1));
  }
  await mapLimited(attempts, 32, (a) => s.t.services.store.runs.createTask(a));
  return processId;
}

/** What the page spent until its DAG was drawn (ms from navigation; the DAG's own measure: web/dag.ts). */
async function timings(page: Page): Promise<Record<string, number>> {
  return page.evaluate(
    () =>
      new Promise<Record<string, number>>((resolve) =>
        // After the next frame: the drawing laid out and painted.
        requestAnimationFrame(() =>
          setTimeout(() => {
            const path = (r: PerformanceEntry) => new URL(r.name).pathname.replace(/[0-9a-f-]{36}/g, ':id');
            const dag = performance.getEntriesByName('sundial:dag')[0] as PerformanceMeasure;
            const api = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((r) => path(r).startsWith('/api/') && r.startTime < dag.startTime);
            const slowest = new Map<string, number>();
            for (const r of api) slowest.set(path(r), Math.max(slowest.get(path(r)) ?? 0, Math.round(r.duration)));
            resolve({
              api_ms: Math.round(Math.max(...api.map((r) => r.responseEnd)) - Math.min(...api.map((r) => r.startTime))),
              api_calls: api.length,
              tasks_pages: api.filter((r) => r.name.includes('/api/tasks?process_id=')).length,
              dag_draw_ms: Math.round(dag.duration),
              drawn_from_navigation_ms: Math.round(dag.startTime + dag.duration),
              painted_from_navigation_ms: Math.round(performance.now()),
              svg_elements: document.querySelectorAll('[data-testid="dag"] *').length,
              page_elements: document.querySelectorAll('*').length,
              ...Object.fromEntries([...slowest].map(([p, ms]) => [`slowest ${p}`, ms])),
            });
          }),
        ),
      ),
  );
}

const opened: Page[] = [];
const seeded: string[] = [];
afterEach(async () => {
  // A running run's page refreshes itself: closed, it stops asking for 10,000 attempts…
  for (const page of opened.splice(0)) await page.close();
  // …and the seeded run ends, or the server's stop would kill it task by task.
  for (const processId of seeded.splice(0)) await s.t.services.store.runs.transitionRun(processId, 'running', 'failed', { end_time: new Date().toISOString() });
});

/** Opens `url` in a fresh page (its own performance timeline) and waits for the DAG's layer groups. */
async function open(url: string): Promise<Page> {
  const page = await s.browser.newPage({ viewport: { width: 1280, height: 900 } });
  opened.push(page);
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(url);
  await page.locator('[data-testid="dag"] [data-group], [data-testid="error"]').first().waitFor({ timeout: 120_000 });
  expect(await page.locator('[data-testid="error"]').allTextContents()).toEqual([]);
  return page;
}

describe('console at 10,000 tasks', () => {
  it('draws a 10,000-task definition and a run of it collapsed by layer, opens a layer and finds a task in it', async () => {
    // Prepare
    await s.t.define('ten-thousand', definition());
    const processId = await seedRun('ten-thousand');

    // Act + Assess: the definition's page, one node per layer of 1,000 tasks
    const defPage = await open(`${s.t.url}/#/def/ten-thousand`);
    const defTimes = await timings(defPage);
    console.log(`console at 10,000 tasks, definition page: ${JSON.stringify(defTimes)}`);
    const defGroups = defPage.locator('[data-testid="dag"] [data-group]');
    expect(await defGroups.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-group')} ${e.getAttribute('data-tasks')}`))).toEqual(
      Array.from({ length: LAYERS }, (_, l) => `#${l + 1} ${WIDTH}`),
    );
    expect(await defPage.locator('[data-testid="dag"] [data-node]').count()).toBe(0);
    expect(await defPage.locator('#dag .dag-tools').textContent()).toContain('10,000 tasks in 10 layers');
    expect(await defPage.locator('[data-testid="dag"] path.edge').count()).toBe(LAYERS - 1);

    // Act: the run's page
    const page = await open(`${s.t.url}/#/run/${processId}`);
    const runTimes = await timings(page);
    console.log(`console at 10,000 tasks, run page: ${JSON.stringify(runTimes)}`);
    await page.screenshot({ path: 'test-results/run-10000-tasks.png' });

    // Assess: each layer's counts by its tasks' latest attempts; the DOM stays small
    const group = (layer: number) => page.locator(`[data-testid="dag"] [data-group="#${layer}"]`);
    const counts = (layer: number) => group(layer).evaluate((e) => ['tasks', 'succeeded', 'running', 'failed', 'waiting', 'status'].map((k) => e.getAttribute(`data-${k}`)).join(' '));
    expect(await counts(1)).toBe('1000 1000 0 0 0 succeeded');
    expect(await counts(9)).toBe('1000 600 390 10 0 failed');
    expect(await counts(10)).toBe('1000 0 0 0 1000 waiting');
    expect(await group(9).locator('[data-testid="group-count"]').textContent()).toBe('1,000 tasks');
    expect(await group(9).locator('[data-testid="group-summary"] tspan').allTextContents()).toEqual(['600 succeeded · 10 failed', '390 running']);
    expect(runTimes.svg_elements).toBeLessThan(300);
    // Every attempt was read (the run's answer, cut, and its attempts' pages after it), and a page of them is shown
    expect(runTimes.tasks_pages).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-testid="attempt-page"]').textContent()).toBe('1–100 of 9,010');
    await expect.poll(() => page.locator('#attempts section[data-task]').count(), { timeout: 60_000 }).toBe(100);
    expect(await page.locator('#timeline .bar').count()).toBe(100);

    // Act: open layer 9, then search a task name
    await group(9).click();
    const list = page.locator('section.dag-layer[data-layer="#9"]');
    await expect.poll(() => list.locator('[data-testid="layer-page"]').textContent()).toContain('1–50 of 1,000');
    expect(await list.locator('tr[data-node]').count()).toBe(50);
    await page.locator('[data-testid="dag-search"]').fill('t8-995');

    // Assess: the layer holding it is marked, its list shows the task with its two attempts
    await expect.poll(() => list.locator('[data-testid="layer-page"]').textContent()).toContain('1–1 of 1 matching “t8-995”');
    const row = list.locator('tr[data-node="t8-995"]');
    expect(await row.getAttribute('data-status')).toBe('failed');
    expect(await row.locator('td').nth(2).textContent()).toBe('2');
    expect(await page.locator('[data-testid="dag"] [data-group][data-matches="1"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-group')))).toEqual(['#9']);
    await page.screenshot({ path: 'test-results/run-10000-tasks-found.png' });

    // Assess: the running run's refresh draws the page anew and keeps the open layer and the search
    await page.locator('[data-testid="dag"]').evaluate((e) => e.setAttribute('data-before-refresh', ''));
    await page.locator('[data-testid="dag"]:not([data-before-refresh])').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid="dag-search"]').inputValue()).toBe('t8-995');
    expect(await page.locator('section.dag-layer[data-layer="#9"] tr[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).toEqual(['t8-995']);

    // Act + Assess: the attempts below, searched by the same name: its two attempts
    await page.locator('[data-testid="attempt-search"]').fill('t8-995');
    await expect.poll(() => page.locator('[data-testid="attempt-page"]').textContent()).toBe('1–2 of 2 matching “t8-995”');
    await expect
      .poll(() => page.locator('#attempts section[data-task="t8-995"] h3').allTextContents(), { timeout: 60_000 })
      .toEqual([expect.stringContaining('attempt 1 failed'), expect.stringContaining('attempt 2 failed')]);
    expect(await page.locator('#timeline .bar').count()).toBe(2);
  }, 600_000);
});
