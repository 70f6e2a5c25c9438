/**
 * Process dependencies over HTTP in local mode (issue 16 item 4; Kala's parent and dependent jobs,
 * Airflow's triggered DAGs): a definition's `upstream` starts its run when an upstream run ends that
 * way, through its overlap_action, with the upstream run's id, logical time and parameters; cycles are
 * refused; an unknown upstream waits for its definition; a deleted parent leaves its child defined; a
 * paused child does not run; a replayed run end starts one run.
 */
import { describe, expect, it } from 'vitest';
import { UpstreamRuns } from '../../lambdas/engine/upstream';
import { type JsonObject, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

const task = (script = 'echo ran') => [shellScript('a', script)];
const upstream = (name: string, when?: 'succeeded' | 'failed' | 'finished'): JsonObject => ({ process_definition_name: name, ...(when ? { when } : {}) });
const put = (name: string, rest: JsonObject) => api('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, task_definitions: task(), ...rest });
const runsOf = async (name: string) => (await api('GET', `/api/processes?process_definition_name=${name}`)).json as any[];
/** The one run of `name`, once it has ended. */
const onlyRun = async (name: string) => {
  const [run] = await until(() => runsOf(name), (runs) => runs.length > 0);
  expect(await runsOf(name)).toHaveLength(1);
  return sundial.finished(run.process_id);
};
const messages = (run: { task: Array<{ log_entries: Array<{ message: string }> }> }) => run.task.flatMap((t) => t.log_entries.map((e) => e.message));

describe('upstream definitions', () => {
  it('a run that ends as listed starts the downstream definition, with its id, logical time and parameters passed on', async () => {
    // Prepare
    await sundial.define('up-extract', { parameters: [{ name: 'REGION', kind: 'optional', default: 'us' }, { name: 'ONLY_UP', kind: 'optional', default: 'x' }], task_definitions: task() });
    await sundial.define('up-load', {
      upstream: [upstream('up-extract')],
      parameters: [{ name: 'REGION', kind: 'optional', default: 'none' }, { name: 'MODE', kind: 'static', default: 'full' }],
      task_definitions: task('echo "region $REGION mode $MODE"'),
    });

    // Act
    const extract = await sundial.trigger('up-extract', { parameters: { REGION: 'eu' } });
    const ended = await sundial.finished(extract.process_id);
    const load = await onlyRun('up-load');

    // Assess
    expect(ended.status).toBe('succeeded');
    expect(load.status).toBe('succeeded');
    expect(load.trigger).toMatchObject({ kind: 'upstream', by: 'upstream:up-extract', upstream_process_id: extract.process_id, scheduled_time: ended.trigger.scheduled_time });
    expect(load.parameters).toEqual([
      { name: 'REGION', value: 'eu', source: 'upstream' },
      { name: 'MODE', value: 'full', source: 'static' },
    ]);
    expect(messages(load)).toContain('region eu mode full');
    expect(Date.parse(load.start_time)).toBeGreaterThanOrEqual(Date.parse(ended.end_time));
  }, 60_000);

  it('when: succeeded, failed or finished; a run that ends otherwise starts nothing', async () => {
    // Prepare
    await sundial.define('up-flaky', task('exit 3'));
    for (const when of ['succeeded', 'failed', 'finished'] as const) {
      await sundial.define(`up-on-${when}`, { upstream: [upstream('up-flaky', when)], task_definitions: task() });
    }

    // Act
    const flaky = await sundial.trigger('up-flaky');
    await sundial.settled(flaky.process_id); // its listeners have been told: what it starts has started

    // Assess
    expect((await sundial.finished(flaky.process_id)).status).toBe('failed');
    expect((await onlyRun('up-on-failed')).trigger.upstream_process_id).toBe(flaky.process_id);
    expect((await onlyRun('up-on-finished')).trigger.kind).toBe('upstream');
    expect(await runsOf('up-on-succeeded')).toEqual([]);
  }, 60_000);

  it('refuses a cycle (400 naming it); an unknown upstream waits for its definition; a deleted parent leaves its child, PUT again it starts it again', async () => {
    // Act: cyc-a waits for cyc-c, which does not exist yet; cyc-b follows cyc-a
    const waiting = await put('cyc-a', { upstream: [upstream('cyc-c')] });
    const follows = await put('cyc-b', { upstream: [upstream('cyc-a', 'finished')] });
    const cycle = await put('cyc-c', { upstream: [upstream('cyc-b')] });
    const self = await put('cyc-self', { upstream: [upstream('cyc-self')] });
    const twice = await put('cyc-twice', { upstream: [upstream('cyc-a'), upstream('cyc-a', 'failed')] });
    const parent = await put('cyc-c', {});

    // Assess: refused, nothing stored
    expect(waiting.status, waiting.text).toBe(201);
    expect(waiting.json.upstream).toEqual([{ process_definition_name: 'cyc-c', when: 'succeeded' }]);
    expect(follows.status).toBe(201);
    expect(cycle.status).toBe(400);
    expect(cycle.json.error).toMatchObject({ code: 'upstream_cycle', field: 'upstream.0.process_definition_name' });
    expect(cycle.json.error.message).toContain('cyc-c -> cyc-a -> cyc-b -> cyc-c');
    expect(self.json.error).toMatchObject({ code: 'upstream_cycle', field: 'upstream.0.process_definition_name' });
    expect(twice.json.error).toMatchObject({ code: 'duplicate_upstream', field: 'upstream.1.process_definition_name' });
    expect((await api('GET', '/api/process_definitions/cyc-self')).status).toBe(404);
    expect(parent.status).toBe(201);

    // Act: the parent now exists and runs: the chain follows
    const first = await sundial.trigger('cyc-c');
    const a = await onlyRun('cyc-a');
    const b = await onlyRun('cyc-b');

    // Assess
    expect(a.trigger.upstream_process_id).toBe(first.process_id);
    expect(b.trigger.upstream_process_id).toBe(a.process_id);

    // Act: the parent goes, and comes back
    expect((await api('DELETE', '/api/process_definitions/cyc-c')).status).toBe(204);
    const child = await api('GET', '/api/process_definitions/cyc-a');
    await put('cyc-c', {});
    const again = await sundial.trigger('cyc-c');
    const [aAgain] = await until(() => runsOf('cyc-a'), (runs) => runs.length === 2);

    // Assess
    expect(child.status).toBe(200);
    expect(child.json.upstream).toEqual([{ process_definition_name: 'cyc-c', when: 'succeeded' }]);
    expect((await sundial.finished(aAgain.process_id)).trigger.upstream_process_id).toBe(again.process_id);
  }, 90_000);

  it('a paused downstream does not run; one whose upstream entry is gone is not started', async () => {
    // Prepare
    await sundial.define('pa-parent', task());
    await sundial.define('pa-paused', { upstream: [upstream('pa-parent')], task_definitions: task() });
    await sundial.define('pa-dropped', { upstream: [upstream('pa-parent')], task_definitions: task() });
    expect((await api('POST', '/api/process_definitions/pa-paused/pause')).status).toBe(200);
    await sundial.define('pa-dropped', task()); // no upstream any more

    // Act
    const parent = await sundial.trigger('pa-parent');
    await sundial.settled(parent.process_id);

    // Assess
    expect(await runsOf('pa-paused')).toEqual([]);
    expect(await runsOf('pa-dropped')).toEqual([]);
  }, 60_000);

  it("the downstream's overlap_action applies: wait queues its start behind its run in progress, with its provenance", async () => {
    // Prepare: the downstream runs until stopped when triggered by hand
    await sundial.define('ov-parent', task());
    await sundial.define('ov-child', {
      upstream: [upstream('ov-parent')],
      task_definitions: task(`if [ "$MODE" = hold ]; then echo up; ${UNTIL_STOPPED}; fi; echo done`),
    });
    const held = await sundial.trigger('ov-child', { environment_variables: [{ variable_name: 'MODE', value: 'hold' }] });
    await until(() => api('GET', `/api/processes/${held.process_id}`), (r) => messages(r.json).includes('up'));

    // Act
    const parent = await sundial.trigger('ov-parent');
    await sundial.settled(parent.process_id);
    const whileHeld = await runsOf('ov-child');
    expect((await api('POST', `/api/processes/${held.process_id}/kill`)).status).toBe(201);
    const [queued] = await until(() => runsOf('ov-child'), (runs) => runs.length === 2);

    // Assess
    expect(whileHeld).toHaveLength(1);
    const ran = await sundial.finished(queued.process_id);
    expect(ran.status).toBe('succeeded');
    expect(ran.trigger).toMatchObject({ kind: 'upstream', upstream_process_id: parent.process_id });
  }, 60_000);

  it('a run end told twice (a replayed step) starts one downstream run', async () => {
    // Prepare
    await sundial.define('re-parent', task());
    await sundial.define('re-child', { upstream: [upstream('re-parent')], task_definitions: task() });
    const parent = await sundial.trigger('re-parent');
    await sundial.settled(parent.process_id);
    const child = await onlyRun('re-child');
    await sundial.settled(child.process_id); // nothing of re-child runs: a second start would start at once
    const { store, schedules, now, logger } = sundial.current().services;

    // Act: the listener told again, as a replayed Record step would
    await new UpstreamRuns({ store, schedules, now, logger }).runEnded({ process_id: parent.process_id, process_definition_name: 're-parent', status: 'succeeded' });

    // Assess
    expect(await runsOf('re-child')).toEqual([expect.objectContaining({ process_id: child.process_id })]);
    expect((await api('GET', '/api/process_definitions/re-child')).json.runs_succeeded).toBe(1);
  }, 60_000);
});
