/**
 * A run's items get their expiry from the writes that end them (issue 18): an attempt's end, a slot's
 * end (completion, kill) stamp `expires_at` = their end + retention in the same write, and the run's end
 * sets it only where none is (the run item, its done shards: the engine's state until it ends, and what no
 * end write touched).
 * Read straight from the table, in local mode; the run-end pass's own writes are watched on the client.
 */
import { DeleteCommand, QueryCommand } from '../../lambdas/store/sdk';
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION_DAYS } from '../../lambdas/domain/retention';
import { keys } from '../../lambdas/store/keys';
import { doneShardCount, doneShardOf } from '../../lambdas/store/slots';
import { shellScript, UNTIL_STOPPED } from '../helpers/factories';
import { startTestSundial, sundialPerFile, type TestSundial } from '../helpers/local';
import { until } from '../helpers/until';

/**
 * The server's clock: the system's, plus what a test moves it on by, so that an end falls in a later second
 * than an earlier one without waiting for the second to turn.
 */
const clock = { offsetMs: 0 };
const sundial = sundialPerFile({ now: () => new Date(Date.now() + clock.offsetMs) });
/** Moves the server's clock on by two seconds: whatever ends from now on ends in a later second. */
const laterSecond = () => void (clock.offsetMs += 2_000);
const { api, define, finished } = sundial;
const DAY = 86_400;

type Item = Record<string, unknown>;
const isEntry = (i: Item) => /#(LOG|META)#/.test(String(i.sk));

/** Every item of a run's partition, as stored. */
async function partition(t: Pick<TestSundial, 'services'>, processId: string): Promise<Item[]> {
  const db = t.services.store.db;
  const out = await db.doc.send(new QueryCommand({ TableName: db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.runPartition(processId) }, ConsistentRead: true }));
  return (out.Items ?? []) as Item[];
}

/** Waits until the run's end is over: every non-entry item of its partition has its expiry (the pass sets the run item's first). */
const stamped = (processId: string) =>
  until(() => partition(sundial.current(), processId), (items) => items.some((i) => i.sk === 'RUN') && items.every((i) => isEntry(i) || typeof i.expires_at === 'number'));

const bySk = (items: Item[], sk: string) => items.find((i) => i.sk === sk);
const expiryOf = (iso: string) => Math.floor(Date.parse(iso) / 1000) + DEFAULT_RETENTION_DAYS * DAY;

/**
 * The sort keys of a run's partition that the run-end pass wrote (run-retention.ts: `SET #ttl = :e` on
 * one item, not the run item): the writes of a run's end that set an expiry and nothing else.
 */
let passWrites: Array<{ pk: string; sk: string }> = [];
let unwatch: (() => void) | undefined;
beforeEach(() => {
  passWrites = [];
  unwatch = sundial.current().services.store.db.doc.observe((call, next) => {
    const input = call.input as { Key?: { pk?: unknown; sk?: unknown }; UpdateExpression?: string };
    if (call.name === 'UpdateItemCommand' && input.UpdateExpression === 'SET #ttl = :e') {
      passWrites.push({ pk: String(input.Key?.pk), sk: String(input.Key?.sk) });
    }
    return next();
  });
});
afterEach(() => {
  unwatch?.();
});
const passWrote = (processId: string) => passWrites.filter((w) => w.pk === keys.runPartition(processId)).map((w) => w.sk).sort();

/** The sort keys of a run's done shards (stamped by the run's end, never by a task's). */
const doneShardKeys = (processId: string, names: readonly string[]) => [...new Set(names.map((n) => keys.doneShard(processId, doneShardOf(n, doneShardCount(names.length))).sk))];

describe("a run's items expire from their own end", () => {
  it('every non-entry item has expires_at once the run ended; a task that ended earlier has its earlier end\'s, stamped by its end writes, and the run item the run\'s', async () => {
    // Prepare: the second task runs until its marker exists, which the test writes once the first has ended
    // and the clock has moved on: it ends in a later second than the first
    const [early, late] = ['early', 'late'];
    const marker = `${sundial.current().dataDir}/staggered-marker`;
    await define('staggered', [shellScript(early, 'echo one'), shellScript(late, `while [ ! -f ${marker} ]; do sleep 0.05; done; echo two`, { dependencies: [{ task_definition_name: early }] })]);

    // Act
    const { process_id: processId } = (await api('POST', '/api/process_definitions/staggered/trigger')).json;
    await until(() => api('GET', `/api/processes/${processId}`), (r) => r.json.task.some((t: { task_definition_name: string; status: string }) => t.task_definition_name === early && t.status === 'succeeded'));
    laterSecond();
    writeFileSync(marker, '');
    const run = await finished(processId);
    await stamped(processId);

    // Assess
    expect(run.status).toBe('succeeded');
    const items = await partition(sundial.current(), processId);
    expect(items.filter((i) => !isEntry(i) && typeof i.expires_at !== 'number').map((i) => i.sk)).toEqual([]);
    const attempt = (name: string) => run.task.find((t: { task_definition_name: string }) => t.task_definition_name === name);
    for (const name of [early, late]) {
      const ended = expiryOf(attempt(name).end_time);
      expect(bySk(items, `TASK#${attempt(name).task_id}`)?.expires_at, name).toBe(ended);
      // The slot's end write follows the attempt's (by milliseconds; seconds on a loaded machine).
      for (const sk of [keys.slot(processId, name).sk]) {
        expect(Number(bySk(items, sk)?.expires_at) - ended, sk).toBeGreaterThanOrEqual(0);
        expect(Number(bySk(items, sk)?.expires_at) - ended, sk).toBeLessThanOrEqual(5);
      }
    }
    // The first task's attempt and slot ended before the clock moved on and the second ended: earlier than the run's.
    const runExpiry = Number(bySk(items, 'RUN')?.expires_at);
    for (const sk of [`TASK#${attempt(early).task_id}`, keys.slot(processId, early).sk]) expect(Number(bySk(items, sk)?.expires_at), sk).toBeLessThan(runExpiry);
    // The run item's is taken once its listeners were told, just after its end_time.
    expect(runExpiry - expiryOf(run.end_time)).toBeGreaterThanOrEqual(0);
    expect(runExpiry - expiryOf(run.end_time)).toBeLessThanOrEqual(5);
    // The run's end wrote no item that an end write had stamped: only its done shards, with the run's expiry.
    expect(passWrote(processId)).toEqual(doneShardKeys(processId, [early, late]).sort());
    for (const sk of doneShardKeys(processId, [early, late])) expect(bySk(items, sk)?.expires_at, sk).toBe(runExpiry);
  });

  it("a retried run's kept items carry the retry's end expiry; the retried task's items their new end's", async () => {
    // Prepare: one task succeeds, the other fails until its marker exists, then takes a second
    const marker = `${sundial.current().dataDir}/retry-marker`;
    const [kept, flaky] = ['kept', 'flaky'];
    await define('retried', [shellScript(kept, 'echo kept'), shellScript(flaky, `[ -f ${marker} ] || exit 1`, { max_attempts: 1 })]);
    const { process_id: processId } = (await api('POST', '/api/process_definitions/retried/trigger')).json;
    const first = await finished(processId);
    await stamped(processId);
    expect(first.status).toBe('failed');
    const firstEnd = expiryOf(first.end_time);
    passWrites = [];

    // Act: the retry ends in a later second than the first run
    laterSecond();
    writeFileSync(marker, '');
    expect((await api('POST', `/api/processes/${processId}/retry`)).status).toBe(201);
    const run = await until(() => api('GET', `/api/processes/${processId}`), (r) => r.json.status === 'succeeded').then((r) => r.json);
    await stamped(processId);

    // Assess
    const items = await partition(sundial.current(), processId);
    const runExpiry = Number(bySk(items, 'RUN')?.expires_at);
    expect(runExpiry - expiryOf(run.end_time)).toBeGreaterThanOrEqual(0);
    expect(runExpiry - expiryOf(run.end_time)).toBeLessThanOrEqual(5);
    expect(runExpiry).toBeGreaterThan(firstEnd);
    const attempts = run.task as Array<{ task_id: string; task_definition_name: string; end_time: string }>;
    const keptAttempt = attempts.find((t) => t.task_definition_name === kept)!;
    const [flakyFirst, flakySecond] = attempts.filter((t) => t.task_definition_name === flaky).sort((a, b) => a.end_time.localeCompare(b.end_time));
    // Kept: every expiry went with the retry, and the retry's end set it again.
    const keptKeys = [`TASK#${keptAttempt.task_id}`, `TASK#${flakyFirst!.task_id}`, keys.slot(processId, kept).sk, ...doneShardKeys(processId, [kept, flaky])];
    for (const sk of keptKeys) expect(bySk(items, sk)?.expires_at, sk).toBe(runExpiry);
    expect(passWrote(processId)).toEqual([...keptKeys].sort());
    // Retried: stamped by their new end writes.
    expect(bySk(items, `TASK#${flakySecond!.task_id}`)?.expires_at).toBe(expiryOf(flakySecond!.end_time));
    expect(Number(bySk(items, keys.slot(processId, flaky).sk)?.expires_at) - expiryOf(flakySecond!.end_time)).toBeGreaterThanOrEqual(0);
    expect(Number(bySk(items, keys.slot(processId, flaky).sk)?.expires_at) - expiryOf(flakySecond!.end_time)).toBeLessThanOrEqual(5);
    expect(items.filter((i) => !isEntry(i) && typeof i.expires_at !== 'number').map((i) => i.sk)).toEqual([]);
  });

  it("a killed run's items all carry an expiry, stamped by the kill's writes (the running attempt and slot, the waiting slot)", async () => {
    // Prepare: a running task and one waiting for it
    await define('killed', [shellScript('runs', UNTIL_STOPPED), shellScript('waits', 'echo never', { dependencies: [{ task_definition_name: 'runs' }] })]);
    const { process_id: processId } = (await api('POST', '/api/process_definitions/killed/trigger')).json;
    await until(() => api('GET', `/api/processes/${processId}`), (r) => r.json.task.some((t: { status: string }) => t.status === 'running'));

    // Act
    expect((await api('POST', `/api/processes/${processId}/kill`)).status).toBe(201);
    await stamped(processId);

    // Assess
    const items = await partition(sundial.current(), processId);
    expect(items.filter((i) => !isEntry(i) && typeof i.expires_at !== 'number').map((i) => i.sk)).toEqual([]);
    expect(bySk(items, keys.slot(processId, 'runs').sk)?.status).toBe('failed');
    expect(bySk(items, keys.slot(processId, 'waits').sk)?.status).toBe('blocked');
    // The run's end wrote only what no end write touched: the waiting task's done shard, never counted.
    const wrote = passWrote(processId);
    expect(wrote.filter((sk) => sk.startsWith('SLOT#') || sk.startsWith('TASK#'))).toEqual([]);
  });

  it('answers a finished run whose slot and attempt items are gone (TTL deletes them before the run item) with what remains', async () => {
    // Prepare: a finished run of two tasks; one slot and the other task's attempt deleted, as TTL may
    await define('partly-gone', [shellScript('a', 'echo a'), shellScript('b', 'echo b')]);
    const { process_id: processId } = (await api('POST', '/api/process_definitions/partly-gone/trigger')).json;
    const run = await finished(processId);
    await stamped(processId);
    const db = sundial.current().services.store.db;
    const attemptOf = (name: string) => run.task.find((t: { task_definition_name: string }) => t.task_definition_name === name);
    await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: keys.slot(processId, 'a') }));
    await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: keys.task(processId, attemptOf('b').task_id) }));

    // Act
    const got = await api('GET', `/api/processes/${processId}`);
    const listed = await api('GET', '/api/processes?process_definition_name=partly-gone');
    const tasks = await api('GET', `/api/tasks?process_id=${processId}`);
    const outputWithoutSlot = await api('GET', `/api/tasks/${attemptOf('a').task_id}/output?process_id=${processId}`);
    const goneAttempt = await api('GET', `/api/tasks/${attemptOf('b').task_id}/output?process_id=${processId}`);

    // Assess
    expect(got.status, got.text).toBe(200);
    expect(got.json.task.map((t: { task_definition_name: string }) => t.task_definition_name)).toEqual(['a']);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json[0].task.map((t: { task_definition_name: string }) => t.task_definition_name)).toEqual(['a']);
    expect(tasks.status, tasks.text).toBe(200);
    expect(tasks.json.map((t: { task_id: string }) => t.task_id)).toEqual([attemptOf('a').task_id]);
    expect(outputWithoutSlot.status, outputWithoutSlot.text).toBe(200);
    expect(goneAttempt.status).toBe(404);
  });
});

describe('retention 0 (history kept for ever)', () => {
  it('writes no expiry on any item of a run', async () => {
    // Prepare
    const t = await startTestSundial(undefined, { retentionDays: 0 });
    try {
      await t.define('forever', [shellScript('one', 'echo one'), shellScript('two', 'exit 1', { dependencies: [{ task_definition_name: 'one' }] })]);
      const { process_id: processId } = await t.trigger('forever');

      // Act
      const run = await t.finished(processId);

      // Assess: the last task's end writes (attempt, slot, shard) come before the run's end
      expect(run.status).toBe('failed');
      const items = await partition(t, processId);
      expect(items.length).toBeGreaterThan(5);
      expect(items.filter((i) => i.expires_at !== undefined).map((i) => i.sk)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
