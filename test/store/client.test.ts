/**
 * The store's DynamoDB client (lambdas/store/client.ts `createDb`, lambdas/store/sdk.ts), deployed and
 * local: its middleware stack is resolved once per command class (`cacheMiddleware`), so each call must
 * still send its own input; the document commands store and answer exactly what lib-dynamodb's did; the
 * SDK's logger middleware is off; and a middleware added late is refused instead of silently left out.
 */
import { GetItemCommand, DynamoDBClient as RawClient } from '@aws-sdk/client-dynamodb';
import * as Lib from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb, isConditionFailed } from '../../lambdas/store/client';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '../../lambdas/store/sdk';
import { startDynamo } from '../../local/dynalite';
import { perFile } from '../helpers/per-file';

const dynamo = perFile('dynalite', () => startDynamo(undefined));
const config = () => ({ endpoint: dynamo().endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const db = () => (client ??= createDb('sundial', config()));
let client: ReturnType<typeof createDb> | undefined;
afterAll(() => client?.client.destroy());

/** Every kind of value the store writes: strings, numbers, booleans, null, sets of both, lists, maps, nested. */
const everyKind = (pk: string) => ({
  pk,
  sk: 'X',
  s: 'text',
  empty: '',
  n: 42,
  f: -1.5,
  yes: true,
  nothing: null,
  names: new Set(['a', 'b']),
  shards: new Set([0, 3]),
  list: [1, 'two', { three: 3 }, [4]],
  map: { inner: { deep: ['x'] }, at: '2026-12-04T00:00:00.000Z' },
});

describe('the store client', () => {
  it('sends each call its own input, one command class at a time and many in flight (the cached handler)', async () => {
    // Prepare: 40 items, then 40 Gets of the same class at once, and Updates of the same class with different expressions
    await Promise.all(Array.from({ length: 40 }, (_, i) => db().doc.send(new PutCommand({ TableName: 'sundial', Item: { pk: `CACHE#${i}`, sk: 'X', i } }))));

    // Act
    const read = await Promise.all(Array.from({ length: 40 }, (_, i) => db().doc.send(new GetCommand({ TableName: 'sundial', Key: { pk: `CACHE#${i}`, sk: 'X' }, ConsistentRead: true }))));
    const added = await db().doc.send(new UpdateCommand({ TableName: 'sundial', Key: { pk: 'CACHE#1', sk: 'X' }, UpdateExpression: 'ADD i :d', ExpressionAttributeValues: { ':d': 10 }, ReturnValues: 'ALL_NEW' }));
    const renamed = await db().doc.send(
      new UpdateCommand({ TableName: 'sundial', Key: { pk: 'CACHE#2', sk: 'X' }, UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': 'two' }, ReturnValues: 'ALL_NEW' }),
    );

    // Assess
    expect(read.map((r) => r.Item?.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(added.Attributes).toEqual({ pk: 'CACHE#1', sk: 'X', i: 11 });
    expect(renamed.Attributes).toEqual({ pk: 'CACHE#2', sk: 'X', i: 2, name: 'two' });
  });

  it('stores and answers every kind of value exactly as lib-dynamodb did', async () => {
    // Prepare: the same item written by lib-dynamodb's document client (the store's options) and by the store's
    const raw = new RawClient(config());
    const lib = Lib.DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false }, unmarshallOptions: { wrapNumbers: false } });
    const theirs = { ...everyKind('KIND#lib'), gone: undefined };
    const ours = { ...everyKind('KIND#ours'), gone: undefined };

    // Act
    await lib.send(new Lib.PutCommand({ TableName: 'sundial', Item: theirs }));
    await db().doc.send(new PutCommand({ TableName: 'sundial', Item: ours }));
    const stored = async (pk: string) => (await raw.send(new GetItemCommand({ TableName: 'sundial', Key: { pk: { S: pk }, sk: { S: 'X' } }, ConsistentRead: true }))).Item;
    const [storedTheirs, storedOurs] = [await stored('KIND#lib'), await stored('KIND#ours')];
    const readByLib = (await lib.send(new Lib.GetCommand({ TableName: 'sundial', Key: { pk: 'KIND#ours', sk: 'X' }, ConsistentRead: true }))).Item;
    const readByUs = (await db().doc.send(new GetCommand({ TableName: 'sundial', Key: { pk: 'KIND#lib', sk: 'X' }, ConsistentRead: true }))).Item;
    raw.destroy();

    // Assess: the same attribute values on the wire, the same documents back
    expect(storedOurs).toEqual({ ...storedTheirs, pk: { S: 'KIND#ours' } });
    expect(storedOurs?.names).toEqual({ SS: ['a', 'b'] });
    expect(storedOurs?.gone).toBeUndefined();
    expect(readByUs).toEqual({ ...readByLib, pk: 'KIND#lib' });
    expect(readByUs).toEqual(everyKind('KIND#lib'));
  });

  it('pages a Query and a Scan, batches writes and reads, and answers old and new attributes', async () => {
    // Prepare
    const items = Array.from({ length: 30 }, (_, i) => ({ pk: 'PAGED#1', sk: `S#${String(i).padStart(2, '0')}`, i, tags: new Set([`t${i}`]) }));
    await db().doc.send(new BatchWriteCommand({ RequestItems: { sundial: items.slice(0, 25).map((Item) => ({ PutRequest: { Item } })) } }));
    await db().doc.send(new BatchWriteCommand({ RequestItems: { sundial: items.slice(25).map((Item) => ({ PutRequest: { Item } })) } }));

    // Act
    const pages: unknown[][] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await db().doc.send(
        new QueryCommand({ TableName: 'sundial', KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': 'PAGED#1', ':p': 'S#' }, Limit: 7, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      pages.push(out.Items ?? []);
      start = out.LastEvaluatedKey;
    } while (start);
    const scanned = await db().doc.send(new ScanCommand({ TableName: 'sundial', FilterExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'PAGED#1' } }));
    const got = await db().doc.send(new BatchGetCommand({ RequestItems: { sundial: { Keys: [{ pk: 'PAGED#1', sk: 'S#03' }, { pk: 'PAGED#1', sk: 'S#29' }], ConsistentRead: true } } }));
    const deleted = await db().doc.send(new DeleteCommand({ TableName: 'sundial', Key: { pk: 'PAGED#1', sk: 'S#00' }, ReturnValues: 'ALL_OLD' }));
    const removed = await db().doc.send(new BatchWriteCommand({ RequestItems: { sundial: [{ DeleteRequest: { Key: { pk: 'PAGED#1', sk: 'S#01' } } }] } }));
    const left = await db().doc.send(new QueryCommand({ TableName: 'sundial', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'PAGED#1' }, Select: 'COUNT', ConsistentRead: true }));

    // Assess
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 7, 2]);
    expect(pages.flat()).toEqual(items);
    expect(scanned.Items?.length).toBe(30);
    expect(got.Responses?.sundial?.sort((a, b) => a.i - b.i)).toEqual([items[3], items[29]]);
    expect(got.UnprocessedKeys).toEqual({});
    expect(deleted.Attributes).toEqual(items[0]);
    expect(removed.UnprocessedItems).toEqual({});
    expect(left.Count).toBe(28);
  });

  it('fails a condition as DynamoDB does, has no logger middleware, and refuses a middleware added late', async () => {
    // Prepare
    const item = { pk: 'CLIENT#1', sk: 'X', n: 1 };
    await db().doc.send(new PutCommand({ TableName: 'sundial', Item: item }));

    // Act
    const refused = await db()
      .doc.send(new PutCommand({ TableName: 'sundial', Item: item, ConditionExpression: 'attribute_not_exists(pk)' }))
      .catch((err: unknown) => err);
    const late = () => db().client.middlewareStack.add((next) => next, { step: 'initialize', name: 'late' });

    // Assess
    expect(isConditionFailed(refused)).toBe(true);
    expect(db().client.middlewareStack.identify().filter((m) => m.startsWith('loggerMiddleware'))).toEqual([]);
    expect(late).toThrow(/observe its calls with db.doc.observe/);
  });

  it('shows every call to its observers, in the order they were added, and stops when one is removed', async () => {
    // Prepare
    const seen: string[] = [];
    const first = db().doc.observe(async (call, next) => {
      seen.push(`first ${call.name}`);
      const out = await next();
      seen.push(`first saw ${Object.keys(out).includes('Item') ? 'an item' : 'no item'}`);
      return out;
    });
    const second = db().doc.observe((call, next) => {
      seen.push(`second ${call.name} ${String((call.input.Key as { pk?: string } | undefined)?.pk)}`);
      return next();
    });

    // Act
    await db().doc.send(new GetCommand({ TableName: 'sundial', Key: { pk: 'CLIENT#1', sk: 'X' } }));
    second();
    await db().doc.send(new GetCommand({ TableName: 'sundial', Key: { pk: 'CLIENT#1', sk: 'X' } }));
    first();
    await db().doc.send(new GetCommand({ TableName: 'sundial', Key: { pk: 'CLIENT#1', sk: 'X' } }));

    // Assess
    expect(seen).toEqual(['first GetItemCommand', 'second GetItemCommand CLIENT#1', 'first saw an item', 'first GetItemCommand', 'first saw an item']);
  });
});

describe("the store client's SDK configuration", () => {
  it('has fast properties (the SDK copies it three times per call)', async () => {
    // Prepare: V8's own answer needs --allow-natives-syntax, so a child Node process builds the client
    const { execFile } = await import('node:child_process');
    const script = [
      "const { createDb } = await import('./lambdas/store/client.ts');",
      "const db = createDb('t', { region: 'local', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });",
      'globalThis.config = db.client.config;',
      "console.log(JSON.stringify({ fast: (0, eval)('%HasFastProperties(globalThis.config)') }));",
    ].join('\n');

    // Act
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );

    // Assess
    expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ fast: true });
  }, 60_000);
});
