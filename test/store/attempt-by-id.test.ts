/**
 * An attempt found by its id alone (`RunStore.findProcessIdOfTask`, for the operator routes without a
 * `process_id`): through gsi4, its own keys in a sparse keys-only index, with no item of its own; an
 * attempt written before gsi4 through its locator item (`TASKID#<task_id>`), which retention still
 * expires and deletes; and, in a local table created before gsi4 (dynalite cannot add an index), new
 * attempts get the locator item again, end to end over HTTP. gsi4 is eventually consistent deployed
 * (dynalite's indexes are not): a lookup that misses asks again for a while before it answers none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../lambdas/store/client';
import { AttemptLocator } from '../../lambdas/store/attempt-locator';
import { GetCommand, PutCommand, QueryCommand } from '../../lambdas/store/sdk';
import { INDEXES, keys } from '../../lambdas/store/keys';
import { seedRun, shellTask, startTestSundial, tempDataDir, type TestSundial } from '../helpers/local';
import { createLocalTable } from '../helpers/local-table';

describe('attempts by id', () => {
  let t: TestSundial;
  beforeAll(async () => {
    t = await startTestSundial();
  });
  afterAll(() => t.close());

  const locatorOf = async (taskId: string) =>
    (await t.services.store.db.doc.send(new GetCommand({ TableName: t.services.store.db.tableName, Key: keys.taskLocator(taskId), ConsistentRead: true }))).Item;

  it('a new attempt is found through gsi4, with no locator item', async () => {
    // Prepare
    const run = await seedRun(t.services, { process_definition_name: 'by-id', tasks: [{ task_definition_name: 'a' }] });
    const [task] = run.tasks;

    // Act
    const found = await t.services.store.runs.findProcessIdOfTask(task!.task_id);

    // Assess
    expect(found).toBe(run.process_id);
    expect(await locatorOf(task!.task_id)).toBeUndefined();
    expect(await t.services.store.runs.findProcessIdOfTask('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('an attempt written before gsi4 is found through its locator, which its run expiry and deletion reach', async () => {
    // Prepare: the items as they were written before gsi4, the attempt without gsi4 keys
    const run = await seedRun(t.services, { process_definition_name: 'by-locator', status: 'failed', tasks: [] });
    const taskId = '10000000-0000-4000-8000-000000000001';
    const { db } = t.services.store;
    await db.doc.send(
      new PutCommand({
        TableName: db.tableName,
        Item: {
          ...keys.task(run.process_id, taskId),
          ...keys.taskIndexes('by-locator', 'a', run.start_time, taskId),
          task_id: taskId,
          process_id: run.process_id,
          process_definition_name: 'by-locator',
          task_definition_name: 'a',
          start_time: run.start_time,
          previous_attempt_count: 0,
          status: 'failed',
        },
      }),
    );
    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { ...keys.taskLocator(taskId), task_id: taskId, process_id: run.process_id } }));

    // Act
    const found = await t.services.store.runs.findProcessIdOfTask(taskId);
    await t.services.store.runs.setRunExpiry(run.process_id, 2_000_000_000);
    const expired = await locatorOf(taskId);
    await t.services.store.runs.deleteRun(run.process_id);

    // Assess
    expect(found).toBe(run.process_id);
    expect(expired?.expires_at).toBe(2_000_000_000);
    expect(await locatorOf(taskId)).toBeUndefined();
  });
});

describe('a local table created before gsi4', () => {
  let t: TestSundial;
  beforeAll(async () => {
    // Prepare: the table as the local mode created it before gsi4, in the data dir the server then opens
    const dataDir = tempDataDir();
    await createLocalTable(dataDir, { indexes: [INDEXES.gsi1, INDEXES.gsi2, INDEXES.gsi3] });
    t = await startTestSundial(dataDir);
  }, 60_000);
  afterAll(() => t?.close());

  it('is opened as it is, and a new attempt gets a locator item: its entries are found by its id alone', async () => {
    // Act
    await t.define('legacy', [shellTask('a')]);
    const run = await t.finished((await t.trigger('legacy')).process_id);
    const taskId = run.task[0].task_id as string;
    const entries = await t.api('GET', `/api/tasks/${taskId}/log_entries`);

    // Assess
    expect(t.services.store.db.missingIndexes).toEqual(['gsi4']);
    expect(entries.status, entries.text).toBe(200);
    expect(entries.json.process_id).toBe(run.process_id);
    const locator = await t.services.store.db.doc.send(
      new QueryCommand({ TableName: t.services.store.db.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.taskLocator(taskId).pk } }),
    );
    expect(locator.Items?.[0]?.process_id).toBe(run.process_id);
  });
});

describe('a lookup while gsi4 lags behind the attempt write (deployed GSIs are eventually consistent)', () => {
  /** A table whose gsi4 shows the attempt only from the `visibleFrom`th query on (as a lagging index does). */
  const lagging = (visibleFrom: number) => {
    const sent: string[] = [];
    const db = {
      tableName: 't',
      doc: {
        send: async (command: { constructor: { name: string }; input: { IndexName?: string } }) => {
          const kind = command.input.IndexName ? `Query ${command.input.IndexName}` : command.constructor.name;
          sent.push(kind);
          const queries = sent.filter((k) => k.startsWith('Query')).length;
          if (kind.startsWith('Query')) return { Items: queries >= visibleFrom ? [{ gsi4pk: 'TASKID#x', gsi4sk: 'run-1', pk: 'RUN#run-1', sk: 'TASK#x' }] : [] };
          return {}; // no locator item: a new attempt
        },
      },
    } as unknown as Db;
    return { locator: new AttemptLocator(db), sent };
  };

  it('finds an attempt the index shows only on a later query', async () => {
    // Prepare
    const { locator, sent } = lagging(3);

    // Act
    const found = await locator.find('x');

    // Assess
    expect(found).toBe('run-1');
    expect(sent.filter((k) => k === 'Query gsi4')).toHaveLength(3);
  });

  it('answers none for an unknown id once the catch-up time is over', async () => {
    // Prepare
    const { locator, sent } = lagging(Infinity);
    const t0 = Date.now();

    // Act
    const found = await locator.find('x', 300);

    // Assess
    expect(found).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(sent.filter((k) => k === 'Query gsi4').length).toBeGreaterThan(1);
  });
});
