/**
 * The console and runs started by backfill and by upstream definitions (docs/TRIGGERS.md), in a real
 * browser against the local mode: a definition's page says what starts it, a downstream run's page links
 * to the upstream run that started it, and a backfill's runs carry their badge and scheduled time.
 */
import { describe, expect, it } from 'vitest';
import { cronSchedule, shellScript } from '../helpers/local';
import { until } from '../helpers/until';
import { browserPerFile } from './support';

const session = browserPerFile();

describe('console: backfill and upstream runs', () => {
  it('shows what starts a definition, links a downstream run to its upstream run, and marks backfilled runs', async () => {
    const { t, page } = session;
    // Prepare: extract (on January 1st at 03:00) and load after it; one backfilled occurrence of extract
    await t.define('browser-extract', { schedule: cronSchedule(), task_definitions: [shellScript('x', 'true')] });
    await t.define('browser-load', { upstream: [{ process_definition_name: 'browser-extract', when: 'finished' }], task_definitions: [shellScript('y', 'true')] });
    const backfill = await t.api('POST', '/api/process_definitions/browser-extract/backfill', { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T23:59:59Z' });
    const extract = backfill.json.occurrences[0].process_id;
    await t.settled(extract);
    const [load] = await until(() => t.api('GET', '/api/processes?process_definition_name=browser-load').then((r) => r.json), (runs) => runs.length === 1);

    // Act + Assess: the downstream definition says what starts it
    await page.goto(`${t.url}/#/def/browser-load`);
    await expect.poll(() => page.locator('[data-testid="upstream"]').textContent()).toBe('Starts after browser-extract finished');

    // Act + Assess: its run links to the upstream run, a backfilled run with its occurrence
    await page.goto(`${t.url}/#/run/${load.process_id}`);
    await expect.poll(() => page.locator('[data-testid="trigger"] [data-trigger]').getAttribute('data-trigger')).toBe('upstream');
    await page.locator('[data-testid="upstream-run"]').click();
    await page.waitForURL(new RegExp(`#/run/${extract}$`));
    await expect.poll(() => page.locator('[data-testid="trigger"] [data-trigger]').getAttribute('data-trigger')).toBe('backfill');
    expect(await page.locator('[data-testid="trigger"]').textContent()).toContain('by local');
  });
});
