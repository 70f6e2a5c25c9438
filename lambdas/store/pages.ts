/**
 * Newest-first queries over the time-ordered indexes, with an opaque `next` cursor and an optional
 * status filter, shared by the run and task listings; and pages of one partition's items in key order,
 * cut by count and by size (a run's attempts: lambdas/domain/response-size.ts).
 */
import { type NativeAttributeValue, QueryCommand, type QueryCommandInput } from './sdk';
import { BadRequestError } from '../domain/errors';
import type { Db } from './client';
import { INDEXES, type IndexName, timeRange } from './keys';

export interface PageRequest {
  index: IndexName;
  pk: string;
  from?: string;
  to?: string;
  statuses?: readonly string[];
  /** Keeps only the items it holds for, as a filter expression would (what one cannot express). */
  keep?: (item: Item) => boolean;
  limit: number;
  cursor?: string;
  /** Oldest first instead (entry pages read in time order). */
  oldestFirst?: boolean;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

type Item = Record<string, NativeAttributeValue>;

export function encodeCursor(key: Item | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/**
 * Key values DynamoDB accepts: non-empty strings of at most 2048 bytes (partition keys) and 1024 bytes
 * (sort keys), for the table's and for an index's keys alike; anything else is a ValidationException.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-partition-sort-keys
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html (key attributes: no empty strings)
 */
const PARTITION_KEY_MAX_BYTES = 2048;
const SORT_KEY_MAX_BYTES = 1024;

/**
 * Decodes a cursor made by `encodeCursor` for this listing: exactly the table and index key attributes,
 * all non-empty strings DynamoDB accepts as keys, for this partition, with a sort key inside the
 * requested window. Anything else is a 400 on `next` (DynamoDB would refuse it with a 500's worth of error).
 */
export function decodeCursor(
  cursor: string,
  expect: { pkName: string; pk: string; skName: string; from?: string; to?: string },
): Item {
  const key = parseCursor(cursor);
  const wanted = ['pk', 'sk', expect.pkName, expect.skName].sort().join(',');
  const item = key as Item;
  const ok =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.keys(item).sort().join(',') === wanted &&
    Object.entries(item).every(([name, v]) => {
      const max = name === 'pk' || name === expect.pkName ? PARTITION_KEY_MAX_BYTES : SORT_KEY_MAX_BYTES;
      return typeof v === 'string' && v !== '' && Buffer.byteLength(v) <= max;
    }) &&
    item[expect.pkName] === expect.pk;
  if (!ok) throw new BadRequestError('next is not a cursor of this listing', 'next', 'invalid_cursor');
  const sk = item[expect.skName] as string;
  if ((expect.from !== undefined && sk < expect.from) || (expect.to !== undefined && sk > expect.to)) {
    throw new BadRequestError('next is a cursor of another time window: repeat the query that gave it', 'next', 'invalid_cursor');
  }
  return item;
}

/** The JSON a cursor encodes, or undefined when it is not one. */
function parseCursor(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Refuses a time window that ends before it starts (a 400, where DynamoDB would answer a 500's worth of error). */
export function checkWindow(from: string | undefined, to: string | undefined): void {
  if (from !== undefined && to !== undefined && from > to) {
    throw new BadRequestError('end_time must not be before start_time', 'end_time', 'invalid_field');
  }
}

/** At most this many DynamoDB pages per request, so that a filter matching little cannot read a whole index. */
const MAX_PAGES_PER_REQUEST = 10;

/** Reads up to `limit` matching items, newest first (or oldest, `oldestFirst`), following DynamoDB pages as needed. */
export async function queryNewestFirst<T = Item>(db: Db, req: PageRequest): Promise<Page<T>> {
  const index = INDEXES[req.index];
  const range = timeRange(req.from, req.to);
  const names: Record<string, string> = { '#pk': index.pk };
  const values: Record<string, NativeAttributeValue> = { ':pk': req.pk };
  let condition = '#pk = :pk';
  if (range.from !== undefined || range.to !== undefined) {
    names['#sk'] = index.sk;
    if (range.from !== undefined && range.to !== undefined) {
      condition += ' AND #sk BETWEEN :from AND :to';
      values[':from'] = range.from;
      values[':to'] = range.to;
    } else if (range.from !== undefined) {
      condition += ' AND #sk >= :from';
      values[':from'] = range.from;
    } else {
      condition += ' AND #sk <= :to';
      values[':to'] = range.to;
    }
  }
  let filter: string | undefined;
  // A repeated query value must not grow the IN past DynamoDB's 100 operands (aws-limits.ts); there are
  // only a handful of statuses, so the distinct ones always fit.
  const statuses = [...new Set(req.statuses ?? [])];
  if (statuses.length > 0) {
    names['#status'] = 'status';
    filter = `#status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`;
    statuses.forEach((s, i) => {
      values[`:s${i}`] = s;
    });
  }
  checkWindow(range.from, range.to);
  let startKey = req.cursor
    ? decodeCursor(req.cursor, { pkName: index.pk, pk: req.pk, skName: index.sk, from: range.from, to: range.to })
    : undefined;
  const items: T[] = [];
  let pages = 0;
  do {
    const input: QueryCommandInput = {
      TableName: db.tableName,
      IndexName: index.name,
      KeyConditionExpression: condition,
      FilterExpression: filter,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: req.oldestFirst === true,
      Limit: req.limit - items.length,
      ExclusiveStartKey: startKey,
    };
    const out = await db.doc.send(new QueryCommand(input));
    items.push(...((out.Items ?? []).filter((item) => req.keep?.(item) ?? true) as T[]));
    startKey = out.LastEvaluatedKey;
    pages++;
  } while (startKey && items.length < req.limit && pages < MAX_PAGES_PER_REQUEST);
  return { items, next: encodeCursor(startKey) };
}

/**
 * Cuts a page read by `queryNewestFirst` at `maxBytes` (as `size` counts its items; at least one item
 * stays), so that a page of large items still fits one response. When it cuts, `next` resumes after the
 * last item kept: its table and index key, as DynamoDB's own LastEvaluatedKey would be.
 */
export function trimPage<T extends Item>(page: Page<T>, index: IndexName, maxBytes: number, size: (item: T) => number): Page<T> {
  let used = 0;
  let kept = 0;
  while (kept < page.items.length) {
    used += size(page.items[kept] as T) + 1;
    if (kept > 0 && used > maxBytes) break;
    kept++;
  }
  if (kept === page.items.length) return page;
  const last = page.items[kept - 1] as T;
  const { pk, sk } = INDEXES[index];
  return { items: page.items.slice(0, kept), next: encodeCursor({ pk: last.pk, sk: last.sk, [pk]: last[pk], [sk]: last[sk] }) };
}

/** A page of one partition's items under a sort-key prefix, in key order ({@link queryPartitionPage}). */
export interface PartitionPageRequest {
  pk: string;
  /** The sort-key prefix of the items read (`TASK#`: a run's attempts). */
  prefix: string;
  cursor?: string;
  /**
   * What an item costs against `maxBytes`; undefined for an item that is not counted but rides with the
   * counted one before it (an attempt's legacy entries, which sort right after it).
   */
  cost: (item: Item) => number | undefined;
  /** Keeps only the counted items it holds for, as a filter expression would. */
  keep?: (item: Item) => boolean;
  /** At most this many counted items. */
  limit: number;
  /** At most this many bytes of counted items (as `cost` counts them). */
  maxBytes: number;
  /** At most this many DynamoDB pages (default {@link MAX_PAGES_PER_REQUEST}). */
  maxPages?: number;
}

export interface PartitionPage extends Page<Item> {
  /** What the counted items kept cost. */
  bytes: number;
}

/** Bytes an item is guessed to cost before any was read: the smallest attempt on the wire, about. */
const FIRST_GUESS_BYTES = 300;

/**
 * Reads the items of `pk` under `prefix` in key order, strongly consistent, until `limit` counted items or
 * `maxBytes` are reached (an item that would pass them ends the page, unread items stay for `next`) or
 * the partition ends. Each Query's `Limit` is what the bytes left would hold at the size seen so far,
 * so that the read stops near what the page keeps instead of reading whole 1 MB pages past it. `next`
 * resumes after the last item passed over: `{pk, sk}`, as DynamoDB's own LastEvaluatedKey is; a page cut
 * before its first item gives the prefix itself, which sorts before every item under it.
 */
export async function queryPartitionPage(db: Db, req: PartitionPageRequest): Promise<PartitionPage> {
  const from = req.cursor ? decodePartitionCursor(req.cursor, req.pk, req.prefix) : undefined;
  const items: Item[] = [];
  let counted = 0;
  let bytes = 0;
  let pages = 0;
  let last: Item = from ?? { pk: req.pk, sk: req.prefix };
  let keeping = false;
  let startKey = from;
  for (;;) {
    const guess = counted > 0 ? bytes / counted : FIRST_GUESS_BYTES;
    const fits = Math.min(req.limit - counted, Math.ceil((req.maxBytes - bytes) / guess));
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': req.pk, ':prefix': req.prefix },
        ConsistentRead: true,
        Limit: Math.max(1, Math.min(1000, fits)),
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of out.Items ?? []) {
      const cost = req.cost(item);
      if (cost !== undefined) {
        keeping = req.keep?.(item) ?? true;
        if (keeping && (counted >= req.limit || bytes + cost > req.maxBytes)) return { items, bytes, next: encodeCursor({ pk: last.pk, sk: last.sk }) };
        if (keeping) {
          counted++;
          bytes += cost;
        }
      }
      if (keeping) items.push(item);
      last = item;
    }
    startKey = out.LastEvaluatedKey;
    pages++;
    if (!startKey) return { items, bytes };
    if (counted >= req.limit || pages >= (req.maxPages ?? MAX_PAGES_PER_REQUEST)) return { items, bytes, next: encodeCursor(startKey) };
  }
}

/** Decodes a cursor made by {@link queryPartitionPage} for this partition and prefix; anything else is a 400 on `next`. */
function decodePartitionCursor(cursor: string, pk: string, prefix: string): Item {
  const key = parseCursor(cursor) as Item | undefined;
  const ok =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.keys(key).sort().join(',') === 'pk,sk' &&
    key.pk === pk &&
    typeof key.sk === 'string' &&
    key.sk.startsWith(prefix) &&
    Buffer.byteLength(key.sk) <= SORT_KEY_MAX_BYTES;
  if (!ok) throw new BadRequestError('next is not a cursor of this listing', 'next', 'invalid_cursor');
  return key;
}
