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
});
