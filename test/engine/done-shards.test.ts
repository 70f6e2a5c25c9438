/**
 * When a run is finished: the ends of its tasks without dependents are counted in done shards of about 32
 * such tasks each (lambdas/store/slots.ts `countsDone`), a task with dependents marks only its failure, and
 * the run item learns of a shard only when the shard completes. Against the real store (dynalite): every
 * order of ends, replays of any end, failures (a failure marked after its shard completed included), a
 * retry's reopened tasks, runs through the engine whose failure reaches no counted task, and a run created
 * before the shard count changed (min(16, tasks) shards, every task counted), finished by today's engine.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../lambdas/store';
import { keys } from '../../lambdas/store/keys';
import { DONE_SHARD_TASKS, doneShardCount, doneShardCountOf, doneShardOf, legacyDoneShardCount, type Slot } from '../../lambdas/store/slots';
import { GetCommand, PutCommand, QueryCommand } from '../../lambdas/store/sdk';
import { dependsOn, shellTask, type TestSundial, startTestSundial } from '../helpers/local';

let sundial: TestSundial;
let store: Store;

beforeAll(async () => {
  sundial = await startTestSundial();
  store = sundial.services.store;
});
afterAll(() => sundial.close());

/**
 * A new run of the tasks `counted` (no dependents) and `countedOut` (with a dependent, so not counted), their
 * slots, shards and run item as the engine writes them (the slots' dependents are not read here).
 */
async function writeRun(name: string, counted: readonly string[], countedOut: readonly string[] = []): Promise<{ processId: string; shards: number }> {
  const processId = randomUUID();
  const slot = (task: string, dependents: Slot['dependents']): Slot => ({
    process_id: processId,
    name: task,
    definition: { task_definition_name: task } as Slot['definition'],
    dependents,
    deps_total: 0,
    status: 'waiting',
    attempts: 0,
    max_attempts: 1,
    round: 0,
    ...(dependents.length > 0 ? { counts_done: false as const } : {}),
  });
  const slots = [...counted.map((task) => slot(task, [])), ...countedOut.map((task) => slot(task, [{ name: counted[0]!, success_required: false }]))];
  const shards = await store.slots.createSlots(slots);
  await store.runs.createRun({ process_id: processId, process_definition_name: name, start_time: new Date().toISOString(), status: 'running' }, { tasks_total: slots.length, ...shards });
  return { processId, shards: shards.done_shard_count };
}

/** A new run of tasks `t0..t<n-1>` (no dependencies), as the engine writes it. */
async function newRun(n: number): Promise<{ processId: string; names: string[] }> {
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  return { processId: (await writeRun('shards', names)).processId, names };
}

/** A run whose counted tasks are `c0..c<n-1>` and whose counted-out ones (tasks with dependents) are `countedOut`. */
const newDag = (n: number, countedOut: readonly string[]) => writeRun('dag', Array.from({ length: n }, (_, i) => `c${i}`), countedOut);

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

  it('count only the tasks without dependents; a failure of any other is marked, whichever lands first', async () => {
    // The case that needs the run item's mark, every time: 40 counted tasks (2 shards), and a failure marked
    // once every counted end but the last has landed, in the shard that the last one is not in (complete by then).
    const last = doneShardOf('c39', doneShardCount(40));
    const late = Array.from({ length: 100 }, (_, i) => `x-${i}`).find((name) => doneShardOf(name, doneShardCount(40)) !== last)!;
    const dag = await newDag(40, [late]);
    for (let i = 0; i < 39; i++) await store.slots.runTaskFinished(dag.processId, `c${i}`, false, dag.shards);
    await store.slots.runTaskFailed(dag.processId, late, dag.shards);
    expect(await store.slots.runTaskFinished(dag.processId, 'c39', false, dag.shards)).toEqual({ runDone: true, failed: 1 });

    await fc.assert(
      fc.asyncProperty(
        // `n` counted tasks (c0..) and `m` counted-out ones that fail (x<i>-<salt>: in any shard); the ends
        // in any order, but the last counted end after every failure mark (the engine marks one before
        // telling its dependents, whose counted descendants end after that). Half the time the failures
        // are marked after every other end: a shard without the last counted task is complete by then
        // (2 or 3 shards from 33 counted tasks).
        fc.tuple(fc.oneof(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 33, max: 70 })), fc.integer({ min: 0, max: 6 })).chain(([n, m]) =>
          fc.tuple(
            fc.constant(n),
            fc.constant(m),
            fc.nat().chain((salt) => fc.shuffledSubarray([...Array(n - 1).keys()].map((i) => `c${i}`).concat([...Array(m).keys()].map((i) => `x${i}-${salt}`)), { minLength: n - 1 + m, maxLength: n - 1 + m })),
            // Half the time no counted task fails: the run's status is then the failure marks' alone.
            fc.oneof(fc.constant([]), fc.subarray([...Array(n).keys()].map((i) => `c${i}`))),
            fc.boolean(),
          ),
        ),
        async ([n, m, shuffled, failing, late]) => {
          const { processId, shards } = await newDag(n, shuffled.filter((name) => name.startsWith('x')));
          const failed = new Set(failing);
          const order = late ? [...shuffled.filter((name) => name.startsWith('c')), ...shuffled.filter((name) => name.startsWith('x'))] : shuffled;
          for (const name of [...order, `c${n - 1}`]) {
            if (name.startsWith('x')) {
              await store.slots.runTaskFailed(processId, name, shards);
              await store.slots.runTaskFailed(processId, name, shards); // a replay changes nothing
              continue;
            }
            const answer = await store.slots.runTaskFinished(processId, name, failed.has(name), shards);
            expect(answer.runDone).toBe(name === `c${n - 1}`);
            if (answer.runDone) expect(answer.failed > 0).toBe(failed.size > 0 || m > 0);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('through the engine: only the tasks without dependents count, and a failure over an optional edge still fails the run, and is retried', async () => {
    // a → b → c (counted: c only), and broken -(optional)→ after (counted: after only)
    const marker = `${sundial.dataDir}/repaired`;
    await sundial.define('shards', [
      shellTask('a'),
      shellTask('b', { dependencies: [dependsOn('a')] }),
      shellTask('c', { dependencies: [dependsOn('b')] }),
      shellTask('broken', { executable: { shell_script_command: { script: `test -f ${marker}` } } }),
      shellTask('after', { dependencies: [dependsOn('broken', false)] }),
    ]);
    const run = await sundial.trigger('shards');
    const failed = await sundial.finished(run.process_id);
    expect(failed.status).toBe('failed');
    const doneItems = async () =>
      (await store.db.doc.send(new QueryCommand({ TableName: store.db.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :done)', ExpressionAttributeValues: { ':pk': keys.runPartition(run.process_id), ':done': 'DONE#' }, ConsistentRead: true }))).Items ?? [];
    const [shard] = await doneItems();
    expect(shard).toMatchObject({ total: 2, done_tasks: new Set(['c', 'after']), failed_tasks: new Set(['broken']) });

    // Act: the retry reopens `broken` alone (`after` succeeded), which now succeeds
    writeFileSync(marker, '');
    expect((await sundial.api('POST', `/api/processes/${run.process_id}/retry`)).status).toBe(201);
    const retried = await sundial.finished(run.process_id);

    // Assess: the run ended with the reopened task's end (counted now), and succeeded
    expect(retried.status).toBe('succeeded');
    expect((await doneItems())[0]).toMatchObject({ total: 1, done_tasks: new Set(['broken']) });
  });

  it('through the engine: a retry counts the blocked tasks it reopens, those with dependents too', async () => {
    // gate fails, and blocks mid (not counted: end depends on it) and end
    const marker = `${sundial.dataDir}/gate-open`;
    await sundial.define('blocked-chain', [
      shellTask('gate', { executable: { shell_script_command: { script: `test -f ${marker}` } } }),
      shellTask('mid', { dependencies: [dependsOn('gate')] }),
      shellTask('end', { dependencies: [dependsOn('mid')] }),
    ]);
    const run = await sundial.trigger('blocked-chain');
    expect((await sundial.finished(run.process_id)).status).toBe('failed');

    // Act
    writeFileSync(marker, '');
    expect((await sundial.api('POST', `/api/processes/${run.process_id}/retry`)).status).toBe(201);

    // Assess: the run ends once the three reopened tasks have, each counted
    expect((await sundial.finished(run.process_id)).status).toBe('succeeded');
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
