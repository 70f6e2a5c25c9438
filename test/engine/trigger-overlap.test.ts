/**
 * Manual triggers and overlap_action (issue 15; Sundial's spec: `wait` "should wait until the currently
 * running instance finishes", `terminate`: "the currently running process should be killed", for a
 * trigger as for a tick). `?force=true` starts a run at once.
 */
import { describe, expect, it } from 'vitest';
import { shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/** `MODE=sleep` runs until stopped (after printing `up`); else prints `done` and ends. */
const SCRIPT = `if [ "$MODE" = sleep ]; then echo up; ${UNTIL_STOPPED}; fi; echo done`;

const define = (name: string, overlap: 'wait' | 'terminate') => sundial.define(name, { overlap_action: overlap, task_definitions: [shellScript('a', SCRIPT)] });

const trigger = (name: string, mode?: string, query = '') =>
  api('POST', `/api/process_definitions/${name}/trigger${query}`, mode ? { environment_variables: [{ variable_name: 'MODE', value: mode }] } : undefined);

const get = (id: string) => api('GET', `/api/processes/${id}`);
const status = (id: string, want: string) => until(() => get(id), (r) => r.json?.status === want, 20_000).then((r) => r.json);
const printed = (id: string, line: string) =>
  until(() => get(id), (r) => r.status === 200 && r.json.task.some((t: { log_entries: Array<{ message: string }> }) => t.log_entries.some((e) => e.message === line)), 20_000);

describe('manual triggers and overlap_action', () => {
  it('wait: a trigger while a run is in progress is queued (one queued run) and starts when that run ends', async () => {
    // Prepare
    await define('trigger-wait', 'wait');
    const first = (await trigger('trigger-wait', 'sleep')).json.process_id;
    await printed(first, 'up');

    // Act
    const queued = await trigger('trigger-wait', 'quick');
    const again = await trigger('trigger-wait');
    const beforeEnd = await get(queued.json.process_id);
    expect((await api('POST', `/api/processes/${first}/kill`)).status).toBe(201);

    // Assess: 201 as Sundial answers a trigger, a process its clients parse, saying it is queued
    expect(queued.status, queued.text).toBe(201);
    expect(queued.json).toMatchObject({ process_definition_name: 'trigger-wait', status: 'running', task: [], queued: true });
    expect(queued.headers.get('location')).toBe(`/api/processes/${queued.json.process_id}`);
    expect(again.status).toBe(201);
    expect(again.json).toMatchObject({ process_id: queued.json.process_id, queued: true }); // one queued run, not a queue
    expect(beforeEnd.status).toBe(404); // it does not exist before it starts
    const ran = await status(queued.json.process_id, 'succeeded');
    expect(ran.task[0].log_entries.map((e: { message: string }) => e.message)).toContain('done'); // with the queued trigger's variables
    expect(Date.parse(ran.start_time)).toBeGreaterThanOrEqual(Date.parse((await get(first)).json.end_time));
    const runs = (await api('GET', '/api/processes?process_definition_name=trigger-wait')).json;
    expect(runs).toHaveLength(2);
  }, 60_000);

  it('terminate: a trigger kills the run in progress first', async () => {
    // Prepare
    await define('trigger-terminate', 'terminate');
    const first = (await trigger('trigger-terminate', 'sleep')).json.process_id;
    await printed(first, 'up');

    // Act
    const second = await trigger('trigger-terminate', 'quick');

    // Assess
    expect(second.status, second.text).toBe(201);
    expect(second.json.queued).toBeUndefined();
    const killed = (await get(first)).json;
    expect(killed.status).toBe('failed');
    expect(killed.reason).toContain('overlap_action terminate');
    await status(second.json.process_id, 'succeeded');
  }, 60_000);

  it('force=true starts a run at once whatever runs; force must be true or false', async () => {
    // Prepare
    await define('trigger-force', 'wait');
    const first = (await trigger('trigger-force', 'sleep')).json.process_id;
    await printed(first, 'up');

    // Act
    const forced = await trigger('trigger-force', 'sleep', '?force=true');
    const invalid = await trigger('trigger-force', undefined, '?force=yes');

    // Assess
    expect(forced.status, forced.text).toBe(201);
    expect(forced.json.queued).toBeUndefined();
    await printed(forced.json.process_id, 'up');
    expect((await get(first)).json.status).toBe('running'); // both at once
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.field).toContain('force');
    for (const id of [first, forced.json.process_id]) expect((await api('POST', `/api/processes/${id}/kill`)).status).toBe(201);
  }, 60_000);
});
