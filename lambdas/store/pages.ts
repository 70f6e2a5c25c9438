/**
 * Newest-first queries over the time-ordered indexes, with an opaque `next` cursor and an optional
 * status filter, shared by the run and task listings.
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
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
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
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new BadRequestError('end_time must not be before start_time', 'end_time', 'invalid_field');
  }
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
