/**
 * A finished run of thousands of tasks, written straight into the store (running that many real tasks is
 * too slow for a test): its slots through the slot store, its run item through the run store, and its
 * attempts as the engine writes them (keys.ts), in parallel batches.
 */
import { randomUUID } from 'node:crypto';
import type { Services } from '../../lambdas/api/ports';
import { LIMITS, type TaskDefinition } from '../../lambdas/domain/models';
import { keys } from '../../lambdas/store/keys';
import { BatchWriteCommand } from '../../lambdas/store/sdk';
import type { Slot } from '../../lambdas/store/slots';
import { isoAt, shellTask } from './factories';

export interface LargeRunSpec {
  process_definition_name: string;
  tasks: number;
  /** Every n-th task failed once and succeeded at its second attempt (0: none did). */
  retriedEvery: number;
  /** Every n-th attempt reported the costliest progress the schema takes (0: none did). */
  longProgressEvery: number;
}

export interface SeededLargeRun {
  process_id: string;
  /** The tasks' names, in definition order (10 layers of `tasks / 10`). */
  names: string[];
  /** Every attempt's id. */
  attempts: Set<string>;
}

/** The costliest progress message the schema takes: `"` is 4 payload bytes. */
const LONG_PROGRESS = '"'.repeat(LIMITS.progressMessageMaxLength);

/** Writes a run of `spec.tasks` tasks that succeeded, started at `isoAt(0)` a tenth of a second apart. */
export async function seedLargeRun(services: Services, spec: LargeRunSpec): Promise<SeededLargeRun> {
  const processId = randomUUID();
  const name = spec.process_definition_name;
  const perLayer = Math.max(1, Math.ceil(spec.tasks / 10));
  const names = Array.from({ length: spec.tasks }, (_, i) => `layer-${String(Math.floor(i / perLayer)).padStart(2, '0')}-task-${String(i % perLayer).padStart(4, '0')}`);
  const retried = (i: number) => spec.retriedEvery > 0 && i % spec.retriedEvery === 0;
  const slots: Slot[] = names.map((task, i) => ({
    process_id: processId,
    name: task,
    definition: shellTask(task) as unknown as TaskDefinition,
    dependents: [],
    deps_total: 0,
    status: 'succeeded',
    attempts: retried(i) ? 2 : 1,
    max_attempts: 2,
    round: 0,
    tasks_total: spec.tasks,
  }));
  const shards = await services.store.slots.createSlots(slots);
  await services.store.runs.createRun(
    { process_id: processId, process_definition_name: name, start_time: isoAt(0), end_time: isoAt(60), status: 'succeeded' },
    { tasks_total: spec.tasks, ...shards, environment_variables: [] },
  );
  const items: Array<Record<string, unknown>> = [];
  names.forEach((task, i) => {
    for (let attempt = 0; attempt < (retried(i) ? 2 : 1); attempt++) {
      const start = new Date(Date.parse(isoAt(0)) + i * 100 + attempt * 50).toISOString();
      const record = {
        task_id: randomUUID(),
        process_id: processId,
        process_definition_name: name,
        task_definition_name: task,
        start_time: start,
        end_time: new Date(Date.parse(start) + 40).toISOString(),
        previous_attempt_count: attempt,
        status: retried(i) && attempt === 0 ? 'failed' : 'succeeded',
        ...(spec.longProgressEvery > 0 && items.length % spec.longProgressEvery === 0 ? { progress: { percent: 100, message: LONG_PROGRESS, when: start } } : {}),
      };
      items.push({ ...keys.task(processId, record.task_id), ...keys.taskIndexes(name, task, start, record.task_id), ...record });
    }
  });
  const { db } = services.store;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      let requests = items.slice(next, (next += 25)).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[db.tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { process_id: processId, names, attempts: new Set(items.map((i) => String(i.task_id))) };
}
