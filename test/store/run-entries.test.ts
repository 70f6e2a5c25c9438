/**
 * A run's page embeds each attempt's last few entries from one Query of the run's entry items
 * (EntryStore.lastEntriesOfRun) instead of two gsi1 Queries per attempt: the same entries and the same
 * `truncated` as the per-attempt read, whatever the mix (callback entries sharing a millisecond, chunks of
 * captured lines, metadata only, none), and the per-attempt read only for the attempts a cut page did not
 * hold whole.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry, MetadataEntry } from '../../lambdas/domain/models';
import { EntryStore } from '../../lambdas/store/entries';
import { Store } from '../../lambdas/store';
import { startDynamo } from '../../local/dynalite';
import { perFile } from '../helpers/per-file';
import { type StoreCall, storeCallsDuring } from '../helpers/store-calls';

const dynamo = perFile('dynalite', () => startDynamo(undefined));
const N = 10;

const at = (ms: number) => new Date(Date.parse('2026-12-04T03:00:00.000Z') + ms).toISOString();
const uuid = (prefix: string, i: number) => `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`;
const log = (id: string, when: string, message = `message ${id}`): LogEntry => ({ log_entry_id: id, when, source: 'task', message });
const meta = (id: string, when: string): MetadataEntry => ({ metadata_entry_id: id, when, key: `k-${id}`, value: `v-${id}` });

/** Attempts of one run, each a different mix of entries. */
async function seedRun(entries: EntryStore, processId: string): Promise<string[]> {
  const tasks = Array.from({ length: 6 }, (_, i) => uuid('30000000', i));
  const [many, chunked, metaOnly, none, few, mixed] = tasks as [string, string, string, string, string, string];
  // More than N callback entries, several in the same millisecond (ordered by id), one written late with an early time.
  await entries.appendLogEntries(processId, many, Array.from({ length: 14 }, (_, i) => log(uuid('40000000', i), at(Math.floor(i / 3)))));
  await entries.appendLogEntries(processId, many, [log(uuid('40000000', 99), at(-5))]);
  // Captured output in chunks (one chunk of 600 lines is two items), then a callback entry among them in time.
  await entries.appendCapturedLines(processId, chunked, Array.from({ length: 600 }, (_, seq) => ({ ...log(`line-${seq}`, at(seq)), source: 'stdout' as const, seq })));
  await entries.appendLogEntries(processId, chunked, [log(uuid('41000000', 1), at(595))]);
  await entries.appendMetadataEntries(processId, metaOnly, Array.from({ length: 12 }, (_, i) => meta(uuid('42000000', i), at(i % 4))));
  await entries.appendLogEntries(processId, few, [log(uuid('43000000', 1), at(1)), log(uuid('43000000', 2), at(0))]);
  await entries.appendLogEntries(processId, mixed, [log(uuid('44000000', 1), at(7))]);
  await entries.appendMetadataEntries(processId, mixed, [meta(uuid('45000000', 1), at(3))]);
  void none;
  return tasks;
}

describe('the last entries of a run, in one Query', () => {
  it('answers for every attempt what the per-attempt read answers, and for a cut page only the attempts it held whole', async () => {
    // Prepare
    const entries = new EntryStore(dynamo().db, 0);
    const processId = uuid('3a000000', 1);
    const tasks = await seedRun(entries, processId);
    await entries.appendLogEntries(uuid('3a000000', 2), uuid('30000000', 90), [log(uuid('46000000', 1), at(100))]); // another run's: not read
    const expected = new Map(
      await Promise.all(
        tasks.map(async (t) => [t, { log: await entries.lastEntries<LogEntry>(t, 'log', N), metadata: await entries.lastEntries<MetadataEntry>(t, 'metadata', N) }] as const),
      ),
    );

    // Act
    const whole = await entries.lastEntriesOfRun(processId, N);
    const cut = await Promise.all([1, 3, 8, 20].map((limit) => entries.lastEntriesOfRun(processId, N, limit)));

    // Assess
    expect(tasks.map((t) => whole(t))).toEqual(tasks.map((t) => expected.get(t)));
    expect(expected.get(tasks[0]!)!.log.truncated).toBe(true);
    expect(expected.get(tasks[1]!)!.log.entries.map((e) => e.log_entry_id)).toContain(uuid('41000000', 1));
    expect(whole(uuid('30000000', 90))).toEqual({ log: { entries: [], truncated: false }, metadata: { entries: [], truncated: false } });
    for (const answer of cut) {
      const held = tasks.filter((t) => answer(t) !== undefined);
      expect(held.map((t) => answer(t))).toEqual(held.map((t) => expected.get(t)));
    }
    // A page of 1 item holds no attempt whole; one of 20 holds the first attempt's 15 entries.
    expect(tasks.filter((t) => cut[0]!(t) !== undefined)).toEqual([]);
    expect(cut[3]!(tasks[0]!)).toEqual(expected.get(tasks[0]!));
  });

  it('embeds the entries of a 200-attempt run with a few Queries, the same as read one attempt at a time', async () => {
    // Prepare: a run of 200 attempts, each with 3 log entries and one metadata entry
    const store = new Store(dynamo().db, { retentionDays: 0 });
    const processId = uuid('3b000000', 1);
    await store.runs.createRun({ process_id: processId, process_definition_name: 'entries', start_time: at(0), status: 'running' }, { environment_variables: [] });
    const tasks = Array.from({ length: 200 }, (_, i) => uuid('3c000000', i));
    for (const [i, taskId] of tasks.entries()) {
      await store.runs.createTask({ task_id: taskId, process_id: processId, process_definition_name: 'entries', task_definition_name: `t${i}`, start_time: at(i), previous_attempt_count: 0, status: 'running' });
    }
    await Promise.all(
      tasks.map(async (taskId, i) => {
        await store.runs.appendLogEntries(processId, taskId, [0, 1, 2].map((k) => log(uuid(`5${String(k)}000000`, i), at(i + k))));
        await store.runs.appendMetadataEntries(processId, taskId, [meta(uuid('60000000', i), at(i))]);
      }),
    );
    const queries = (calls: StoreCall[]) => calls.filter((c) => c.name === 'QueryCommand').length;

    // Act
    const one = await storeCallsDuring(dynamo().db, () => store.runs.getRun(processId));
    const perAttempt = await storeCallsDuring(dynamo().db, () => Promise.all(tasks.map((t) => store.runs.getTask(processId, t))));

    // Assess: the slots, the attempts and the entries, side by side (before: 2 entry Queries per attempt)
    expect(queries(one.calls)).toBeLessThanOrEqual(4);
    expect(queries(perAttempt.calls)).toBeGreaterThanOrEqual(400);
    const embedded = new Map(one.result!.task.map((t) => [t.task_id, { log: t.log_entries, metadata: t.metadata_entries }]));
    expect(embedded.size).toBe(200);
    for (const task of perAttempt.result) {
      expect(embedded.get(task!.task_id)).toEqual({ log: task!.log_entries, metadata: task!.metadata_entries });
      expect(task!.log_entries).toHaveLength(3);
    }
  });
});
