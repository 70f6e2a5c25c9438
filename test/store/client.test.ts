/**
 * The store's DynamoDB client (lambdas/store/client.ts `createDb`), deployed and local: the SDK's logger
 * middleware is off (it copies every input and output, redacted, for a logger this client does not have),
 * and the client still reads and writes, errors included.
 */
import { expect, it } from 'vitest';
import { GetCommand, PutCommand } from '../../lambdas/store/sdk';
import { createDb, isConditionFailed } from '../../lambdas/store/client';
import { startDynamo } from '../../local/dynalite';
import { perFile } from '../helpers/per-file';

const dynamo = perFile('dynalite', () => startDynamo(undefined));

it('has no logger middleware, and reads, writes and fails a condition as before', async () => {
  // Prepare
  const db = createDb('sundial', { endpoint: dynamo().endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const item = { pk: 'CLIENT#1', sk: 'X', n: 1 };

  // Act
  await db.doc.send(new PutCommand({ TableName: db.tableName, Item: item }));
  const read = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }));
  const refused = await db.doc
    .send(new PutCommand({ TableName: db.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }))
    .catch((err: unknown) => err);

  // Assess
  expect(db.client.middlewareStack.identify().filter((m) => m.startsWith('loggerMiddleware'))).toEqual([]);
  expect(read.Item).toEqual(item);
  expect(isConditionFailed(refused)).toBe(true);
  db.client.destroy();
});
