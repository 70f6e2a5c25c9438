/**
 * Schedules end to end in local mode: the in-process scheduler fires ticks into the same tick path the
 * engine Lambda takes deployed. Short buffers and seconds-level interval schedules (allowed locally)
 * keep these fast; cron fire times are checked as pure computations in test/domain/schedule.test.ts.
 */
import { join } from 'node:path';
import { QueryCommand } from '../../lambdas/store/sdk';
import { describe, expect, it } from 'vitest';
import { nextFireTime, toScheduleSpec } from '../../lambdas/domain/schedule';
import { keys } from '../../lambdas/store/keys';
import { hold, release, waitWhileHeld } from '../helpers/hold';
import {
  type Api,
  cronSchedule,
  type JsonObject,
  shellScript,
  shellTask,
  startTestSundial,
  sundialPerFile,
  type TestSundial,
  tempDataDir,
  UNTIL_STOPPED,
} from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/** PUTs `name` on `on` (the file's server by default): one quick task unless `overrides` give others. */
const define = (name: string, overrides: JsonObject, on: Pick<TestSundial, 'define'> = sundial) =>
  on.define(name, { task_definitions: [shellTask('only')], ...overrides });

/** Runs of a definition, oldest first. */
async function runsOf(a: Api, name: string): Promise<any[]> {
  const res = await a('GET', `/api/processes?process_definition_name=${name}&max_records=100`);
  expect(res.status, res.text).toBe(200);
  return (res.json as any[]).slice().reverse();
}

const ended = (runs: any[]) => runs.filter((r) => r.status !== 'running');

/** The ticks of a definition that fired, oldest first: each one's scheduled time and what it did (its claim). */
async function ticksOf(s: TestSundial, name: string): Promise<Array<{ time: string; outcome?: string }>> {
  const { doc, tableName } = s.services.store.db;
  const out = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :tick)',
      ExpressionAttributeValues: { ':pk': keys.schedulePartition(name), ':tick': keys.tickPrefix },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((i) => ({ time: String(i.sk).slice(keys.tickPrefix.length), outcome: i.outcome as string | undefined }));
}

/** No two runs overlap: each starts at or after the previous one ended. */
function expectSequential(runs: any[]): void {
  for (let i = 1; i < runs.length; i++) {
    expect(Date.parse(runs[i].start_time)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1].end_time));
  }
}

/**
 * `R<n>/<start>/<duration>` starting on the first whole second `inMs` from now: ticks on whole seconds,
 * as EventBridge Scheduler delivers them (a tick's scheduled time, and so `last_tick`, counts whole seconds).
 */
const interval = (count: number | '', inMs: number, duration: string) => ({
  interval_schedule: { repeat: `R${count}/${new Date(Math.ceil((Date.now() + inMs) / 1000) * 1000).toISOString()}/${duration}` },
});

describe('continuous schedules', () => {
  it('start the next run buffer_seconds after the previous ended, never two at once; pause stops them, resume restarts them', async () => {
    // Prepare & Act: a continuous definition with no run yet starts one at once; its runs end at once
    // unless the hold exists
    const holdFifo = join(sundial.current().dataDir, 'continuous-hold');
    await define('continuous', {
      schedule: { continuous_schedule: { buffer_seconds: 1 } },
      task_definitions: [shellScript('only', waitWhileHeld(holdFifo))],
    });
    const runs = await until(() => runsOf(api, 'continuous'), (rs) => ended(rs).length >= 3, 15_000);

    // Assess
    const done = ended(runs);
    for (let i = 1; i < done.length; i++) {
      expect(Date.parse(done[i].start_time) - Date.parse(done[i - 1].end_time)).toBeGreaterThanOrEqual(1000);
    }
    expectSequential(runs);

    // Act: pause while a run is held (so that no run ends during the pause), then let it end
    hold(holdFifo);
    const heldSince = Date.now();
    const held = await until(() => runsOf(api, 'continuous'), (rs) => rs.some((r) => r.status === 'running' && Date.parse(r.start_time) > heldSince), 15_000);
    const paused = await api('POST', '/api/process_definitions/continuous/pause');
    expect(paused.status, paused.text).toBe(200);
    expect(paused.json.paused).toBe(true);
    await release(holdFifo);
    await sundial.settled(held.at(-1).process_id); // what its end would arrange is arranged

    // Assess: nothing is due while paused: no run started, no tick armed, no next run time
    expect(await runsOf(api, 'continuous')).toHaveLength(held.length);
    expect(sundial.current().sundial.scheduler.armed()).not.toContain('continuous');
    expect((await api('GET', '/api/process_definitions/continuous')).json).toMatchObject({ paused: true, next_run_time: null });

    // Act: resume
    const resumed = await api('POST', '/api/process_definitions/continuous/resume');
    expect(resumed.json.paused).toBe(false);

    // Assess: runs start again
    await until(() => runsOf(api, 'continuous'), (rs) => rs.length > held.length, 5000);
    await api('POST', '/api/process_definitions/continuous/pause');
    expectSequential(await until(() => runsOf(api, 'continuous'), (rs) => rs.every((r) => r.status !== 'running')));
  });
});

describe('overlap', () => {
  it('wait: ticks that find a run in progress start one catch-up run when it ends, not a queue', async () => {
    // Prepare: three ticks one second apart; the first run lasts until the test lets it end, so that
    // both later ticks find it running (the catch-up run finds the hold gone and ends at once)
    const holdFifo = join(sundial.current().dataDir, 'overlap-wait-hold');
    hold(holdFifo);
    await define('overlap-wait', {
      overlap_action: 'wait',
      task_definitions: [shellScript('slow', waitWhileHeld(holdFifo))],
      schedule: interval(3, 1500, 'PT1S'),
    });

    // Act: the three ticks fire, then the first run ends
    const ticks = await until(() => ticksOf(sundial.current(), 'overlap-wait'), (ts) => ts.length === 3 && ts.every((x) => x.outcome), 15_000);
    await release(holdFifo);
    const runs = await until(() => runsOf(api, 'overlap-wait'), (rs) => ended(rs).length >= 2);
    await sundial.settled(runs[1].process_id); // what the catch-up's end would start has started

    // Assess
    expect(ticks.map((x) => x.outcome)).toEqual(['started', 'deferred', 'deferred']);
    const all = await runsOf(api, 'overlap-wait');
    expect(all).toHaveLength(2);
    expect(all.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expectSequential(all);
  });

  it('terminate: a tick kills the run in progress, then starts its own', async () => {
    // Prepare
    await define('overlap-terminate', {
      overlap_action: 'terminate',
      task_definitions: [shellScript('long', UNTIL_STOPPED)],
      schedule: interval(2, 1000, 'PT1S'),
    });

    // Act
    const runs = await until(() => runsOf(api, 'overlap-terminate'), (rs) => rs.length >= 2, 15_000);

    // Assess
    const [first, second] = runs;
    expect(first.status).toBe('failed');
    expect(first.reason).toContain('overlap_action terminate');
    expect(second.status).toBe('running');
    expect(Date.parse(second.start_time)).toBeGreaterThanOrEqual(Date.parse(first.end_time));
    await api('POST', `/api/processes/${second.process_id}/kill`);
  });
});

describe('ticks', () => {
  it('start exactly one run per tick, however often it is delivered', async () => {
    // Prepare
    await define('duplicates', { schedule: cronSchedule() });
    const tick = '2027-01-01T03:00:00.000Z';

    // Act: the same tick delivered three times at once, by three deliveries
    const outcomes = await Promise.all([1, 2, 3].map(() => sundial.current().services.schedules.tick('duplicates', tick)));
    const again = await sundial.current().services.schedules.tick('duplicates', tick);

    // Assess
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(1);
    expect([...outcomes.filter((o) => o !== 'started'), again]).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await runsOf(api, 'duplicates')).toHaveLength(1);
  });

  it('start nothing while paused, but manual triggers still run', async () => {
    // Prepare
    await define('paused-tick', { schedule: cronSchedule() });
    await api('POST', '/api/process_definitions/paused-tick/pause');

    // Act
    const outcome = await sundial.current().services.schedules.tick('paused-tick', '2027-01-01T03:00:00.000Z');
    const manual = await api('POST', '/api/process_definitions/paused-tick/trigger');

    // Assess
    expect(outcome).toBe('skipped_paused');
    expect(manual.status, manual.text).toBe(201);
    expect(await runsOf(api, 'paused-tick')).toHaveLength(1);
  });

  it('refuse an interval schedule whose start has passed, or that the scheduler cannot fire', async () => {
    const past = await api('PUT', '/api/process_definitions/past', {
      process_definition_name: 'past',
      task_definitions: [shellTask('only')],
      schedule: { interval_schedule: { repeat: 'R5/2020-01-01T00:00:00Z/PT10M' } },
    });
    expect(past.status).toBe(400);
    expect(past.json.error).toMatchObject({ code: 'invalid_schedule', field: 'schedule.interval_schedule.repeat' });
    expect((await api('GET', '/api/process_definitions/past')).status).toBe(404);
  });
});

describe('definition stats', () => {
  it('answer next_run_time, last_run and the counts of succeeded and failed runs', async () => {
    // Prepare
    const created = await define('stats', { schedule: cronSchedule({ minutes: '0', hours: '3', day_of_month: '1', month: 'JAN' }) });
    expect(created).toMatchObject({ last_run: null, runs_succeeded: 0, runs_failed: 0 });
    const ok = (await api('POST', '/api/process_definitions/stats/trigger')).json;
    expect((await sundial.finished(ok.process_id)).status).toBe('succeeded');
    const bad = (await api('POST', '/api/process_definitions/stats/trigger')).json;
    await api('POST', `/api/processes/${bad.process_id}/kill`);

    // Act
    const res = await api('GET', '/api/process_definitions/stats');

    // Assess
    const spec = toScheduleSpec({ cron_schedule: { minutes: '0', hours: '3', day_of_month: '1', month: 'JAN', day_of_week: '?' } }, { now: new Date(), minIntervalSeconds: 60 })!;
    expect(res.json).toMatchObject({
      next_run_time: nextFireTime(spec, new Date())!.toISOString(),
      last_run: { process_id: bad.process_id, status: 'failed', start_time: bad.start_time },
      runs_succeeded: 1,
      runs_failed: 1,
    });
    expect(res.json.last_run.end_time).toBeDefined();
  });

  it('have a schedule only while the definition does: DELETE and a PUT without schedule remove it', async () => {
    await define('unscheduled', { schedule: cronSchedule() });
    expect(sundial.current().sundial.scheduler.armed()).toContain('unscheduled');
    await define('unscheduled', {});
    expect(sundial.current().sundial.scheduler.armed()).not.toContain('unscheduled');
    await define('unscheduled', { schedule: cronSchedule() });
    await api('DELETE', '/api/process_definitions/unscheduled');
    expect(sundial.current().sundial.scheduler.armed()).not.toContain('unscheduled');
  });
});

describe('restarts', () => {
  it('fire a tick missed while the server was down once, and never again', async () => {
    // Prepare: three ticks that all fall while the server is down
    const dataDir = tempDataDir();
    const first = await startTestSundial(dataDir);
    const schedule = interval(3, 2000, 'PT1S');
    const lastTick = Date.parse(schedule.interval_schedule.repeat.split('/')[1]!) + 2000;
    await define('missed', { schedule }, first);
    await first.stop();
    await until(async () => Date.now(), (now) => now > lastTick);

    // Act: restart twice; a server answers once it has restored the schedules (local/server.ts)
    const logs: string[][] = [[], []];
    const second = await startTestSundial(dataDir, { log: (line) => logs[0]!.push(line) });
    const afterRestart = { runs: await runsOf(second.api, 'missed'), ticks: await ticksOf(second, 'missed') };
    await second.stop();
    const third = await startTestSundial(dataDir, { log: (line) => logs[1]!.push(line) });
    const afterSecondRestart = { runs: await runsOf(third.api, 'missed'), ticks: await ticksOf(third, 'missed') };
    await third.close();

    // Assess: the first restart fired the newest missed tick and started its run; the second fired nothing
    const [fired, firedAgain] = logs.map((lines) => lines.filter((l) => l.includes('firing the missed tick')));
    expect(fired).toEqual([expect.stringMatching(/^info firing the missed tick \S+ of missed once$/)]);
    const missed = /tick (\S+) of/.exec(fired![0]!)![1]!;
    expect(Date.parse(missed)).toBe(lastTick);
    expect(afterRestart.ticks).toEqual([{ time: missed, outcome: 'started' }]);
    expect(afterRestart.runs).toHaveLength(1);
    expect(firedAgain).toEqual([]);
    expect(afterSecondRestart.ticks).toEqual(afterRestart.ticks);
    expect(afterSecondRestart.runs).toHaveLength(1);
  });
});
