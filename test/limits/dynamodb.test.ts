/**
 * DynamoDB's limits (lambdas/domain/aws-limits.ts) hold in the local store: dynalite 4 enforces most of
 * them itself; the `IN` operand count is checked by local/dynalite-worker.mjs. Each case goes through the
 * real SDK, as the store code does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DYNAMODB_BATCH_GET_MAX_ITEMS,
  DYNAMODB_BATCH_WRITE_MAX_ITEMS,
  DYNAMODB_IN_MAX_OPERANDS,
  DYNAMODB_ITEM_MAX_BYTES,
  DYNAMODB_PAGE_MAX_BYTES,
} from '../../lambdas/domain/aws-limits';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '../../lambdas/store/sdk';
import { type EmbeddedDynamo, startDynamo } from '../../local/dynalite';

let store: EmbeddedDynamo;

beforeAll(async () => {
  store = await startDynamo(undefined);
});

afterAll(async () => {
  await store?.close();
});

/** The error a call fails with (name and message), or undefined when it succeeds. */
async function refusal(call: Promise<unknown>): Promise<{ name: string; message: string } | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
}

const table = () => store.db.tableName;

describe('DynamoDB limits in the local store', () => {
  it(`refuses an item over ${DYNAMODB_ITEM_MAX_BYTES} bytes (PutItem, UpdateItem)`, async () => {
    // Prepare
    const big = 'x'.repeat(DYNAMODB_ITEM_MAX_BYTES);

    // Act
    const put = await refusal(store.db.doc.send(new PutCommand({ TableName: table(), Item: { pk: 'big', sk: 'a', v: big } })));
    const fits = await refusal(store.db.doc.send(new PutCommand({ TableName: table(), Item: { pk: 'big', sk: 'b', v: big.slice(1000) } })));
    const update = await refusal(
      store.db.doc.send(
        new UpdateCommand({ TableName: table(), Key: { pk: 'big', sk: 'b' }, UpdateExpression: 'SET w = :w', ExpressionAttributeValues: { ':w': 'y'.repeat(2000) } }),
      ),
    );

    // Assess
    expect(put).toEqual({ name: 'ValidationException', message: 'Item size has exceeded the maximum allowed size' });
    expect(fits).toBeUndefined();
    expect(update?.name).toBe('ValidationException');
    expect(update?.message).toMatch(/Item size .*has exceeded the maximum allowed size/);
  });

  it(`ends a Query page at ${DYNAMODB_PAGE_MAX_BYTES} bytes read, with LastEvaluatedKey`, async () => {
    // Prepare: 12 items of ~100 KB = ~1.2 MB in one partition.
    const v = 'y'.repeat(100 * 1024);
    for (let i = 0; i < 12; i++) await store.db.doc.send(new PutCommand({ TableName: table(), Item: { pk: 'page', sk: `s${String(i).padStart(2, '0')}`, v } }));

    // Act
    const out = await store.db.doc.send(new QueryCommand({ TableName: table(), KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'page' } }));

    // Assess
    expect(out.Items!.length).toBeLessThan(12);
    expect(out.Items!.length * v.length).toBeLessThanOrEqual(DYNAMODB_PAGE_MAX_BYTES + v.length);
    expect(out.LastEvaluatedKey).toBeDefined();
  });

  it(`refuses an IN of more than ${DYNAMODB_IN_MAX_OPERANDS} operands in a FilterExpression, as DynamoDB does`, async () => {
    // Prepare
    const names = (n: number) => Array.from({ length: n }, (_, i) => `:v${i}`);
    const values = (n: number) => Object.fromEntries(names(n).map((k, i) => [k, `s${i}`]));
    const query = (n: number) =>
      store.db.doc.send(
        new QueryCommand({
          TableName: table(),
          KeyConditionExpression: 'pk = :p',
          FilterExpression: `#s IN (${names(n).join(', ')})`,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':p': 'page', ...values(n) },
        }),
      );

    // Act
    const atLimit = await refusal(query(DYNAMODB_IN_MAX_OPERANDS));
    const over = await refusal(query(DYNAMODB_IN_MAX_OPERANDS + 63));

    // Assess
    expect(atLimit).toBeUndefined();
    expect(over).toEqual({
      name: 'ValidationException',
      message: `Invalid FilterExpression: The IN operator is provided with too many operands; number of operands: 163`,
    });
  });

  it('refuses an IN of more than 100 operands in a ConditionExpression', async () => {
    // Prepare
    const keys = Array.from({ length: 101 }, (_, i) => `:v${i}`);

    // Act
    const over = await refusal(
      store.db.doc.send(
        new PutCommand({
          TableName: table(),
          Item: { pk: 'cond', sk: 'a' },
          ConditionExpression: `attribute_not_exists(pk) OR #s IN (${keys.join(',')})`,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: Object.fromEntries(keys.map((k) => [k, k])),
        }),
      ),
    );

    // Assess
    expect(over).toEqual({
      name: 'ValidationException',
      message: 'Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101',
    });
  });

  it(`refuses a BatchWriteItem of more than ${DYNAMODB_BATCH_WRITE_MAX_ITEMS} requests`, async () => {
    // Prepare
    const requests = Array.from({ length: DYNAMODB_BATCH_WRITE_MAX_ITEMS + 1 }, (_, i) => ({ PutRequest: { Item: { pk: 'bw', sk: `s${i}` } } }));

    // Act
    const over = await refusal(store.db.doc.send(new BatchWriteCommand({ RequestItems: { [table()]: requests } })));
    const atLimit = await refusal(store.db.doc.send(new BatchWriteCommand({ RequestItems: { [table()]: requests.slice(1) } })));

    // Assess
    expect(over?.name).toBe('ValidationException');
    expect(over?.message).toContain('Member must have length less than or equal to 25');
    expect(atLimit).toBeUndefined();
  });

  it(`refuses a BatchGetItem of more than ${DYNAMODB_BATCH_GET_MAX_ITEMS} keys`, async () => {
    // Prepare
    const keys = Array.from({ length: DYNAMODB_BATCH_GET_MAX_ITEMS + 1 }, (_, i) => ({ pk: 'bg', sk: `s${i}` }));

    // Act
    const over = await refusal(store.db.doc.send(new BatchGetCommand({ RequestItems: { [table()]: { Keys: keys } } })));
    const atLimit = await refusal(store.db.doc.send(new BatchGetCommand({ RequestItems: { [table()]: { Keys: keys.slice(1) } } })));

    // Assess
    // DynamoDB words it this way for one table's keys; "Too many items requested" is for 100 across tables.
    expect(over?.name).toBe('ValidationException');
    expect(over?.message).toContain('Member must have length less than or equal to 100');
    expect(atLimit).toBeUndefined();
  });
});

/**
 * The write units an item write consumes, as DynamoDB answers them with `ReturnConsumedCapacity: TOTAL`: the
 * table's and each secondary index's that the write changes
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes).
 * The local table's indexes (lambdas/store/keys.ts): gsi1–gsi3 project ALL, gsi4 KEYS_ONLY.
 */
describe('write units in the local store, indexes included', () => {
  const key = { pk: 'wcu', sk: 'item' };
  const units = (out: { ConsumedCapacity?: { CapacityUnits?: number } }) => out.ConsumedCapacity?.CapacityUnits;
  const put = (item: Record<string, unknown>) => store.db.doc.send(new PutCommand({ TableName: table(), Item: { ...key, ...item }, ReturnConsumedCapacity: 'TOTAL' })).then(units);
  const update = (expression: string, values?: Record<string, unknown>) =>
    store.db.doc
      .send(new UpdateCommand({ TableName: table(), Key: key, UpdateExpression: expression, ...(values ? { ExpressionAttributeValues: values } : {}), ReturnConsumedCapacity: 'TOTAL' }))
      .then(units);

  it('counts one write per index entry put, changed or deleted, two per index key changed, none for an index whose entry the write leaves as it was', async () => {
    // Act and assess, one write after another on one item
    expect(await put({ v: 'a' })).toBe(1); // in no index
    expect(await put({ v: 'a', gsi1pk: 'P', gsi1sk: '1', gsi4pk: 'ID', gsi4sk: 'x' })).toBe(3); // enters gsi1 (ALL) and gsi4 (keys only)
    expect(await update('SET v = :v', { ':v': 'b' })).toBe(2); // gsi1's entry changes; gsi4's keys-only entry does not
    expect(await update('SET gsi1sk = :s', { ':s': '2' })).toBe(3); // gsi1's key: its old entry deleted, the new one put
    expect(await update('REMOVE gsi1pk')).toBe(2); // leaves gsi1
    expect(await put({ v: 'x'.repeat(3000), gsi2pk: 'P', gsi2sk: '1' })).toBe(3 + 3 + 1); // 3 KB: the table's 3, gsi2's 3 (ALL), gsi4 leaves (1)
    const deleted = await store.db.doc.send(new DeleteCommand({ TableName: table(), Key: key, ReturnConsumedCapacity: 'TOTAL' }));
    expect(units(deleted)).toBe(3 + 3); // the item and its gsi2 entry
  });

  it('sums the indexes into a BatchWriteItem, per table', async () => {
    // Act
    const out = await store.db.doc.send(
      new BatchWriteCommand({
        RequestItems: { [table()]: [{ PutRequest: { Item: { pk: 'wcu-batch', sk: '1', gsi3pk: 'T', gsi3sk: '1' } } }, { PutRequest: { Item: { pk: 'wcu-batch', sk: '2' } } }] },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );

    // Assess
    expect(out.ConsumedCapacity).toEqual([{ TableName: table(), CapacityUnits: 3 }]);
  });
});
