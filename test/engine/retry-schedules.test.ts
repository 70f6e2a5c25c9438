/**
 * A retried run is the definition's run in progress again (issue 15): overlap_action applies to it as
 * to any run, and the definition counts it once, by its latest outcome
 * (`runs_succeeded + runs_failed` = the distinct runs that ended).
 */
import { describe, expect, it } from 'vitest';
import { shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/**
 * `MODE=fail`: fails its first attempt, succeeds on a retry; `MODE=sleep`: runs until stopped; `MODE=never`:
 * always fails; else succeeds.
 */
const SCRIPT = [
  'if [ "$MODE" = never ]; then exit 1; fi',
  'if [ "$MODE" = fail ] && [ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 0 ]; then exit 1; fi',
  `if [ "$MODE" = sleep ]; then echo up; ${UNTIL_STOPPED}; fi`,
  'echo ok',
].join('\n');

const define = (name: string, overlap: 'wait' | 'terminate') => sundial.define(name, { overlap_action: overlap, task_definitions: [shellScript('a', SCRIPT)] });
const trigger = async (name: string, mode: string): Promise<string> =>
  (await sundial.trigger(name, { environment_variables: [{ variable_name: 'MODE', value: mode }] })).process_id;
const ended = (id: string) => sundial.finished(id);
const logged = (id: string, line: string) =>
  until(
    () => api('GET', `/api/processes/${id}`),
    (r) => r.json.task.some((t: { log_entries: Array<{ message: string }> }) => t.log_entries.some((e) => e.message === line)),
    20_000,
  );
const counts = (name: string, want: { runs_succeeded: number; runs_failed: number }) =>
  until(
    () => api('GET', `/api/process_definitions/${name}`),
    (r) => r.json.runs_succeeded === want.runs_succeeded && r.json.runs_failed === want.runs_failed,
    10_000,
  );

describe('retried runs and schedules', () => {
  it('counts a retried run once, by its latest outcome', async () => {
    // Prepare
    await define('recount', 'wait');
    const flaky = await trigger('recount', 'fail');
    expect((await ended(flaky)).status).toBe('failed');
    await counts('recount', { runs_succeeded: 0, runs_failed: 1 });

    // Act: the retry succeeds; another run fails, and fails again when retried
    expect((await api('POST', `/api/processes/${flaky}/retry`)).status).toBe(201);
    expect((await ended(flaky)).status).toBe('succeeded');
    const hopeless = await trigger('recount', 'never');
    expect((await ended(hopeless)).status).toBe('failed');
    expect((await api('POST', `/api/processes/${hopeless}/retry`)).status).toBe(201);
    expect((await ended(hopeless)).status).toBe('failed');

    // Assess: two distinct runs ended, one succeeded (at its retry), one failed (twice)
    await counts('recount', { runs_succeeded: 1, runs_failed: 1 });
  }, 60_000);

  it('overlap_action terminate: retrying a run kills the run in progress first', async () => {
    // Prepare: a failed run, then another that is running
    await define('retry-terminate', 'terminate');
    const failed = await trigger('retry-terminate', 'fail');
    expect((await ended(failed)).status).toBe('failed');
    const running = await trigger('retry-terminate', 'sleep');
    await logged(running, 'up');

    // Act
    const retried = await api('POST', `/api/processes/${failed}/retry`);

    // Assess
    expect(retried.status, retried.text).toBe(201);
    const other = await ended(running);
    expect(other.status).toBe('failed');
    expect(other.reason).toContain('overlap_action terminate');
    expect((await ended(failed)).status).toBe('succeeded');
    await counts('retry-terminate', { runs_succeeded: 1, runs_failed: 1 });
  }, 60_000);

  it('overlap_action wait: a retry while another run is in progress answers 409, and is accepted once it ended', async () => {
    // Prepare
    await define('retry-wait', 'wait');
    const failed = await trigger('retry-wait', 'fail');
    expect((await ended(failed)).status).toBe('failed');
    const running = await trigger('retry-wait', 'sleep');
    await logged(running, 'up');

    // Act
    const refused = await api('POST', `/api/processes/${failed}/retry`);
    const stillRunning = (await api('GET', `/api/processes/${running}`)).json.status;
    expect((await api('POST', `/api/processes/${running}/kill`)).status).toBe(201);
    const accepted = await api('POST', `/api/processes/${failed}/retry`);

    // Assess
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json.error.message).toContain('overlap_action is wait');
    expect(stillRunning).toBe('running');
    expect(accepted.status, accepted.text).toBe(201);
    expect((await ended(failed)).status).toBe('succeeded');
    await counts('retry-wait', { runs_succeeded: 1, runs_failed: 1 });
  }, 60_000);
});
