/**
 * The history section's seeding (bench/seed.ts) writes request bodies of its own, past the SDK: what it
 * stores must be what the store's document client stores for the same items, and an error answer must
 * fail the seeding, never drop items.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BatchWriteCommand } from '../../lambdas/store/sdk';
import { historyItems, seedHistory } from '../../bench/seed';
import { type EmbeddedDynamo, startDynamo } from '../../local/dynalite';

let dynamo: EmbeddedDynamo;

beforeAll(async () => {
  dynamo = await startDynamo(undefined);
});
afterAll(() => dynamo?.close());

/** Every item of the table, as stored (DynamoDB JSON), by key. */
async function storedItems(): Promise<Map<string, Record<string, AttributeValue>>> {
  const { db } = dynamo;
  const items = new Map<string, Record<string, AttributeValue>>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.client.send(new ScanCommand({ TableName: db.tableName, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) items.set(`${item.pk?.S} ${item.sk?.S}`, item);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

it('stores the items the store document client stores, two per run', async () => {
  // Arrange
  const runs = 1001; // a last batch of 2 items
  const { db } = dynamo;

  // Act: seeded, then the same items put again through the store's client (a put replaces an item whole)
  await seedHistory(db, 0, runs);
  const seeded = await storedItems();
  const docs = [...historyItems(0, runs)];
  for (let i = 0; i < docs.length; i += 25) {
    const requests = docs.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: requests } }));
    expect(out.UnprocessedItems?.[db.tableName] ?? []).toEqual([]);
  }
  const rewritten = await storedItems();

  // Assess
  expect(seeded.size).toBe(2 * runs);
  const kinds = new Map<string, number>();
  for (const item of seeded.values()) kinds.set(item.sk!.S!.split('#')[0]!, (kinds.get(item.sk!.S!.split('#')[0]!) ?? 0) + 1);
  expect(Object.fromEntries(kinds)).toEqual({ RUN: runs, TASK: runs });
  expect(seeded).toEqual(rewritten);
});

it('fails on an error answer instead of dropping the batch', async () => {
  // Arrange: a table that does not exist, which dynalite answers with a 400
  const db = { ...dynamo.db, tableName: 'no-such-table' };

  // Act / Assess
  await expect(seedHistory(db, 0, 30)).rejects.toThrow(/answered 400.*ResourceNotFoundException/);
});
