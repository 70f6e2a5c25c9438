/**
 * The reaper within Step Functions' API quotas (lambdas/domain/aws-limits.ts `SFN_API_QUOTAS`), which the
 * local orchestrator enforces on the calls it serves: a sweep over many running tasks must cost a bounded
 * number of calls, whatever the number of tasks. Deployed, a sweep that asked Step Functions once per
 * running task would be throttled past DescribeExecution's bucket (250, refilled 10 a second) and run
 * past its schedule; here the same sweep fails with ThrottlingException.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SFN_API_QUOTAS } from '../../lambdas/domain/aws-limits';
import type { TaskDefinition } from '../../lambdas/domain/models';
import type { Slot } from '../../lambdas/store/slots';
import { isoAt, shellScript, shellTask, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();

/** Running tasks in one run: four times DescribeExecution's bucket. */
const RUNNING_TASKS = 1_000;

/** Writes a running run of `tasks` running slots whose executions were lost (none runs), as the engine writes them. */
async function seedLostRun(tasks: number): Promise<string> {
  const { store } = sundial.current().services;
  const processId = randomUUID();
  const slots: Slot[] = Array.from({ length: tasks }, (_, i) => {
    const name = `lost-${String(i).padStart(4, '0')}`;
    return {
      process_id: processId,
      name,
      definition: shellTask(name) as unknown as TaskDefinition,
      dependents: [],
      deps_total: 0,
      status: 'running',
      attempts: 1,
      max_attempts: 1,
      round: 0,
      execution_name: `${processId}-${name}`,
      tasks_total: tasks,
    };
  });
  const shards = await store.slots.createSlots(slots);
  await store.runs.createRun({ process_id: processId, process_definition_name: 'lost-many', start_time: isoAt(0), status: 'running' }, { tasks_total: tasks, ...shards, environment_variables: [] });
  return processId;
}

describe('the reaper and Step Functions API quotas', () => {
  it(`sweeps ${RUNNING_TASKS} running tasks in one ListExecutions call, unthrottled, and still tells a live execution from lost ones`, async () => {
    // Prepare: one task really running, and a run of many running tasks whose executions are gone
    await sundial.define('alive', [shellScript('alive', UNTIL_STOPPED)]);
    const alive = (await sundial.trigger('alive')).process_id as string;
    const { orchestrator, sweeper } = sundial.current().sundial;
    const aliveSlot = await until(() => sundial.current().services.store.slots.get(alive, 'alive'), (s) => s?.status === 'running' && s.execution_name !== undefined && orchestrator.has(s.execution_name));
    await seedLostRun(RUNNING_TASKS);
    const before = { ...orchestrator.served };

    // Act: one sweep
    const sweep = await sweeper.sweep();

    // Assess: no call throttled, a bounded number of calls (one page lists every running execution)
    const calls = { ListExecutions: orchestrator.served.ListExecutions - before.ListExecutions, throttled: orchestrator.served.throttled - before.throttled };
    expect(calls).toEqual({ ListExecutions: 1, throttled: 0 });
    expect(calls.ListExecutions).toBeLessThanOrEqual(SFN_API_QUOTAS.ListExecutions.bucket);
    // The first sweep only suspects (the two-sweeps rule); the live task is untouched
    expect(sweep.reaped).toEqual([]);
    expect(orchestrator.has(aliveSlot!.execution_name!)).toBe(true);
    await orchestrator.stopTask(aliveSlot!.execution_name!);
  });

  it('serves ListExecutions as Step Functions does: RUNNING only, pages behind nextToken, maxResults ≤ 1,000, and ThrottlingException past the bucket', async () => {
    // Prepare: three tasks running, started one after another
    const { orchestrator } = sundial.current().sundial;
    await sundial.define('listed', ['one', 'two', 'three'].map((t) => shellScript(t, UNTIL_STOPPED)));
    const processId = (await sundial.trigger('listed')).process_id as string;
    const slots = await until(() => sundial.current().services.store.slots.list(processId), (all) => all.length === 3 && all.every((x) => x.execution_name !== undefined && orchestrator.has(x.execution_name)));
    const names = new Set(slots.map((x) => x.execution_name!));

    // Act: page through two at a time; ask for too large a page; then call until refused
    const first = await orchestrator.listExecutions({ statusFilter: 'RUNNING', maxResults: 2 });
    const second = await orchestrator.listExecutions({ statusFilter: 'RUNNING', maxResults: 2, nextToken: first.nextToken });
    const tooLarge = await orchestrator.listExecutions({ statusFilter: 'RUNNING', maxResults: 1001 }).catch((err: Error) => err);
    let calls = 0;
    let refused: Error | undefined;
    while (!refused && calls <= SFN_API_QUOTAS.ListExecutions.bucket * 2) {
      calls++;
      refused = await orchestrator.listExecutions({ statusFilter: 'RUNNING', maxResults: 1000 }).then(() => undefined, (err: Error) => err);
    }

    // Assess
    const listed = [...first.executions, ...second.executions].map((e) => e.name);
    expect(first.executions).toHaveLength(2);
    expect(first.nextToken).toBeDefined();
    expect(second.nextToken).toBeUndefined();
    expect(new Set(listed.filter((n) => names.has(n)))).toEqual(names);
    expect(new Set(listed).size).toBe(listed.length);
    expect(tooLarge).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/maxResults/) });
    expect(refused).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded' });
    // The bucket (less what the calls above took), plus what refilled meanwhile
    expect(calls).toBeLessThanOrEqual(SFN_API_QUOTAS.ListExecutions.bucket + 2);
    for (const n of names) await orchestrator.stopTask(n);
  });
});
