/**
 * The log and metadata entries of task attempts. They sit in their run's partition apart from the
 * attempts (`ENTRY#…`, not under `TASK#…`: keys.ts), and are read a bounded few at a time through gsi1,
 * in time order, so that no read and no answer grows with the entries a run has
 * (lambdas/domain/response-size.ts). Lines of output the local executor captured are stored in chunks
 * of consecutive lines, one item each. Every entry expires from when it was written (docs/STORAGE.md,
 * "TTL"). Callers reach them through the run store (runs.ts), which also embeds an attempt's last few
 * entries in a run.
 */
import { BatchWriteCommand, PutCommand, QueryCommand } from './sdk';
import type { LogEntry, MetadataEntry } from '../domain/models';
import { type Db, isConditionFailed, pick } from './client';
import { CAPTURED_CHUNK_ID, type EntryKind, INDEXES, keys, TTL_ATTRIBUTE } from './keys';
import { encodeCursor, queryNewestFirst } from './pages';
import { DEFAULT_RETENTION_DAYS, expiresAt } from '../domain/retention';
import { mapLimited } from '../domain/concurrency';
import { DYNAMODB_BATCH_WRITE_MAX_ITEMS } from '../domain/aws-limits';
import { BadRequestError } from '../domain/errors';
import { ENTRY_PAGE_BUDGET_BYTES, payloadBytes } from '../domain/response-size';

type Item = Record<string, unknown>;

const LOG_FIELDS = ['log_entry_id', 'when', 'source', 'message'] as const;
const METADATA_FIELDS = ['metadata_entry_id', 'when', 'key', 'value'] as const;
const ENTRY_FIELDS: Record<EntryKind, readonly string[]> = { log: LOG_FIELDS, metadata: METADATA_FIELDS };

/** An entry item (not a chunk of captured lines) as the entry it stores. */
export function entryOf<E>(item: Item, kind: EntryKind): E {
  return pick<E>(item, ENTRY_FIELDS[kind]);
}

/** A page of one attempt's entries of one kind, oldest first. */
export interface EntryPage<E> {
  entries: E[];
  next?: string;
}

/** An attempt's last few entries of each kind ({@link EntryStore.lastEntriesOfRun}). */
export interface RunEntries {
  log: { entries: LogEntry[]; truncated: boolean };
  metadata: { entries: MetadataEntry[]; truncated: boolean };
}

/** A line of an attempt's captured output: a log entry and its sequence number within the attempt. */
export type CapturedLine = LogEntry & { seq: number };

/** What a page of captured output asks for: lines after `afterSeq`, up to `limit` and `maxBytes` as `size` counts. */
export interface CapturedLinesRequest {
  afterSeq: number;
  limit: number;
  maxBytes: number;
  size: (line: CapturedLine) => number;
}

/** Retries of a batch's unprocessed items (full jitter, 50 ms doubling up to 1 s) before giving up. */
const BATCH_WRITE_RETRIES = 10;

/** Lines per chunk item, and bytes: well under DynamoDB's 400 KB item (a line is at most ~128 KB of UTF-8). */
const CHUNK_MAX_LINES = 500;
const CHUNK_MAX_BYTES = 256 * 1024;
const BATCH_WRITE_MAX_BYTES = 1024 * 1024;
/** Entry items read per query of an entry page (a chunk of captured lines is up to CHUNK_MAX_LINES entries). */
const ENTRY_ITEMS_PER_READ = 100;

/** Consecutive lines grouped into chunks of at most CHUNK_MAX_LINES lines and CHUNK_MAX_BYTES. */
function capturedChunks(lines: readonly CapturedLine[]): CapturedLine[][] {
  const chunks: CapturedLine[][] = [];
  let current: CapturedLine[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line.message) + 96;
    if (current.length > 0 && (current.length >= CHUNK_MAX_LINES || bytes + size > CHUNK_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The lines of a stored chunk, with their sequence numbers. */
function chunkLines(item: Item): CapturedLine[] {
  const first = Number(item.first_seq);
  return (item.lines as Array<{ i: string; w: string; s: LogEntry['source']; m: string }>).map((l, n) => ({
    log_entry_id: l.i,
    when: l.w,
    source: l.s,
    message: l.m,
    seq: first + n,
  }));
}

/** Where a page of entries ended inside a chunk of captured lines: the chunk's gsi1 sort key, lines read. */
function encodeChunkCursor(at: string, skip: number): string {
  return Buffer.from(JSON.stringify({ at, skip })).toString('base64url');
}

/** A cursor made by encodeChunkCursor, else undefined (any other cursor is decoded, or refused, as a key). */
function decodeChunkCursor(cursor: string): { at: string; skip: number } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const c = value as { at?: unknown; skip?: unknown };
  if (typeof value !== 'object' || value === null || Object.keys(value).sort().join(',') !== 'at,skip') return undefined;
  const ok =
    typeof c.at === 'string' && c.at.endsWith(`#${CAPTURED_CHUNK_ID}`) && Buffer.byteLength(c.at) <= 1024 &&
    Number.isInteger(c.skip) && (c.skip as number) > 0 && (c.skip as number) < CHUNK_MAX_LINES;
  if (!ok) throw new BadRequestError('next is not a cursor of this listing', 'next', 'invalid_cursor');
  return { at: c.at as string, skip: c.skip as number };
}

/** An item of an attempt's log entries as entries: a chunk of captured lines is many. */
function asEntries<E>(item: Item, kind: EntryKind): E[] {
  if (item.lines === undefined) return [entryOf<E>(item, kind)];
  return chunkLines(item).map(({ seq: _, ...entry }) => entry as E);
}

export class EntryStore {
  constructor(
    private readonly db: Db,
    /** Entries expire this long after they are written (0: never). */
    private readonly retentionDays = DEFAULT_RETENTION_DAYS,
  ) {}

  /** Stores log entries; an id already stored for this task is kept as first written (idempotent). */
  appendLogEntries(processId: string, taskId: string, entries: readonly LogEntry[]): Promise<number> {
    return this.putEntries(
      entries.map((e) => ({ ...keys.logEntry(processId, taskId, e.log_entry_id), ...keys.entryIndex(taskId, 'log', e.when, e.log_entry_id), task_id: taskId, ...e })),
    );
  }

  /** Stores metadata entries, idempotent on `metadata_entry_id`. */
  appendMetadataEntries(processId: string, taskId: string, entries: readonly MetadataEntry[]): Promise<number> {
    return this.putEntries(
      entries.map((e) => ({
        ...keys.metadataEntry(processId, taskId, e.metadata_entry_id),
        ...keys.entryIndex(taskId, 'metadata', e.when, e.metadata_entry_id),
        task_id: taskId,
        ...e,
      })),
    );
  }

  /**
   * Stores lines of an attempt's captured output (written only by the local executor, which numbers
   * them, in order): chunks of consecutive lines, one item each (keys.capturedChunk, keyed by the first
   * line's sequence), so that a line costs a fraction of a write; unconditional BatchWriteItem of up to 25
   * chunks, so a replay rewrites the same items. Unprocessed items are retried, with backoff.
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html (25 put requests, 16 MB per call; UnprocessedItems to retry, with exponential backoff)
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items (an item is at most 400 KB)
   */
  async appendCapturedLines(processId: string, taskId: string, lines: readonly CapturedLine[]): Promise<void> {
    const expiry = expiresAt(new Date(), this.retentionDays);
    const items = capturedChunks(lines).map((chunk): Item => ({
      ...keys.capturedChunk(processId, taskId, chunk[0]!.seq),
      ...keys.entryIndex(taskId, 'log', chunk[0]!.when, CAPTURED_CHUNK_ID, chunk[0]!.seq),
      ...(expiry === undefined ? {} : { [TTL_ATTRIBUTE]: expiry }),
      task_id: taskId,
      first_seq: chunk[0]!.seq,
      lines: chunk.map((l) => ({ i: l.log_entry_id, w: l.when, s: l.source, m: l.message })),
    }));
    // Up to 25 chunks a call, and about 1 MB: dynalite fails a request of a few MB (DynamoDB takes 16 MB).
    const batches: Item[][] = [];
    let bytes = Number.POSITIVE_INFINITY;
    for (const item of items) {
      const size = (item.lines as Array<{ m: string }>).reduce((sum, l) => sum + Buffer.byteLength(l.m) + 96, 0);
      if (bytes + size > BATCH_WRITE_MAX_BYTES || batches.at(-1)!.length >= DYNAMODB_BATCH_WRITE_MAX_ITEMS) {
        batches.push([]);
        bytes = 0;
      }
      batches.at(-1)!.push(item);
      bytes += size;
    }
    await mapLimited(batches, 4, async (batch) => {
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let retry = 0; requests.length > 0; retry++) {
        if (retry > BATCH_WRITE_RETRIES) throw new Error(`${requests.length} output chunks of task ${taskId} stayed unprocessed after ${BATCH_WRITE_RETRIES} retries`);
        if (retry > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** retry) * Math.random()));
        const out = await this.db.doc.send(new BatchWriteCommand({ RequestItems: { [this.db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.db.tableName] ?? []) as typeof requests;
      }
    });
  }

  /**
   * A page of an attempt's captured output after sequence `afterSeq`, in the order it was written: up to
   * `limit` lines and no more than `maxBytes` of them as `size` counts (at least one line).
   */
  async capturedLinesPage(
    processId: string,
    taskId: string,
    request: CapturedLinesRequest,
  ): Promise<CapturedLine[]> {
    const range = keys.capturedLinesAfter(processId, taskId, request.afterSeq);
    // The chunk holding the first line wanted starts at or before it: the last chunk key up to it.
    const holding = await this.db.doc.send(
      new QueryCommand({
        TableName: this.db.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :from',
        ExpressionAttributeValues: { ':pk': range.pk, ':first': range.first, ':from': range.from },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const lines: CapturedLine[] = [];
    let used = 0;
    let startKey: Item | undefined;
    const from = holding.Items?.[0] ? String(holding.Items[0].sk) : range.from;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': range.pk, ':from': from, ':to': range.to },
          // Chunks hold many lines: a few items fill a page.
          Limit: 10,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        for (const line of chunkLines(item)) {
          if (line.seq <= request.afterSeq) continue;
          used += request.size(line) + 1;
          if (lines.length >= request.limit || (lines.length > 0 && used > request.maxBytes)) return lines;
          lines.push(line);
        }
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey && lines.length < request.limit);
    return lines;
  }

  /** Conditional puts (first write wins); answers how many were new. */
  private async putEntries(entries: readonly Item[]): Promise<number> {
    // An entry is aged from when it was written: no write per entry when its run ends (docs/STORAGE.md).
    const expiry = expiresAt(new Date(), this.retentionDays);
    const items: readonly Item[] = expiry === undefined ? entries : entries.map((e): Item => ({ [TTL_ATTRIBUTE]: expiry, ...e }));
    const unique = [...new Map([...items].reverse().map((i) => [String(i.sk), i])).values()]; // the first of duplicates wins
    const written = await mapLimited(unique, 25, async (item) => {
      try {
        await this.db.doc.send(
          new PutCommand({ TableName: this.db.tableName, Item: item, ConditionExpression: 'attribute_not_exists(sk)' }),
        );
        return 1;
      } catch (err) {
        if (isConditionFailed(err)) return 0;
        throw err;
      }
    });
    return written.reduce<number>((a, b) => a + b, 0);
  }

  /**
   * The last `n` entries of each kind of a run's attempts, from one strongly consistent Query of the run's
   * entry items (their sort keys, `ENTRY#<task_id>#…`, keep each attempt's together), where
   * {@link lastEntries} makes two gsi1 Queries per attempt: a run page of 200 attempts made 400. Only the
   * Query's first page is read (DynamoDB answers up to 1 MB: `pageLimit` items, for tests); the answer
   * has the attempts that page held whole, and undefined for the others, whose entries the caller reads
   * one attempt at a time. Each attempt's entries are exactly what lastEntries answers: its items ordered
   * by their gsi1 sort key as DynamoDB orders it (bytes), a chunk of captured lines as its lines.
   */
  async lastEntriesOfRun(processId: string, n: number, pageLimit?: number): Promise<(taskId: string) => RunEntries | undefined> {
    const out = await this.db.doc.send(
      new QueryCommand({
        TableName: this.db.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': keys.runPartition(processId), ':prefix': keys.entryItemsPrefix },
        ConsistentRead: true,
        ...(pageLimit === undefined ? {} : { Limit: pageLimit }),
      }),
    );
    const sortKey = INDEXES.gsi1.sk; // the index of keys.entriesOf, which lastEntries reads
    const groups = new Map<string, { log: Item[]; metadata: Item[] }>();
    for (const item of (out.Items ?? []) as Item[]) {
      const { taskId, kind } = keys.entryItemOf(String(item.sk));
      if (!kind) continue;
      let group = groups.get(taskId);
      if (!group) groups.set(taskId, (group = { log: [], metadata: [] }));
      group[kind].push(item);
    }
    const last = <E>(items: Item[], kind: EntryKind) => {
      // Each sort key's bytes once, not once per comparison.
      const newestFirst = items
        .map((item) => ({ item, at: Buffer.from(String(item[sortKey])) }))
        .sort((a, b) => Buffer.compare(b.at, a.at))
        .flatMap(({ item }) => asEntries<E>(item, kind).reverse());
      return { entries: newestFirst.slice(0, n).reverse(), truncated: newestFirst.length > n };
    };
    // An attempt was read whole when the Query ended, or when its items all sort before where it stopped.
    const stoppedAt = out.LastEvaluatedKey ? Buffer.from(String(out.LastEvaluatedKey.sk)) : undefined;
    const whole = (taskId: string) => {
      if (!stoppedAt) return true;
      const prefix = Buffer.from(keys.entryItemsOf(taskId));
      return Buffer.compare(prefix, stoppedAt) < 0 && !stoppedAt.subarray(0, prefix.length).equals(prefix);
    };
    return (taskId) => {
      if (!whole(taskId)) return undefined;
      const group = groups.get(taskId);
      return { log: last<LogEntry>(group?.log ?? [], 'log'), metadata: last<MetadataEntry>(group?.metadata ?? [], 'metadata') };
    };
  }

  /** The last `n` entries of one kind of an attempt, oldest first, and whether it has more. */
  async lastEntries<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, n: number): Promise<{ entries: E[]; truncated: boolean }> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.entriesOf(taskId, kind), limit: n + 1 });
    const newestFirst = page.items.flatMap((i) => asEntries<E>(i, kind).reverse());
    return { entries: newestFirst.slice(0, n).reverse(), truncated: newestFirst.length > n };
  }

  /**
   * A page of an attempt's entries of one kind, oldest first: up to `limit`, and no more than
   * ENTRY_PAGE_BUDGET_BYTES of answer; `next` reads on (also later, once more entries arrived). A page
   * that ends inside a chunk of captured lines hands a cursor naming the chunk and the lines read of it.
   */
  async entriesPage<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, request: { limit: number; cursor?: string }): Promise<EntryPage<E>> {
    const where = keys.entriesOf(taskId, kind);
    const index = INDEXES[where.index];
    const inChunk = request.cursor === undefined ? undefined : decodeChunkCursor(request.cursor);
    const entries: E[] = [];
    let used = 0;
    let cursor = inChunk ? undefined : request.cursor;
    // A chunk holds up to CHUNK_MAX_LINES entries: items are read a few at a time, not `limit` at once.
    for (let first = true; ; first = false) {
      const page = await queryNewestFirst<Item>(this.db, {
        ...where,
        limit: Math.min(request.limit - entries.length, ENTRY_ITEMS_PER_READ),
        oldestFirst: true,
        ...(first && inChunk ? { from: inChunk.at } : { cursor }),
      });
      for (const [at, item] of page.items.entries()) {
        const all = asEntries<E>(item, kind);
        const skip = first && at === 0 && inChunk && item[index.sk] === inChunk.at ? inChunk.skip : 0;
        for (let n = skip; n < all.length; n++) {
          used += payloadBytes(all[n]) + 1;
          if (entries.length >= request.limit || (entries.length > 0 && used > ENTRY_PAGE_BUDGET_BYTES)) {
            const before = page.items[at - 1];
            // Inside a chunk: the chunk and the lines read of it; else after the item before (or where this read began).
            const next =
              n > 0
                ? encodeChunkCursor(String(item[index.sk]), n)
                : before
                  ? encodeCursor({ pk: before.pk, sk: before.sk, [index.pk]: before[index.pk], [index.sk]: before[index.sk] })
                  : cursor;
            return { entries, next };
          }
          entries.push(all[n] as E);
        }
      }
      if (!page.next || entries.length >= request.limit) return { entries, next: page.next };
      cursor = page.next;
    }
  }
}
