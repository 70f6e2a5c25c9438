/**
 * When a run is finished: its tasks' ends are counted in up to 16 done shards (lambdas/store/slots.ts),
 * and the run item learns of a shard only when the shard completes. Against the real store (dynalite):
 * every order of ends, replays of any end, failures, and a retry's reopened tasks.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../lambdas/store';
import { DONE_SHARDS_MAX, doneShardCount, doneShardOf, type Slot } from '../../lambdas/store/slots';
import { type TestSundial, startTestSundial } from '../helpers/local';

let sundial: TestSundial;
let store: Store;

beforeAll(async () => {
  sundial = await startTestSundial();
  store = sundial.services.store;
});
afterAll(() => sundial.close());

/** A new run of tasks `t0..t<n-1>` (no dependencies), as the engine writes it. */
async function newRun(n: number): Promise<{ processId: string; names: string[] }> {
  const processId = randomUUID();
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  const slots: Slot[] = names.map((name) => ({
    process_id: processId,
    name,
    definition: { task_definition_name: name } as Slot['definition'],
    dependents: [],
    deps_total: 0,
    status: 'waiting',
    attempts: 0,
    max_attempts: 1,
    round: 0,
  }));
  const shards = await store.slots.createSlots(slots);
  await store.runs.createRun({ process_id: processId, process_definition_name: 'shards', start_time: new Date().toISOString(), status: 'running' }, { tasks_total: n, ...shards });
  return { processId, names };
}

describe('done shards', () => {
  it('spread a run of many tasks over at most 16 shards, all of them used', () => {
    expect(doneShardCount(1)).toBe(1);
    expect(doneShardCount(5)).toBe(5);
    expect(doneShardCount(1000)).toBe(DONE_SHARDS_MAX);
    const used = new Set(Array.from({ length: 1000 }, (_, i) => doneShardOf(`t${i}`, 16)));
    expect(used.size).toBe(16);
  });

  it('finish the run with its last task, in any order and with replays, and count failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.subarray([...Array(n).keys()]), fc.subarray([...Array(n).keys()])),
        ),
        async ([n, order, failing, replayed]) => {
          const { processId, names } = await newRun(n);
          const failed = new Set(failing);
          const answers: Array<{ runDone: boolean; failed: number }> = [];
          for (const i of order) {
            answers.push(await store.slots.runTaskFinished(processId, names[i]!, failed.has(i), n));
            // A replay of this end (Lambda or Step Functions delivering twice) changes nothing.
            if (replayed.includes(i)) expect(await store.slots.runTaskFinished(processId, names[i]!, failed.has(i), n)).toEqual(answers.at(-1));
          }
          expect(answers.slice(0, -1).every((a) => !a.runDone)).toBe(true);
          expect(answers.at(-1)!.runDone).toBe(true);
          expect(answers.at(-1)!.failed > 0).toBe(failed.size > 0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reopen a retried run: it is not done until the reopened tasks end again, and their new outcome counts', async () => {
    const n = 40;
    const { processId, names } = await newRun(n);
    const failing = new Set(['t3', 't17', 't29']);
    for (const name of names) await store.slots.runTaskFinished(processId, name, failing.has(name), n);

    await store.slots.runTasksReopened(processId, [...failing], n);

    // Act + Assess: the first two succeed this time, the run is still not done; the last one fails again
    expect(await store.slots.runTaskFinished(processId, 't3', false, n)).toEqual({ runDone: false, failed: 0 });
    expect((await store.slots.runTaskFinished(processId, 't17', false, n)).runDone).toBe(false);
    const last = await store.slots.runTaskFinished(processId, 't29', true, n);
    expect(last.runDone).toBe(true);
    expect(last.failed).toBe(1);

    // Once more, all succeeding: done, nothing failed
    await store.slots.runTasksReopened(processId, ['t29'], n);
    expect(await store.slots.runTaskFinished(processId, 't29', false, n)).toEqual({ runDone: true, failed: 0 });
  });
});
