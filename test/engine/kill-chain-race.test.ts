/**
 * Kills that land anywhere in a running chain (docs/ENGINE.md "A kill racing Prepare", "Prepare of a started
 * task"): each chain step ends a task, starts the next one in the write that counts its dependency, and that
 * task's `Prepare` writes its attempt beside a read of the run, its slot's definition carried by its
 * execution's input. Twenty runs, each killed a little later after its trigger than the one before (0–57 ms),
 * so that the kills fall before, inside and between the steps. Whatever the moment: the run ends failed with no
 * attempt or slot left running and no execution open; no attempt whose `Prepare` began after the kill's end of
 * the run (its first write) had landed ran, and none started after the kill answered; nothing is counted running; a retry runs
 * each task that did not succeed, to the run's success. A `Prepare` that took its carried definition without
 * checking that the run runs (a dependent started just after the kill listed the slots) fails it in each of
 * three tries; the deterministic interleavings are in steps.test.ts and kill-prepare-race.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { metricValue, shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const { api, define, current } = sundialPerFile();

const RACES = 20;
const TASKS = 12;

describe('kills racing a chain', () => {
  it(`end the run with nothing left running, whenever they land (${RACES} runs, killed 0–57 ms after their trigger)`, async () => {
    // Prepare
    const tasks = Array.from({ length: TASKS }, (_, i) => shellScript(`t${i}`, 'true', i === 0 ? {} : { dependencies: [{ task_definition_name: `t${i - 1}` }] }));
    await define('kill-chain', tasks);

    // When each kill's end of its run had landed, by the server's clock (its `end_time` is read before the write)
    const { services } = current();
    const runStore = services.store.runs as unknown as { transitionRun: (id: string, from: string, to: string, ...rest: unknown[]) => Promise<unknown> };
    const transitionRun = runStore.transitionRun;
    const endedAt = new Map<string, string>();
    runStore.transitionRun = async function (this: unknown, id, from, to, ...rest) {
      const moved = await transitionRun.call(this, id, from, to, ...rest);
      if (moved && to === 'failed') endedAt.set(id, services.now().toISOString());
      return moved;
    };

    // Act: each run killed a little later than the one before
    const runs = [];
    try {
      for (let i = 0; i < RACES; i++) {
        const run = await api('POST', '/api/process_definitions/kill-chain/trigger');
        expect(run.status, run.text).toBe(201);
        await new Promise((r) => setTimeout(r, (i * 3) % 61));
        const kill = await api('POST', `/api/processes/${run.json.process_id}/kill`);
        runs.push({ id: run.json.process_id as string, kill, answeredAt: new Date().toISOString() });
      }
    } finally {
      runStore.transitionRun = transitionRun;
    }

    // Assess: each run ended (killed, or done before its kill came: 409), its executions closed, no attempt running
    const { sundial } = current();
    for (const { id, kill, answeredAt } of runs) {
      expect([201, 409], kill.text).toContain(kill.status);
      const ended = await until(() => api('GET', `/api/processes/${id}`), (r) => r.json.status !== 'running', 15_000);
      expect(ended.json.status).toBe(kill.status === 201 ? 'failed' : 'succeeded');
      const slots = await services.store.slots.list(id);
      await until(async () => slots.filter((s) => s.execution_name !== undefined && sundial.orchestrator.has(s.execution_name)).length, (open) => open === 0, 15_000);
      const after = (await api('GET', `/api/processes/${id}`)).json;
      expect(after.task.filter((t: { status: string }) => t.status === 'running'), JSON.stringify(after.task)).toEqual([]);
      // Nothing ran whose Prepare began after the kill's end of the run had landed (its first write): that
      // Prepare read the run ended, and removed its attempt or left it to the kill, which ends it failed
      const landed = endedAt.get(id) ?? '9';
      const ranLate = after.task.filter((t: { status: string; start_time: string }) => t.status === 'succeeded' && t.start_time > landed);
      expect(ranLate.map((t: { task_definition_name: string }) => t.task_definition_name), landed).toEqual([]);
      // and nothing at all started once the kill had answered
      expect(after.task.filter((t: { start_time: string }) => t.start_time > answeredAt).map((t: { task_definition_name: string }) => t.task_definition_name)).toEqual([]);
      expect((await services.store.slots.list(id)).filter((s) => s.status === 'running').map((s) => s.name)).toEqual([]);
    }
    const metrics = await api('GET', '/_internal_/metrics');
    expect(metricValue(metrics.text, 'sundial_tasks{status="running"}')).toBe(0);

    // Act and assess: a retry of each killed run runs what did not succeed, and the run succeeds
    for (const { id, kill } of runs.filter((r) => r.kill.status === 201)) {
      const retry = await api('POST', `/api/processes/${id}/retry`);
      expect(retry.status, retry.text).toBe(201);
      const final = await until(() => api('GET', `/api/processes/${id}`), (r) => r.json.status !== 'running', 30_000);
      expect(final.json.status, JSON.stringify(final.json.task)).toBe('succeeded');
      const succeeded = final.json.task.filter((t: { status: string }) => t.status === 'succeeded').map((t: { task_definition_name: string }) => t.task_definition_name);
      expect(succeeded.sort(), kill.text).toEqual(tasks.map((t) => t.task_definition_name as string).sort());
    }
  }, 180_000);
});
