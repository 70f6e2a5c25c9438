/**
 * A fence (`RunStore.fenceTask`): the key of a first attempt whose claim was given back before its record
 * was written (engine.ts `endCurrentAttempt`), so that the `Prepare` still writing it (prepare.ts
 * `prepareClaimed`, its reads sent beside its write) fails. It holds the key, and is no attempt: no read
 * of attempts answers it (the run page, the listings, a callback), nothing writes into it, and it expires
 * and goes with its run.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConditionFailed } from '../../lambdas/store/client';
import { keys, TTL_ATTRIBUTE } from '../../lambdas/store/keys';
import { GetCommand } from '../../lambdas/store/sdk';
import { bearer, mintTaskToken, seedRun, startTestSundial, type TestSundial } from '../helpers/local';

describe('a fenced attempt key', () => {
  let t: TestSundial;
  beforeAll(async () => {
    t = await startTestSundial();
  });
  afterAll(() => t.close());

  const itemAt = async (processId: string, taskId: string) =>
    (await t.services.store.db.doc.send(new GetCommand({ TableName: t.services.store.db.tableName, Key: keys.task(processId, taskId), ConsistentRead: true }))).Item;

  it('takes the key once, never over a written attempt, and the attempt can no longer be written there', async () => {
    // Prepare
    const { runs } = t.services.store;
    const run = await seedRun(t.services, { process_definition_name: 'fence-key', tasks: [{ task_definition_name: 'written' }] });
    const fencedId = randomUUID();

    // Act
    const first = await runs.fenceTask(run.process_id, fencedId, undefined);
    const again = await runs.fenceTask(run.process_id, fencedId, undefined);
    const overAttempt = await runs.fenceTask(run.process_id, run.tasks[0]!.task_id, undefined);
    const write = await runs
      .createTask({ task_id: fencedId, process_id: run.process_id, process_definition_name: 'fence-key', task_definition_name: 'late', start_time: run.start_time, previous_attempt_count: 0, status: 'running' })
      .then(() => 'written', (err: unknown) => (isConditionFailed(err) ? 'refused' : err));

    // Assess
    expect([first, again, overAttempt]).toEqual([true, false, false]);
    expect(write).toBe('refused');
    expect(await itemAt(run.process_id, fencedId)).toEqual({ ...keys.task(run.process_id, fencedId), fenced: true });
    expect(await runs.getTaskRecord(run.process_id, run.tasks[0]!.task_id)).toMatchObject({ status: 'running' }); // the attempt is untouched
  });

  it('is no attempt: the run page, the listings, the store and the callbacks answer none, and nothing writes into it', async () => {
    // Prepare: a run with one attempt, and the key of another fenced
    const { runs } = t.services.store;
    const run = await seedRun(t.services, { process_definition_name: 'fence-hidden', tasks: [{ task_definition_name: 'written' }] });
    const fencedId = randomUUID();
    expect(await runs.fenceTask(run.process_id, fencedId, undefined)).toBe(true);
    const token = await mintTaskToken(t.services, fencedId, run.process_id);
    const written = run.tasks[0]!.task_id;

    // Act
    const page = await t.api('GET', `/api/processes/${run.process_id}`);
    const listed = await t.api('GET', `/api/tasks/?process_id=${run.process_id}`);
    const succeed = await t.api('POST', `/api/tasks/${fencedId}/succeed`, undefined, bearer(token));
    const log = await t.api('POST', `/api/tasks/${fencedId}/log`, { log_entries: [{ message: 'hi' }] }, bearer(token));
    const reported = await runs.reportTask(run.process_id, fencedId, 'succeeded', new Date().toISOString());
    const progress = await runs.recordProgress(run.process_id, fencedId, { percent: 50, message: 'half' } as never);

    // Assess
    expect(page.status).toBe(200);
    expect(page.json.task.map((a: { task_id: string }) => a.task_id)).toEqual([written]);
    expect(listed.json.map((a: { task_id: string }) => a.task_id)).toEqual([written]);
    expect(await runs.getTaskRecord(run.process_id, fencedId)).toBeUndefined();
    expect(await runs.getTask(run.process_id, fencedId)).toBeUndefined();
    expect(succeed.status, succeed.text).toBe(404);
    expect(log.status, log.text).toBe(404);
    expect(reported).toBe('missing');
    expect(progress).toEqual({ outcome: 'missing' });
    expect(await itemAt(run.process_id, fencedId)).toEqual({ ...keys.task(run.process_id, fencedId), fenced: true });
  });

  it('expires with its run, and goes with it', async () => {
    // Prepare: an ended run with one attempt and a fence stamped with the kill's expiry
    const { runs } = t.services.store;
    const run = await seedRun(t.services, { process_definition_name: 'fence-expiry', status: 'failed', end_time: new Date().toISOString(), tasks: [{ task_definition_name: 'written', status: 'failed' }] });
    const fencedId = randomUUID();
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    await runs.fenceTask(run.process_id, fencedId, expiry);
    expect((await itemAt(run.process_id, fencedId))?.[TTL_ATTRIBUTE]).toBe(expiry);

    // Act: a retry removes every expiry of the run, its end stamps them again, then the run goes
    await runs.setRunExpiry(run.process_id, undefined);
    const cleared = await itemAt(run.process_id, fencedId);
    await runs.setRunExpiry(run.process_id, expiry + 60);
    const stamped = await itemAt(run.process_id, fencedId);
    const deleted = await runs.deleteRun(run.process_id);

    // Assess
    expect(cleared).toBeDefined();
    expect(cleared?.[TTL_ATTRIBUTE]).toBeUndefined();
    expect(stamped?.[TTL_ATTRIBUTE]).toBe(expiry + 60);
    expect(await itemAt(run.process_id, fencedId)).toBeUndefined();
    expect(deleted).toBeGreaterThan(0);
  });
});
