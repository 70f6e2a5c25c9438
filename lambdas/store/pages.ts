/**
 * Newest-first queries over the time-ordered indexes, with an opaque `next` cursor and an optional
 * status filter, shared by the run and task listings.
 */
import { type NativeAttributeValue, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BadRequestError } from '../domain/errors';
import type { Db } from './client';
import { INDEXES, type IndexName, timeRange } from './keys';

export interface PageRequest {
  index: IndexName;
  pk: string;
  from?: string;
  to?: string;
  statuses?: readonly string[];
  limit: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

type Item = Record<string, NativeAttributeValue>;

export function encodeCursor(key: Item | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/** Decodes a cursor made by `encodeCursor` for this partition; anything else is a 400 on `next`. */
export function decodeCursor(cursor: string, expect: { pkName: string; pk: string }): Item {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const ok =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.values(key).every((v) => typeof v === 'string') &&
    (key as Item)[expect.pkName] === expect.pk;
  if (!ok) throw new BadRequestError('next is not a cursor of this listing', 'next', 'invalid_cursor');
  return key as Item;
}

/** Reads up to `limit` matching items, newest first, following DynamoDB pages as needed. */
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
  if (req.statuses && req.statuses.length > 0) {
    names['#status'] = 'status';
    filter = `#status IN (${req.statuses.map((_, i) => `:s${i}`).join(', ')})`;
    req.statuses.forEach((s, i) => {
      values[`:s${i}`] = s;
    });
  }
  let startKey = req.cursor ? decodeCursor(req.cursor, { pkName: index.pk, pk: req.pk }) : undefined;
  const items: T[] = [];
  do {
    const input: QueryCommandInput = {
      TableName: db.tableName,
      IndexName: index.name,
      KeyConditionExpression: condition,
      FilterExpression: filter,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
      Limit: req.limit - items.length,
      ExclusiveStartKey: startKey,
    };
    const out = await db.doc.send(new QueryCommand(input));
    items.push(...((out.Items ?? []) as T[]));
    startKey = out.LastEvaluatedKey;
  } while (startKey && items.length < req.limit);
  return { items, next: encodeCursor(startKey) };
}
