/**
 * Schedules end to end in local mode: the in-process scheduler fires ticks into the same tick path the
 * engine Lambda takes deployed. Short buffers and seconds-level interval schedules (allowed locally)
 * keep these fast; cron fire times are checked as pure computations in test/domain/schedule.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextFireTime, toScheduleSpec } from '../../lambdas/domain/schedule';
import { type Api, cronSchedule, type JsonObject, shellTask, startTestSundial, type TestSundial, tempDataDir } from '../helpers/local';

let t: TestSundial;
let api: Api;

beforeAll(async () => {
  t = await startTestSundial();
  api = t.api;
});
afterAll(async () => {
  await t.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function define(a: Api, name: string, overrides: JsonObject): Promise<any> {
  const res = await a('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, task_definitions: [shellTask('only')], ...overrides });
  expect(res.status, res.text).toBeLessThan(300);
  return res.json;
}

/** Runs of a definition, oldest first. */
async function runsOf(a: Api, name: string): Promise<any[]> {
  const res = await a('GET', `/api/processes?process_definition_name=${name}&max_records=100`);
  expect(res.status, res.text).toBe(200);
  return (res.json as any[]).slice().reverse();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const finishedRuns = async (a: Api, name: string, n: number) => {
  const runs = await runsOf(a, name);
  return runs.filter((r) => r.status !== 'running').length >= n ? runs : undefined;
};

/** No two runs overlap: each starts at or after the previous one ended. */
function expectSequential(runs: any[]): void {
  for (let i = 1; i < runs.length; i++) {
    expect(Date.parse(runs[i].start_time)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1].end_time));
  }
}

/** `R<n>/<start>/<duration>` starting `inMs` from now. */
const interval = (count: number | '', inMs: number, duration: string) => ({
  interval_schedule: { repeat: `R${count}/${new Date(Date.now() + inMs).toISOString()}/${duration}` },
});

describe('continuous schedules', () => {
  it('start the next run buffer_seconds after the previous ended, never two at once; pause stops them, resume restarts them', async () => {
    // Prepare & Act: a continuous definition with no run yet starts one at once
    await define(api, 'continuous', { schedule: { continuous_schedule: { buffer_seconds: 1 } } });
    const runs = await waitFor('three runs', () => finishedRuns(api, 'continuous', 3));

    // Assess
    const done = runs.filter((r) => r.status !== 'running');
    for (let i = 1; i < done.length; i++) {
      expect(Date.parse(done[i].start_time) - Date.parse(done[i - 1].end_time)).toBeGreaterThanOrEqual(1000);
    }
    expectSequential(runs);

    // Act: pause
    const paused = await api('POST', '/api/process_definitions/continuous/pause');
    expect(paused.status, paused.text).toBe(200);
    expect(paused.json.paused).toBe(true);
    await waitFor('the run in flight to end', async () => ((await runsOf(api, 'continuous')).every((r) => r.status !== 'running') ? true : undefined));
    const before = (await runsOf(api, 'continuous')).length;
    await sleep(2000);

    // Assess: nothing started while paused
    expect((await runsOf(api, 'continuous')).length).toBe(before);
    expect((await api('GET', '/api/process_definitions/continuous')).json).toMatchObject({ paused: true, next_run_time: null });

    // Act: resume
    const resumed = await api('POST', '/api/process_definitions/continuous/resume');
    expect(resumed.json.paused).toBe(false);

    // Assess: runs start again
    await waitFor('a run after resume', async () => ((await runsOf(api, 'continuous')).length > before ? true : undefined), 5000);
    await api('POST', '/api/process_definitions/continuous/pause');
    await waitFor('the last run to end', async () => ((await runsOf(api, 'continuous')).every((r) => r.status !== 'running') ? true : undefined));
    expectSequential(await runsOf(api, 'continuous'));
  });
});

describe('overlap', () => {
  it('wait: ticks that find a run in progress start one catch-up run when it ends, not a queue', async () => {
    // Prepare: three ticks one second apart, each finding the first run (2.5 s) still running
    await define(api, 'overlap-wait', {
      overlap_action: 'wait',
      task_definitions: [shellTask('slow', { executable: { shell_script_command: { script: 'sleep 2.5' } } })],
      schedule: interval(3, 1000, 'PT1S'),
    });

    // Act
    const runs = await waitFor('two finished runs', () => finishedRuns(api, 'overlap-wait', 2));
    await sleep(1500);

    // Assess
    const all = await runsOf(api, 'overlap-wait');
    expect(all).toHaveLength(2);
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expectSequential(all);
  });

  it('terminate: a tick kills the run in progress, then starts its own', async () => {
    // Prepare
    await define(api, 'overlap-terminate', {
      overlap_action: 'terminate',
      task_definitions: [shellTask('long', { executable: { shell_script_command: { script: 'sleep 30' } } })],
      schedule: interval(2, 1000, 'PT1S'),
    });

    // Act
    const runs = await waitFor('a second run', async () => {
      const all = await runsOf(api, 'overlap-terminate');
      return all.length >= 2 ? all : undefined;
    });

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
    await define(api, 'duplicates', { schedule: cronSchedule() });
    const tick = '2027-01-01T03:00:00.000Z';

    // Act: the same tick delivered three times at once, by three deliveries
    const outcomes = await Promise.all([1, 2, 3].map(() => t.services.schedules.tick('duplicates', tick)));
    const again = await t.services.schedules.tick('duplicates', tick);

    // Assess
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(1);
    expect([...outcomes.filter((o) => o !== 'started'), again]).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await runsOf(api, 'duplicates')).toHaveLength(1);
  });

  it('start nothing while paused, but manual triggers still run', async () => {
    // Prepare
    await define(api, 'paused-tick', { schedule: cronSchedule() });
    await api('POST', '/api/process_definitions/paused-tick/pause');

    // Act
    const outcome = await t.services.schedules.tick('paused-tick', '2027-01-01T03:00:00.000Z');
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
    const created = await define(api, 'stats', { schedule: cronSchedule({ minutes: '0', hours: '3', day_of_month: '1', month: 'JAN' }) });
    expect(created).toMatchObject({ last_run: null, runs_succeeded: 0, runs_failed: 0 });
    const ok = (await api('POST', '/api/process_definitions/stats/trigger')).json;
    await waitFor('the run', async () => ((await api('GET', `/api/processes/${ok.process_id}`)).json.status === 'succeeded' ? true : undefined));
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
    await define(api, 'unscheduled', { schedule: cronSchedule() });
    expect(t.sundial.scheduler.armed()).toContain('unscheduled');
    await define(api, 'unscheduled', {});
    expect(t.sundial.scheduler.armed()).not.toContain('unscheduled');
    await define(api, 'unscheduled', { schedule: cronSchedule() });
    await api('DELETE', '/api/process_definitions/unscheduled');
    expect(t.sundial.scheduler.armed()).not.toContain('unscheduled');
  });
});

describe('restarts', () => {
  it('fire a tick missed while the server was down once, and never again', async () => {
    // Prepare: three ticks that all fall while the server is down
    const dataDir = tempDataDir();
    const first = await startTestSundial(dataDir);
    await define(first.api, 'missed', { schedule: interval(3, 1000, 'PT1S') });
    await first.stop();
    await sleep(3500);

    // Act
    const second = await startTestSundial(dataDir);
    await sleep(1000);
    const afterRestart = await runsOf(second.api, 'missed');
    await second.stop();
    const third = await startTestSundial(dataDir);
    await sleep(1000);
    const afterSecondRestart = await runsOf(third.api, 'missed');
    await third.close();

    // Assess
    expect(afterRestart).toHaveLength(1);
    expect(afterSecondRestart).toHaveLength(1);
  });
});
