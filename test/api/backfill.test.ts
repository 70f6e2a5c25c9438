/**
 * `POST /api/process_definitions/{name}/backfill` over HTTP in local mode (issue 16 item 3, Airflow's and
 * Temporal's backfill): one run per cron occurrence in the window, oldest first, one after another, each
 * with its logical time; what is refused; one backfill at a time; overlap_action never ends a backfill's
 * run; a paused definition is backfilled; a deleted one drops what is left; GET shows a backfill and DELETE
 * cancels what it has not started.
 */
import { describe, expect, it } from 'vitest';
import { cronSchedule, shellScript, startTestSundial, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/** Hourly on January 1st only: three occurrences from 00:00 to 02:00, and no tick while tests run. */
const JAN_1_HOURLY = cronSchedule({ hours: '*', day_of_month: '1', month: 'JAN' });
const WINDOW = { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T02:00:00Z' };
const OCCURRENCES = ['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z'];

/** The first occurrence runs until stopped (after printing `up`); the others print their time. */
const HOLD_FIRST = `if [ "$SUNDIAL_SCHEDULED_TIME" = "${OCCURRENCES[0]}" ]; then echo up; ${UNTIL_STOPPED}; fi; echo "at $SUNDIAL_SCHEDULED_TIME"`;

const backfill = (name: string, body: unknown) => api('POST', `/api/process_definitions/${name}/backfill`, body);
const get = (id: string) => api('GET', `/api/processes/${id}`);
const messages = (run: { task: Array<{ log_entries: Array<{ message: string }> }> }) => run.task.flatMap((t) => t.log_entries.map((e) => e.message));
const printed = (id: string, line: string) => until(() => get(id), (r) => r.status === 200 && messages(r.json).includes(line));
/** The run ids a backfill answered (it must have answered 201). */
const ids = (res: { status: number; text: string; json: { occurrences: Array<{ process_id: string }> } }): string[] => {
  expect(res.status, res.text).toBe(201);
  return res.json.occurrences.map((o) => o.process_id);
};

describe('backfill', () => {
  it('starts one run per occurrence in the window (both ends included), oldest first, one after another, each with its logical time', async () => {
    // Prepare
    await sundial.define('bf-hourly', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('load', 'echo "at $SUNDIAL_SCHEDULED_TIME"')] });

    // Act
    const res = await backfill('bf-hourly', WINDOW);
    const runs: any[] = [];
    for (const id of ids(res)) runs.push(await sundial.finished(id));

    // Assess: 201 with the occurrences queued, and the runs as asked
    expect(res.status, res.text).toBe(201);
    expect(res.json.process_definition_name).toBe('bf-hourly');
    expect(res.json.occurrences.map((o: { scheduled_time: string }) => o.scheduled_time)).toEqual(OCCURRENCES);
    expect(new Set(ids(res)).size).toBe(3);
    runs.forEach((run, i) => {
      expect(run.status).toBe('succeeded');
      expect(run.trigger).toMatchObject({ kind: 'backfill', by: 'local', scheduled_time: OCCURRENCES[i] });
      expect(messages(run)).toContain(`at ${OCCURRENCES[i]}`);
      if (i > 0) expect(Date.parse(run.start_time)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1].end_time));
    });
    const listed = await api('GET', '/api/processes?process_definition_name=bf-hourly&trigger_kind=backfill');
    expect(listed.json).toHaveLength(3);
  }, 60_000);

  it('refuses what it cannot run: 404, a definition without cron (schedule), a window backwards or too large (end_time), a bad max_runs or time', async () => {
    // Prepare
    await sundial.define('bf-cron', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', 'true')] });
    await sundial.define('bf-none', [shellScript('a', 'true')]);
    await sundial.define('bf-interval', { schedule: { interval_schedule: { repeat: 'R/2030-01-01T00:00:00Z/PT1H' } }, task_definitions: [shellScript('a', 'true')] });

    // Act
    const unknown = await backfill('bf-missing', WINDOW);
    const none = await backfill('bf-none', WINDOW);
    const interval = await backfill('bf-interval', WINDOW);
    const backwards = await backfill('bf-cron', { start_time: WINDOW.end_time, end_time: WINDOW.start_time });
    const tooMany = await backfill('bf-cron', { ...WINDOW, max_runs: 2 });
    const badMax = await backfill('bf-cron', { ...WINDOW, max_runs: 1001 });
    const localTime = await backfill('bf-cron', { ...WINDOW, start_time: '2026-01-01T00:00:00' });
    const typo = await backfill('bf-cron', { ...WINDOW, max_run: 2 });
    const empty = await backfill('bf-cron', { start_time: '2026-02-01T00:00:00Z', end_time: '2026-03-01T00:00:00Z' });

    // Assess
    expect(unknown.status).toBe(404);
    expect(none.status).toBe(400);
    expect(none.json.error).toMatchObject({ field: 'schedule', code: 'not_cron' });
    expect(interval.json.error).toMatchObject({ field: 'schedule', code: 'not_cron' });
    expect(backwards.status).toBe(400);
    expect(backwards.json.error).toMatchObject({ field: 'end_time', code: 'invalid_window' });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error).toMatchObject({ field: 'end_time', code: 'too_many_runs' });
    expect(tooMany.json.error.message).toContain('holds 3 occurrences');
    expect(badMax.json.error.field).toBe('max_runs');
    expect(localTime.json.error.field).toBe('start_time');
    expect(typo.json.error).toMatchObject({ field: 'max_run', code: 'unknown_field' });
    expect(empty.status).toBe(201);
    expect(empty.json.occurrences).toEqual([]);
    expect((await api('GET', '/api/processes?process_definition_name=bf-cron')).json).toEqual([]);
  }, 60_000);

  it('one backfill at a time (409); overlap_action terminate never ends its run: a trigger waits, runs before the next occurrence', async () => {
    // Prepare: the first occurrence runs until killed
    await sundial.define('bf-terminate', { schedule: JAN_1_HOURLY, overlap_action: 'terminate', task_definitions: [shellScript('a', HOLD_FIRST)] });
    const first = await backfill('bf-terminate', WINDOW);
    const [held, second, third] = ids(first);
    await printed(held!, 'up');

    // Act
    const again = await backfill('bf-terminate', WINDOW);
    const manual = await sundial.trigger('bf-terminate');
    const heldMeanwhile = (await get(held!)).json;
    expect((await api('POST', `/api/processes/${held}/kill`)).status).toBe(201);
    const manualRun = await sundial.finished(manual.process_id);
    const secondRun = await sundial.finished(second!);
    const thirdRun = await sundial.finished(third!);
    const afterwards = await backfill('bf-terminate', { start_time: '2026-01-01T01:00:00Z', end_time: '2026-01-01T01:30:00Z' });

    // Assess
    expect(again.status).toBe(409);
    expect(again.json.error.message).toContain('2 occurrences still to start');
    expect(manual.queued).toBe(true); // not a kill of the backfill's run
    expect(heldMeanwhile.status).toBe('running');
    const killed = (await get(held!)).json;
    expect(killed.reason).toBe('killed by operator'); // kill is per run; the backfill went on
    expect(manualRun.trigger.kind).toBe('manual');
    // The live run goes first, then the occurrences in order, one after another
    expect(Date.parse(manualRun.start_time)).toBeGreaterThanOrEqual(Date.parse(killed.end_time));
    expect(Date.parse(secondRun.start_time)).toBeGreaterThanOrEqual(Date.parse(manualRun.end_time));
    expect(Date.parse(thirdRun.start_time)).toBeGreaterThanOrEqual(Date.parse(secondRun.end_time));
    expect(messages(thirdRun)).toContain(`at ${OCCURRENCES[2]}`);
    expect(afterwards.status, afterwards.text).toBe(201);
    await sundial.finished(ids(afterwards)[0]!);
  }, 90_000);

  it('a tick that meets a backfill\'s run with overlap_action terminate defers, and its catch-up goes before the next occurrence', async () => {
    // Prepare
    await sundial.define('bf-tick', { schedule: JAN_1_HOURLY, overlap_action: 'terminate', task_definitions: [shellScript('a', HOLD_FIRST)] });
    const [held, second] = ids(await backfill('bf-tick', { ...WINDOW, end_time: '2026-01-01T01:00:00Z' }));
    await printed(held!, 'up');

    // Act
    const outcome = await sundial.current().services.schedules.tick('bf-tick', '2027-01-01T05:00:00Z');
    const heldMeanwhile = (await get(held!)).json.status;
    expect((await api('POST', `/api/processes/${held}/kill`)).status).toBe(201);
    const secondRun = await sundial.finished(second!);
    const catchUp = (await api('GET', '/api/processes?process_definition_name=bf-tick&trigger_kind=schedule')).json;

    // Assess
    expect(outcome).toBe('deferred');
    expect(heldMeanwhile).toBe('running');
    expect(catchUp).toHaveLength(1);
    expect(catchUp[0].trigger.scheduled_time).toBe('2027-01-01T05:00:00.000Z');
    expect(Date.parse(secondRun.start_time)).toBeGreaterThanOrEqual(Date.parse((await sundial.finished(catchUp[0].process_id)).end_time));
  }, 60_000);

  it('GET shows where each occurrence is; DELETE cancels those not started (the started run goes on, nothing more starts), then a new backfill is accepted', async () => {
    // Prepare: the first occurrence runs until killed
    await sundial.define('bf-cancel', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', HOLD_FIRST)] });
    const never = await api('GET', '/api/process_definitions/bf-cancel/backfill');
    const [held, second, third] = ids(await backfill('bf-cancel', WINDOW));
    await printed(held!, 'up');

    // Act
    const before = await api('GET', '/api/process_definitions/bf-cancel/backfill');
    const cancel = await api('DELETE', '/api/process_definitions/bf-cancel/backfill');
    const again = await api('DELETE', '/api/process_definitions/bf-cancel/backfill');
    const heldMeanwhile = (await get(held!)).json.status;
    expect((await api('POST', `/api/processes/${held}/kill`)).status).toBe(201);
    await sundial.settled(held!);
    const after = await api('GET', '/api/process_definitions/bf-cancel/backfill');
    const next = await backfill('bf-cancel', { start_time: '2026-01-01T01:00:00Z', end_time: '2026-01-01T01:30:00Z' });

    // Assess
    expect(never.status).toBe(404);
    expect(before.status).toBe(200);
    expect(before.json.occurrences.map((o: { state: string }) => o.state)).toEqual(['started', 'waiting', 'waiting']);
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.json).toMatchObject({ process_definition_name: 'bf-cancel', cancelled_by: 'local' });
    expect(cancel.json.occurrences).toEqual([
      { scheduled_time: OCCURRENCES[0], process_id: held, state: 'started' },
      { scheduled_time: OCCURRENCES[1], process_id: second, state: 'cancelled' },
      { scheduled_time: OCCURRENCES[2], process_id: third, state: 'cancelled' },
    ]);
    expect(again.status).toBe(404);
    expect(again.json.error.message).toContain('no backfill with occurrences left to start');
    expect(heldMeanwhile).toBe('running');
    expect((await get(second!)).status).toBe(404);
    expect((await get(third!)).status).toBe(404);
    expect(after.json).toEqual(cancel.json);
    expect((await sundial.finished(ids(next)[0]!)).status).toBe('succeeded');
  }, 60_000);

  it('a paused definition is backfilled (an explicit request); a deleted one drops the occurrences left', async () => {
    // Prepare
    await sundial.define('bf-paused', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', 'echo ran')] });
    expect((await api('POST', '/api/process_definitions/bf-paused/pause')).status).toBe(200);
    await sundial.define('bf-deleted', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', HOLD_FIRST)] });
    const deleted = ids(await backfill('bf-deleted', WINDOW));
    await printed(deleted[0]!, 'up');

    // Act
    const paused = await backfill('bf-paused', { ...WINDOW, max_runs: 3 });
    expect((await api('DELETE', '/api/process_definitions/bf-deleted')).status).toBe(204);
    expect((await api('POST', `/api/processes/${deleted[0]}/kill`)).status).toBe(201);
    await sundial.settled(deleted[0]!);

    // Assess
    expect(paused.status, paused.text).toBe(201);
    for (const id of ids(paused)) expect((await sundial.finished(id)).status).toBe('succeeded');
    for (const id of deleted.slice(1)) expect((await get(id)).status).toBe(404);
  }, 60_000);

  it('goes on after a restart of the local server whose stop ended the run it waited for', async () => {
    // Prepare: the first occurrence runs until the server stops
    const first = await startTestSundial();
    await first.define('bf-restart', { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', HOLD_FIRST)] });
    const queued = await first.api('POST', '/api/process_definitions/bf-restart/backfill', WINDOW);
    const [held, ...rest] = ids(queued);
    await until(() => first.api('GET', `/api/processes/${held}`), (r) => r.status === 200 && messages(r.json).includes('up'));

    // Act
    await first.stop();
    const second = await startTestSundial(first.dataDir);
    try {
      const runs: any[] = [];
      for (const id of rest) runs.push(await second.finished(id));

      // Assess
      expect((await second.api('GET', `/api/processes/${held}`)).json.status).toBe('failed');
      expect(runs.map((r) => [r.status, r.trigger.scheduled_time])).toEqual([
        ['succeeded', OCCURRENCES[1]],
        ['succeeded', OCCURRENCES[2]],
      ]);
    } finally {
      await second.close();
    }
  }, 90_000);
});
