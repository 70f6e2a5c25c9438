/**
 * The console and what starts a run (docs/TRIGGERS.md), in a real browser against the local mode: a
 * definition's parameters asked for at Trigger, a run's trigger and parameters on its page, and manual
 * runs marked apart from scheduled ones in the runs table and the definitions' squares.
 */
import { describe, expect, it } from 'vitest';
import { stableUuid } from '../../lambdas/domain/ids';
import { cronSchedule, shellScript } from '../helpers/local';
import { browserPerFile } from './support';

const session = browserPerFile();

describe('console: parameters and provenance', () => {
  it('asks for the parameters at Trigger, and shows the run started by hand with them, apart from a scheduled run', async () => {
    const { t, page } = session;
    // Prepare: a scheduled definition with parameters, and one of its scheduled runs
    await t.define('browser-params', {
      schedule: cronSchedule(),
      parameters: [
        { name: 'REGION', kind: 'required', default: 'us' },
        { name: 'MODE', kind: 'static', default: 'full' },
      ],
      task_definitions: [shellScript('print', 'echo "REGION=$REGION MODE=$MODE"')],
    });
    const tick = '2026-12-03T10:00:00.000Z';
    await t.services.schedules.tick('browser-params', tick);
    await t.settled(stableUuid('browser-params', 'tick', tick));

    // Act: give REGION and trigger from the definition's page
    await page.goto(`${t.url}/#/def/browser-params`);
    await page.locator('[data-testid="parameters"] input[data-parameter="REGION"]').fill('eu');
    expect(await page.locator('[data-testid="parameters"] input[data-parameter="MODE"]').count()).toBe(0); // static: shown, not asked
    await page.locator('button[data-action="trigger"]').click();
    await page.waitForURL(/#\/run\//);

    // Assess: the run's page says who started it and with what
    await expect.poll(() => page.locator('[data-testid="trigger"] [data-trigger]').getAttribute('data-trigger')).toBe('manual');
    expect(await page.locator('[data-testid="trigger"]').textContent()).toContain('by local');
    expect(await page.locator('[data-testid="run-parameters"]').textContent()).toContain('REGIONeugiven');
    await expect.poll(() => page.locator('[data-task="print"] [data-testid="output"]').textContent(), { timeout: 30_000 }).toContain('REGION=eu MODE=full');

    // Assess: the definition's runs, the manual one marked apart from the scheduled one
    await page.goto(`${t.url}/#/def/browser-params`);
    const kinds = page.locator('[data-testid="runs"] [data-trigger]');
    await expect.poll(() => kinds.evaluateAll((els) => els.map((e) => e.getAttribute('data-trigger')))).toEqual(['manual', 'schedule']);
    expect(await kinds.allTextContents()).toEqual(['manual', 'scheduled']);
    await page.goto(`${t.url}/#/`);
    const squares = page.locator('[data-testid="definitions"] tr[data-name="browser-params"] .sq');
    await expect.poll(() => squares.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-trigger')} ${getComputedStyle(e).borderRadius}`))).toEqual(['schedule 2px', 'manual 50%']);
  });

  it('a required parameter left empty: the API refuses the trigger and the console says why', async () => {
    const { t, page } = session;
    // Prepare
    await t.define('browser-required', { parameters: [{ name: 'REGION', kind: 'required' }], task_definitions: [shellScript('print', 'true')] });
    // Act
    await page.goto(`${t.url}/#/def/browser-required`);
    await page.locator('button[data-action="trigger"]').click();
    // Assess
    await expect.poll(() => page.locator('[data-testid="error"]').textContent()).toContain('parameters.REGION is required');
  });
});
