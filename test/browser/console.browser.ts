/**
 * The web console in a real browser (Debian's Chromium, driven by playwright-core) against the local
 * mode: definitions created through the API, runs triggered and killed from the console. Screenshots
 * go to test-results/.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependsOn, shellTask, startTestSundial, type TestSundial } from '../helpers/local';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = 'test-results';

let t: TestSundial;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  t = await startTestSundial();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function define(name: string, tasks: unknown[], extra: Record<string, unknown> = {}): Promise<void> {
  const res = await t.api('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, task_definitions: tasks, ...extra });
  expect(res.status, res.text).toBe(201);
}

describe('web console', () => {
  it('triggers a run from the console and shows its DAG turn green', async () => {
    // Prepare: a diamond with one optional dependency, created through the API
    await define(
      'browser-diamond',
      [
        shellTask('extract', { executable: { shell_script_command: { script: 'echo hello from extract; sleep 0.5' } } }),
        shellTask('clean', { dependencies: [dependsOn('extract')] }),
        shellTask('audit', { dependencies: [dependsOn('extract', false)], executable: { shell_script_command: { script: 'echo audited >&2' } } }),
        shellTask('load', { dependencies: [dependsOn('clean'), dependsOn('audit')] }),
      ],
      { process_description: 'a diamond', schedule: { cron_schedule: { minutes: '0', hours: '2', day_of_month: '?', month: '*', day_of_week: '*' } } },
    );

    // Act: from the list of definitions to the definition, then Trigger
    await page.goto(`${t.url}/`);
    await page.locator('[data-testid="definitions"] tr[data-name="browser-diamond"] a').click();
    await page.locator('button[data-action="trigger"]').click();
    await page.waitForURL(/#\/run\//);

    // Assess: every node turns green; the optional dependency is dashed; output is shown
    const dag = page.locator('[data-testid="dag"]');
    await dag.locator('[data-node="load"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    for (const name of ['extract', 'clean', 'audit', 'load']) {
      expect(await dag.locator(`[data-node="${name}"]`).getAttribute('data-status')).toBe('succeeded');
    }
    expect(await dag.locator('path.edge').count()).toBe(4);
    expect(await dag.locator('path.edge.optional').getAttribute('data-edge')).toBe('extract->audit');
    await page.locator('h1 .pill[data-status="succeeded"]').waitFor();
    await expect.poll(() => page.locator('[data-task="extract"] [data-testid="output"]').textContent()).toContain('hello from extract');
    expect(await page.locator('[data-task="audit"] [data-testid="output"] .stderr').textContent()).toBe('audited');
    expect(await page.locator('#timeline .bar').count()).toBe(4);
    await page.screenshot({ path: `${SHOTS}/run-succeeded.png`, fullPage: true });

    // and the definitions page shows the run as a green square
    await page.goto(`${t.url}/#/`);
    await page.locator('tr[data-name="browser-diamond"] .sq.succeeded').waitFor();
    await page.screenshot({ path: `${SHOTS}/definitions.png`, fullPage: true });
  });

  it('kills a long run from its page', async () => {
    // Prepare
    await define('browser-long', [shellTask('forever', { executable: { shell_script_command: { script: 'echo started; sleep 120' } } })]);
    await page.goto(`${t.url}/#/def/browser-long`);
    await page.locator('button[data-action="trigger"]').click();
    await page.waitForURL(/#\/run\//);
    await page.locator('[data-testid="dag"] [data-node="forever"][data-status="running"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${SHOTS}/run-running.png`, fullPage: true });

    // Act
    await page.locator('button[data-action="kill"]').click();

    // Assess
    await page.locator('h1 .pill[data-status="failed"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="dag"] [data-node="forever"][data-status="failed"]').waitFor();
    expect(await page.locator('main').textContent()).toContain('killed by operator');
    expect(await page.locator('button[data-action="retry"]').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/run-killed.png`, fullPage: true });
  });

  it('pauses and resumes a definition', async () => {
    await page.goto(`${t.url}/#/def/browser-diamond`);
    await page.locator('button[data-action="pause"]').click();
    await page.locator('button[data-action="resume"]').waitFor();
    expect((await t.api('GET', '/api/process_definitions/browser-diamond')).json.paused).toBe(true);
    await page.locator('button[data-action="resume"]').click();
    await page.locator('button[data-action="pause"]').waitFor();
    expect((await t.api('GET', '/api/process_definitions/browser-diamond')).json.paused).toBe(false);
  });
});
