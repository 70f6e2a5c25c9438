/**
 * When a run is finished: its tasks' ends are counted in done shards of about 32 tasks each
 * (lambdas/store/slots.ts), and the run item learns of a shard only when the shard completes. Against the
 * real store (dynalite): every order of ends, replays of any end, failures, a retry's reopened tasks, and
 * a run created before the shard count changed (min(16, tasks) shards), finished by today's engine.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../lambdas/store';
import { keys } from '../../lambdas/store/keys';
import { DONE_SHARD_TASKS, doneShardCount, doneShardCountOf, doneShardOf, legacyDoneShardCount, type Slot } from '../../lambdas/store/slots';
import { GetCommand, PutCommand } from '../../lambdas/store/sdk';
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
  it('hold about 32 tasks each at any run size, so that an end never writes a large item', () => {
    expect(doneShardCount(1)).toBe(1);
    expect(doneShardCount(DONE_SHARD_TASKS)).toBe(1);
    expect(doneShardCount(DONE_SHARD_TASKS + 1)).toBe(2);
    expect(doneShardCount(10_000)).toBe(313);
    // 10,000 names of 64 characters (the longest a task name may be): every shard used, none past 2 × 32
    // names, so its done set stays within about 4.5 KB (DynamoDB bills an update by the item's size).
    const perShard = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const shard = doneShardOf(`${'t'.repeat(58)}${String(i).padStart(6, '0')}`, doneShardCount(10_000));
      perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    }
    expect(perShard.size).toBe(313);
    expect(Math.max(...perShard.values())).toBeLessThanOrEqual(2 * DONE_SHARD_TASKS);
    // Runs created before: their slots and run item carry no count, and keep min(16, tasks) shards.
    expect(doneShardCountOf({ tasks_total: 1000 })).toBe(16);
    expect(doneShardCountOf({ tasks_total: 5 })).toBe(5);
    expect(doneShardCountOf({ tasks_total: 1000, done_shard_count: 32 })).toBe(32);
  });

  it('finish the run with its last task, in any order and with replays, and count failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 100 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.subarray([...Array(n).keys()]), fc.subarray([...Array(n).keys()])),
        ),
        async ([n, order, failing, replayed]) => {
          const { processId, names } = await newRun(n);
          const failed = new Set(failing);
          const answers: Array<{ runDone: boolean; failed: number }> = [];
          for (const i of order) {
            answers.push(await store.slots.runTaskFinished(processId, names[i]!, failed.has(i), doneShardCount(n)));
            // A replay of this end (Lambda or Step Functions delivering twice) changes nothing.
            if (replayed.includes(i)) expect(await store.slots.runTaskFinished(processId, names[i]!, failed.has(i), doneShardCount(n))).toEqual(answers.at(-1));
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
    const n = 100;
    const shards = doneShardCount(n);
    const { processId, names } = await newRun(n);
    const failing = new Set(['t3', 't17', 't29']);
    for (const name of names) await store.slots.runTaskFinished(processId, name, failing.has(name), shards);

    await store.slots.runTasksReopened(processId, [...failing], shards);

    // Act + Assess: the first two succeed this time, the run is still not done; the last one fails again
    expect(await store.slots.runTaskFinished(processId, 't3', false, shards)).toEqual({ runDone: false, failed: 0 });
    expect((await store.slots.runTaskFinished(processId, 't17', false, shards)).runDone).toBe(false);
    const last = await store.slots.runTaskFinished(processId, 't29', true, shards);
    expect(last.runDone).toBe(true);
    expect(last.failed).toBe(1);

    // Once more, all succeeding: done, nothing failed
    await store.slots.runTasksReopened(processId, ['t29'], shards);
    expect(await store.slots.runTaskFinished(processId, 't29', false, shards)).toEqual({ runDone: true, failed: 0 });
  });

  it('of a run created before the count changed stay as they were: the engine finishes it on its 16 shards', async () => {
    // Items as the engine wrote them before 2026-12-03: no done_shard_count, min(16, n) shards.
    const n = 40;
    const legacy = legacyDoneShardCount(n);
    const processId = randomUUID();
    const names = Array.from({ length: n }, (_, i) => `t${i}`);
    const put = (item: Record<string, unknown>) => store.db.doc.send(new PutCommand({ TableName: store.db.tableName, Item: item }));
    const totals = new Map<number, number>();
    for (const name of names) totals.set(doneShardOf(name, legacy), (totals.get(doneShardOf(name, legacy)) ?? 0) + 1);
    for (const [shard, total] of totals) await put({ ...keys.doneShard(processId, shard), total });
    for (const name of names) {
      await put({
        ...keys.slot(processId, name),
        process_id: processId,
        name,
        definition: { task_definition_name: name },
        dependents: [],
        deps_total: 0,
        status: 'succeeded', // ended, but not counted yet: what a crash after the slot's end leaves
        attempts: 1,
        max_attempts: 1,
        round: 0,
        tasks_total: n,
      });
    }
    await store.runs.createRun(
      { process_id: processId, process_definition_name: 'legacy-shards', start_time: new Date().toISOString(), status: 'running' },
      { tasks_total: n, done_shards_total: totals.size },
    );

    // Act: the reaper's settle completes every ended task again, through today's completion
    await sundial.services.engine.settle(processId);

    // Assess: every task counted in its legacy shard, and the run ended with its last one
    for (const [shard, total] of totals) {
      const { Item } = await store.db.doc.send(new GetCommand({ TableName: store.db.tableName, Key: keys.doneShard(processId, shard), ConsistentRead: true }));
      expect((Item?.done_tasks as Set<string> | undefined)?.size).toBe(total);
    }
    expect((await store.runs.getRunRecord(processId))?.status).toBe('succeeded');
  });
});
