/**
 * Provenance and logical time over HTTP in the local mode (issue 16 items 2 and 3, docs/TRIGGERS.md):
 * every run answers what started it (`trigger`), every task gets `SUNDIAL_SCHEDULED_TIME`, a retry keeps
 * the trigger it replaced, runs stored before answer a derived trigger, and `GET /api/processes`
 * filters by `trigger_kind`. Deployed, `by` is the IAM principal from the authorizer (the real route,
 * handed an event as API Gateway builds it).
 */
import { describe, expect, it } from 'vitest';
import { operatorRoutes } from '../../lambdas/api/routes';
import { stableUuid } from '../../lambdas/domain/ids';
import { cronSchedule, httpEvent, listAllPages, seedRun, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/** Prints its logical time; `HOLD=1` then runs until stopped, `FAIL=1` then fails. */
const SCRIPT = `echo "at $SUNDIAL_SCHEDULED_TIME"; if [ "$HOLD" = 1 ]; then echo up; ${UNTIL_STOPPED}; fi; [ "$FAIL" != 1 ]`;
const define = (name: string, rest: Record<string, unknown> = {}) => sundial.define(name, { task_definitions: [shellScript('a', SCRIPT)], ...rest });
const env = (name: string) => ({ environment_variables: [{ variable_name: name, value: '1' }] });
const get = async (id: string) => (await api('GET', `/api/processes/${id}`)).json;
const printed = (run: { task: Array<{ log_entries: Array<{ message: string }> }> }) => run.task.flatMap((t) => t.log_entries.map((e) => e.message));
const holding = (id: string) => until(() => get(id), (run) => run?.task && printed(run).includes('up'));

describe('the trigger of a run', () => {
  it('a manual run: by local, at its start, its logical time the trigger time (SUNDIAL_SCHEDULED_TIME)', async () => {
    // Prepare
    await define('manual');
    // Act
    const started = await sundial.trigger('manual');
    const run = await sundial.finished(started.process_id);
    // Assess
    const trigger = { kind: 'manual', by: 'local', at: run.start_time, scheduled_time: run.start_time };
    expect(started.trigger).toEqual(trigger);
    expect(run.trigger).toEqual(trigger);
    expect(printed(run)).toContain(`at ${run.start_time}`);
    expect((await api('GET', '/api/processes?process_definition_name=manual')).json[0].trigger).toEqual(trigger);
  });

  it('a scheduled run: by schedule:<name>, its logical time the occurrence it stands for', async () => {
    // Prepare
    await define('ticked', { schedule: cronSchedule() });
    const tick = '2026-12-03T10:00:00.000Z';
    // Act
    await sundial.current().services.schedules.tick('ticked', tick);
    const run = await sundial.finished(stableUuid('ticked', 'tick', tick));
    // Assess
    expect(run.trigger).toEqual({ kind: 'schedule', by: 'schedule:ticked', at: run.start_time, scheduled_time: tick });
    expect(printed(run)).toContain(`at ${tick}`);
  });

  it("a deferred tick's catch-up (overlap wait) stands for that tick", async () => {
    // Prepare: a manual run in progress, then a tick
    await define('deferred', { schedule: cronSchedule(), overlap_action: 'wait' });
    const first = (await sundial.trigger('deferred', env('HOLD'))).process_id;
    await holding(first);
    const tick = '2026-12-03T11:00:00.000Z';
    // Act
    expect(await sundial.current().services.schedules.tick('deferred', tick)).toBe('deferred');
    await api('POST', `/api/processes/${first}/kill`);
    await sundial.settled(first);
    const runs = (await api('GET', '/api/processes?process_definition_name=deferred')).json;
    // Assess
    const catchUp = await sundial.finished(runs[0].process_id);
    expect(runs).toHaveLength(2);
    expect(catchUp.trigger).toMatchObject({ kind: 'schedule', by: 'schedule:deferred', scheduled_time: tick });
    expect(printed(catchUp)).toContain(`at ${tick}`);
  }, 60_000);

  it('a queued manual trigger keeps when it was asked for', async () => {
    // Prepare
    await define('queued', { overlap_action: 'wait' });
    const first = (await sundial.trigger('queued', env('HOLD'))).process_id;
    await holding(first);
    // Act
    const queued = await sundial.trigger('queued');
    await api('POST', `/api/processes/${first}/kill`);
    const run = await sundial.finished(queued.process_id);
    // Assess
    expect(queued.queued).toBe(true);
    expect(queued.trigger).toEqual({ kind: 'manual', by: 'local', at: queued.start_time, scheduled_time: queued.start_time });
    expect(run.trigger).toEqual(queued.trigger);
    expect(Date.parse(run.start_time)).toBeGreaterThan(Date.parse(run.trigger.at));
    expect(printed(run)).toContain(`at ${queued.start_time}`);
  }, 60_000);

  it('a retry: by whoever retried, at the retry, the same logical time, and the trigger that started the run in previous', async () => {
    // Prepare: a scheduled run that fails
    await define('retried', { schedule: cronSchedule(), task_definitions: [shellScript('a', 'echo "at $SUNDIAL_SCHEDULED_TIME"; exit 1')] });
    const tick = '2026-12-03T12:00:00.000Z';
    await sundial.current().services.schedules.tick('retried', tick);
    const id = stableUuid('retried', 'tick', tick);
    const started = (await sundial.finished(id)).trigger;
    await sundial.settled(id);
    // Act
    const once = await api('POST', `/api/processes/${id}/retry`);
    await sundial.finished(id);
    await sundial.settled(id);
    const twice = await api('POST', `/api/processes/${id}/retry`);
    const run = await sundial.finished(id);
    // Assess
    expect(once.status, once.text).toBe(201);
    expect(once.json.trigger).toEqual({ kind: 'retry', by: 'local', at: once.json.trigger.at, scheduled_time: tick, previous: started });
    expect(Date.parse(once.json.trigger.at)).toBeGreaterThan(Date.parse(started.at));
    expect(twice.json.trigger).toMatchObject({ kind: 'retry', scheduled_time: tick, previous: started });
    expect(run.trigger).toEqual(twice.json.trigger);
    expect(printed(run).filter((line) => line.startsWith('at '))).toEqual([`at ${tick}`, `at ${tick}`, `at ${tick}`]); // every attempt, retried ones too
  }, 60_000);

  it('deployed: by is the IAM principal the authorizer names, for a trigger and a retry', async () => {
    // Prepare: the routes as the api function serves them, and events as API Gateway builds them
    await define('signed', { task_definitions: [shellScript('a', 'exit 1')] });
    const routes = operatorRoutes(sundial.current().services);
    const route = (path: string) => routes.find((r) => r.method === 'POST' && r.path === path)!;
    const userArn = 'arn:aws:sts::123456789012:assumed-role/Operators/ana';
    const signed = (path: string, pathParameters: Record<string, string>) => {
      const event = httpEvent({ method: 'POST', path });
      return { ...event, pathParameters, requestContext: { ...event.requestContext, authorizer: { iam: { accountId: '123456789012', userArn } } } } as never;
    };
    // Act
    const triggered = JSON.parse((await route('/api/process_definitions/{process_definition_name}/trigger').handle(signed('/api/process_definitions/signed/trigger', { process_definition_name: 'signed' }))).body as string);
    await sundial.finished(triggered.process_id);
    await sundial.settled(triggered.process_id);
    const retried = JSON.parse((await route('/api/processes/{process_id}/retry').handle(signed(`/api/processes/${triggered.process_id}/retry`, { process_id: triggered.process_id }))).body as string);
    // Assess
    expect(triggered.trigger).toMatchObject({ kind: 'manual', by: userArn });
    expect(retried.trigger).toMatchObject({ kind: 'retry', by: userArn, previous: { kind: 'manual', by: userArn } });
  });
});

describe('runs stored before provenance, and the trigger_kind filter', () => {
  it('a run stored without a trigger answers one derived from its item, never a 500', async () => {
    // Prepare: a manual run and a tick's run (name-based id) as they were stored before
    const manual = await seedRun(sundial.current().services, { process_definition_name: 'legacy', status: 'succeeded', start_time: '2026-01-01T00:00:00.000Z' });
    const tickId = stableUuid('legacy', 'tick', '2026-01-01T03:00:00.000Z');
    await sundial.current().services.store.runs.createRun({ process_id: tickId, process_definition_name: 'legacy', start_time: '2026-01-01T03:00:01.000Z', status: 'succeeded' });
    // Act
    const [manualRun, tickRun] = [await get(manual.process_id), await get(tickId)];
    // Assess
    expect(manualRun.trigger).toEqual({ kind: 'manual', by: 'unknown', at: '2026-01-01T00:00:00.000Z', scheduled_time: '2026-01-01T00:00:00.000Z', derived: true });
    expect(tickRun.trigger).toEqual({ kind: 'schedule', by: 'schedule:legacy', at: '2026-01-01T03:00:01.000Z', scheduled_time: '2026-01-01T03:00:01.000Z', derived: true });
    expect(manualRun.parameters).toEqual([]);
  });

  it('filters by trigger_kind (one, several, derived kinds as answered), page after page', async () => {
    // Prepare: two definitions' worth of kinds, derived and written
    const name = 'filtered';
    await define(name, { schedule: cronSchedule(), task_definitions: [shellScript('a', 'true')] });
    const manual = (await sundial.trigger(name)).process_id;
    await sundial.settled(manual); // (a tick while it runs would be deferred)
    const ticks = ['2026-12-04T10:00:00.000Z', '2026-12-05T10:00:00.000Z'];
    for (const tick of ticks) {
      expect(await sundial.current().services.schedules.tick(name, tick)).toBe('started');
      await sundial.settled(stableUuid(name, 'tick', tick));
    }
    const legacyTick = stableUuid(name, 'tick', '2026-01-01T03:00:00.000Z');
    await sundial.current().services.store.runs.createRun({ process_id: legacyTick, process_definition_name: name, start_time: '2026-01-01T03:00:01.000Z', status: 'succeeded' });
    const kinds = async (query: string) => (await listAllPages(api, `/api/processes?process_definition_name=${name}&${query}`)).items.map((r) => (r as { process_id: string }).process_id).sort();
    // Act
    const scheduled = await kinds('trigger_kind=schedule&limit=1');
    const both = await kinds('trigger_kind=manual,schedule');
    const repeated = await kinds('trigger_kind=manual&trigger_kind=retry');
    const none = await kinds('trigger_kind=backfill');
    // Assess
    expect(scheduled).toEqual([...ticks.map((t) => stableUuid(name, 'tick', t)), legacyTick].sort());
    expect(both).toEqual([...scheduled, manual].sort());
    expect(repeated).toEqual([manual]);
    expect(none).toEqual([]);
  });

  it('refuses an unknown kind: 400 naming trigger_kind', async () => {
    // Act
    const res = await api('GET', '/api/processes?trigger_kind=manual,cron');
    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_field', field: 'trigger_kind.1' });
    expect(res.json.error.message).toContain('"manual", "schedule", "backfill", "upstream", "retry"');
  });
});
