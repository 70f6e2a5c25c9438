/**
 * The reaper (attempts their executor lost end failed with a reason) and retention (a finished run's
 * items expire together; the local sweep deletes what is due; definitions never expire), in local mode.
 */
import { existsSync } from 'node:fs';
import { QueryCommand } from '../../lambdas/store/sdk';
import { describe, expect, it } from 'vitest';
import { Reaper } from '../../lambdas/engine/reaper';
import { DEFAULT_RETENTION_DAYS } from '../../lambdas/domain/retention';
import { keys } from '../../lambdas/store/keys';
import { shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api, define, finished } = sundial;
const trigger = async (name: string): Promise<string> => (await sundial.trigger(name)).process_id;

/** Waits until every item of the run's partition carries its expiry (the run item is set first, the rest after). */
const expired = async (processId: string) => {
  await until(
    () => partition(processId),
    (items) => items.some((i) => i.sk === 'RUN') && items.every((i) => typeof i.expires_at === 'number'),
  );
  return finished(processId);
};
const runningTask = (processId: string) => until(() => api('GET', `/api/processes/${processId}`), (r) => r.json.task.length > 0).then((r) => r.json.task[0]);

/** Every item of a run's partition. */
async function partition(processId: string): Promise<Array<Record<string, unknown>>> {
  const out = await sundial.current().services.store.db.doc.send(
    new QueryCommand({ TableName: sundial.current().services.store.db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.runPartition(processId) }, ConsistentRead: true }),
  );
  return (out.Items ?? []) as Array<Record<string, unknown>>;
}

describe('reaper', () => {
  it('ends an attempt whose execution is gone (found so on two sweeps in a row) with a reason, and stops its process', async () => {
    // Prepare: a running attempt whose execution disappears without recording it
    await define('lost', [shellScript('orphan', UNTIL_STOPPED)]);
    const processId = await trigger('lost');
    await runningTask(processId);
    const slot = await sundial.current().services.store.slots.get(processId, 'orphan');
    await sundial.current().sundial.orchestrator.stopTask(slot?.execution_name ?? '');
    await until(async () => sundial.current().sundial.orchestrator.has(slot?.execution_name ?? ''), (has) => !has);

    // Act
    const first = await sundial.current().sundial.sweeper.sweep();
    const second = await sundial.current().sundial.sweeper.sweep();

    // Assess
    expect(first.reaped).toEqual([]);
    expect(second.reaped).toEqual([expect.objectContaining({ process_id: processId, task_definition_name: 'orphan', reason: expect.stringMatching(/executor lost the attempt/) })]);
    const run = await finished(processId);
    expect(run.status).toBe('failed');
    expect(run.task[0].status).toBe('failed');
    expect(run.task[0].log_entries.map((e: { message: string }) => e.message).join('\n')).toMatch(/attempt failed: the executor lost the attempt/);
  });

  it('gives a task with attempts left its next attempt, in a new execution, after a lost one', async () => {
    // Prepare: the first attempt hangs and its execution disappears; any later attempt succeeds at once
    const marker = `${sundial.current().dataDir}/lost-once`;
    await define('lost-then-retried', [shellScript('flaky', `if [ -f ${marker} ]; then echo second; exit 0; fi; touch ${marker}; ${UNTIL_STOPPED}`, { max_attempts: 2 })]);
    const processId = await trigger('lost-then-retried');
    await runningTask(processId);
    // The first attempt has left its marker (its record is written before its process starts): lost before
    // that, the second attempt would be the one to hang.
    await until(async () => existsSync(marker), Boolean);
    const slot = await sundial.current().services.store.slots.get(processId, 'flaky');
    await sundial.current().sundial.orchestrator.stopTask(slot?.execution_name ?? '');
    await until(async () => sundial.current().sundial.orchestrator.has(slot?.execution_name ?? ''), (has) => !has);

    // Act
    await sundial.current().sundial.sweeper.sweep();
    const second = await sundial.current().sundial.sweeper.sweep();

    // Assess: reaped once, then the second attempt ran in the next round's execution and the run succeeded
    expect(second.reaped.map((r) => r.task_definition_name)).toEqual(['flaky']);
    const run = await finished(processId);
    expect(run.status).toBe('succeeded');
    expect(run.task.map((a: { status: string }) => a.status)).toEqual(['failed', 'succeeded']);
    expect(run.task[0].log_entries.map((e: { message: string }) => e.message).join('\n')).toMatch(/attempt failed: the executor lost the attempt/);
    expect(run.task[1].previous_attempt_count).toBe(1);
    expect((await sundial.current().services.store.slots.get(processId, 'flaky'))?.round).toBe(1);
  });

  it('ends an attempt past its deadline (start after backoff + max_runtime_seconds + grace), and leaves younger ones alone', async () => {
    // Prepare: a running attempt; a reaper whose clock is two hours ahead
    await define('overdue', [shellScript('stuck', UNTIL_STOPPED, { max_runtime_seconds: 600 })]);
    const processId = await trigger('overdue');
    await runningTask(processId);
    const now = () => new Date(Date.now() + 2 * 3600_000);
    const onTime = new Reaper({ store: sundial.current().services.store, engine: sundial.current().services.engine, now: () => new Date(), logger: sundial.current().services.logger });
    const late = new Reaper({ store: sundial.current().services.store, engine: sundial.current().services.engine, now, logger: sundial.current().services.logger });

    // Act
    const none = await onTime.reap();
    const reaped = await late.reap();

    // Assess
    expect(none).toEqual([]);
    expect(reaped.map((r) => r.process_id)).toContain(processId);
    expect(reaped.find((r) => r.process_id === processId)?.reason).toMatch(/ran past its deadline/);
    expect((await finished(processId)).status).toBe('failed');
  });
});

describe('retention', () => {
  it(`sets expires_at (end + ${DEFAULT_RETENTION_DAYS} days) on every item of a finished run (its attempts have no locator items to expire: gsi4 finds them), never on definitions`, async () => {
    // Prepare + Act
    await define('kept', [shellScript('one', 'echo hello'), shellScript('two', 'echo world', { dependencies: [{ task_definition_name: 'one' }] })]);
    const run = await expired(await trigger('kept'));

    // Assess
    // Run, slots and attempts expire with the run's end; entries from when they were written (never later).
    const expected = Date.parse(run.end_time) / 1000 + DEFAULT_RETENTION_DAYS * 86_400;
    const items = await partition(run.process_id);
    expect(items.length).toBeGreaterThan(5); // run, 2 slots, 2 attempts, their output lines
    for (const item of items) {
      const entry = String(item.sk).includes('#LOG#') || String(item.sk).includes('#META#');
      if (entry) expect(Number(item.expires_at), String(item.sk)).toBeLessThanOrEqual(expected + 1);
      expect(Math.abs(Number(item.expires_at) - expected), String(item.sk)).toBeLessThan(60);
    }
    for (const task of run.task) {
      // Locators of attempts written before gsi4 expire with their run (test/store/attempt-by-id.test.ts).
      const locator = await sundial.current().services.store.db.doc.send(new QueryCommand({ TableName: sundial.current().services.store.db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.taskLocator(task.task_id).pk } }));
      expect(locator.Items ?? []).toEqual([]);
    }
    const definition = await sundial.current().services.store.db.doc.send(new QueryCommand({ TableName: sundial.current().services.store.db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'DEF' } }));
    for (const item of definition.Items ?? []) expect(item.expires_at).toBeUndefined();
  });

  it('a retry clears the expiry of the run, its slots and attempts (entries keep theirs: aged from when written)', async () => {
    // Prepare
    await define('again', [shellScript('flaky', 'exit 1')]);
    const run = await expired(await trigger('again'));
    expect((await partition(run.process_id)).every((i) => typeof i.expires_at === 'number')).toBe(true);

    // Act: clear as retry does, then check that a finished run refuses nothing and a running one keeps no expiry
    await sundial.current().services.store.runs.setRunExpiry(run.process_id, undefined);

    // Assess
    const cleared = await partition(run.process_id);
    const isEntry = (i: Record<string, unknown>) => /#(LOG|META)#/.test(String(i.sk));
    expect(cleared.filter((i) => !isEntry(i) && i.expires_at !== undefined)).toEqual([]);
    expect(cleared.find((i) => i.sk === 'RUN')?.gsi3pk).toBeUndefined();
    expect(await sundial.current().services.store.runs.listExpiredRunIds(new Date(Date.now() + 365 * 86_400_000))).not.toContain(run.process_id);
  });

  it('the local sweep deletes a run whose expiry passed, with its partition and locators; other runs and definitions stay', async () => {
    // Prepare: two finished runs, one of them due
    await define('expiring', [shellScript('only', 'echo bye')]);
    const due = await expired(await trigger('expiring'));
    const keep = await expired(await trigger('expiring'));
    await sundial.current().services.store.runs.setRunExpiry(due.process_id, Math.floor(Date.now() / 1000) - 10);

    // Act
    const result = await sundial.current().sundial.sweeper.sweep();

    // Assess
    expect(result.expiredRuns).toBe(1);
    expect((await api('GET', `/api/processes/${due.process_id}`)).status).toBe(404);
    expect(await partition(due.process_id)).toEqual([]);
    expect(await sundial.current().services.store.runs.findProcessIdOfTask(due.task[0].task_id)).toBeUndefined();
    expect((await api('GET', `/api/processes/${keep.process_id}`)).status).toBe(200);
    expect((await api('GET', '/api/process_definitions/expiring')).status).toBe(200);
  });
});
