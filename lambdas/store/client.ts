/**
 * The DynamoDB client every store module shares, and the helpers they share (a partition read in full,
 * the one conditional status transition, fields picked out of an item). Lambdas build the client at
 * cold start from `TABLE_NAME`; the local mode and tests inject one pointed at dynalite.
 */
import { DocumentClient, DynamoDBClient, type DynamoDBClientConfig, QueryCommand, UpdateCommand } from './sdk';
import type { IndexName } from './keys';

export interface Db {
  /**
   * The low-level client (destroy it to close its sockets). Its middleware stack is resolved once per command
   * class: observe the store's calls with `doc.observe`, never with middleware (adding any throws).
   */
  readonly client: DynamoDBClient;
  readonly doc: DocumentClient;
  readonly tableName: string;
  /**
   * Indexes of keys.ts the table lacks: only a local table created before they were added (dynalite
   * cannot add one); the stores then keep to what the table has (runs.ts, the attempts' locators).
   */
  readonly missingIndexes?: readonly IndexName[];
}

export function createDb(tableName: string, config: DynamoDBClientConfig = {}): Db {
  // `cacheMiddleware`: the client resolves its middleware stack once per command class instead of once per
  // call (sorting and composing ≈ 40 middleware): a fifth of each call's CPU (docs/PERFORMANCE.md). The SDK's
  // terms: the stack must not change after the first call ("Enable this only if … not needing middleware
  // modifications between requests", `SmithyConfiguration.cacheMiddleware`); lambdas/store/sdk.ts is why
  // the store sends its own document commands.
  const client = new DynamoDBClient({ ...config, cacheMiddleware: true });
  // The SDK's logger middleware builds a redacted copy of every command's input and output for the client's
  // logger before calling it, and this client has none (the SDK's default discards what it is given): a
  // walk over every item of every page read or written: 2–4 % of a single-item call's CPU, a quarter of a
  // 1,000-item Query's (docs/PERFORMANCE.md).
  client.middlewareStack.remove('loggerMiddleware');
  // A middleware added later would be left out of every command class already sent, silently: refuse it.
  const stack = client.middlewareStack as unknown as Record<string, unknown>;
  for (const method of ['add', 'addRelativeTo', 'use']) {
    stack[method] = () => {
      throw new Error('the store client resolves its middleware once (cacheMiddleware): observe its calls with db.doc.observe');
    };
  }
  fastProperties(client.config);
  return { client, doc: new DocumentClient(client), tableName };
}

/**
 * The SDK copies its client's resolved configuration (≈ 50 properties) with an object spread three times per
 * call (serializing, deserializing, resolving the endpoint). Built by many `Object.assign`s and an accessor,
 * the object is in V8's dictionary mode, where one copy costs 24–27 µs instead of 2.5–3 µs: the store's
 * thread spends 16–19 % less CPU per call with it fast (docs/PERFORMANCE.md). V8 gives an object fast properties
 * once it is another object's prototype and its properties are looked up through that other (the trick of
 * Bluebird's `toFastProperties`); its data properties only, so that no getter runs. Nothing of the
 * configuration changes; an engine that does not do this is only slower.
 */
function fastProperties(object: object): void {
  function Holder() {}
  Holder.prototype = object;
  const holder = Reflect.construct(Holder, []) as Record<string, unknown>;
  for (const key of Object.keys(object)) if (!Object.getOwnPropertyDescriptor(object, key)?.get) void holder[key];
}

type Item = Record<string, unknown>;

/** The fields of a stored item that are set, of those named (a wire shape out of an item). */
export function pick<T>(item: Item, fields: readonly string[]): T {
  const out: Item = {};
  for (const f of fields) if (item[f] !== undefined) out[f] = item[f];
  return out as T;
}

/**
 * Every item of a partition (or of a sort-key prefix in it), following pages, read consistently;
 * `projection` (with `names`) to read some attributes only, e.g. keys.
 */
export async function queryPartition(db: Db, pk: string, skPrefix?: string, projection?: string, names?: Record<string, string>): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk, ...(skPrefix ? { ':prefix': skPrefix } : {}) },
        ProjectionExpression: projection,
        ExpressionAttributeNames: names,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...((out.Items ?? []) as Item[]));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** True for the error DynamoDB answers when a ConditionExpression is not met. */
export function isConditionFailed(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}

/** A conditional write's outcome: true when it was made, false when its condition was not met; any other error is thrown. */
export async function conditionally(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

/**
 * The one conditional status transition of the store: on one item, `SET` the given fields (undefined
 * ones skipped) and `REMOVE` the given attributes, if its `status` is one of `from`. Answers the
 * attributes DynamoDB returns (`returnValues`), or undefined when the item was not in `from` (or had one of
 * the `absent` attributes).
 */
export async function transitionItem(
  db: Db,
  request: {
    key: { pk: string; sk: string };
    from: readonly string[];
    set: Record<string, unknown>;
    remove?: readonly string[];
    /** Attributes the item must not have, besides being in `from`. */
    absent?: readonly string[];
    /** Attributes the item must hold with these values, besides being in `from`. */
    holds?: Readonly<Record<string, string>>;
    returnValues?: 'NONE' | 'ALL_NEW' | 'UPDATED_OLD';
  },
): Promise<Record<string, unknown> | undefined> {
  const fields = Object.entries(request.set).filter(([, v]) => v !== undefined);
  const removed = request.remove ?? [];
  const absent = request.absent ?? [];
  const holds = Object.entries(request.holds ?? {});
  const removal = removed.length > 0 ? ` REMOVE ${removed.map((_, i) => `#r${i}`).join(', ')}` : '';
  try {
    const out = await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: request.key,
        UpdateExpression: `SET ${fields.map((_, i) => `#f${i} = :v${i}`).join(', ')}${removal}`,
        ConditionExpression: `#status IN (${request.from.map((_, i) => `:from${i}`).join(', ')})${absent.map((_, i) => ` AND attribute_not_exists(#a${i})`).join('')}${holds.map((_, i) => ` AND #h${i} = :h${i}`).join('')}`,
        ExpressionAttributeNames: {
          ...Object.fromEntries(fields.map(([k], i) => [`#f${i}`, k])),
          ...Object.fromEntries(removed.map((k, i) => [`#r${i}`, k])),
          ...Object.fromEntries(absent.map((k, i) => [`#a${i}`, k])),
          ...Object.fromEntries(holds.map(([k], i) => [`#h${i}`, k])),
          '#status': 'status',
        },
        ExpressionAttributeValues: {
          ...Object.fromEntries(fields.map(([, v], i) => [`:v${i}`, v])),
          ...Object.fromEntries(request.from.map((s, i) => [`:from${i}`, s])),
          ...Object.fromEntries(holds.map(([, v], i) => [`:h${i}`, v])),
        },
        ReturnValues: request.returnValues ?? 'NONE',
      }),
    );
    return out.Attributes ?? {};
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}
