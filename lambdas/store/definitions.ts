/**
 * Process definitions: one item each in the `DEF` partition, so that listing them is one Query. The
 * definition is stored gzipped in a binary attribute (`definition_gz`): a 1,000-task definition written
 * out in full is ~900 KB of JSON, over DynamoDB's 400 KB item, and compresses to a fraction of it.
 *
 * A definition whose gzip passes one item ({@link DEFINITION_ITEM_BYTES}; 10,000 tasks written out in
 * full are ~1.1 MB gzipped) is stored in parts: the gzip cut in pieces, each an item of the definition's
 * own partition (`DEFPART#<name>`, keys.ts), under a fresh version; the definition's item then names that
 * version and the number of parts, and holds the definition without its tasks (`summary_gz`), which is
 * what the list answers for it. The parts are written before the item that names them, and the parts of
 * the version it named before are deleted after, so that:
 * - a reader takes the item, then the parts of the version it names, never two versions' parts; if some
 *   are gone, the item has moved on since (its old parts are deleted only after): it reads it again;
 * - a PUT that dies between its parts and its item leaves parts no item names: the next PUT or DELETE of
 *   the name deletes those older than {@link STRAY_PARTS_AGE_MS} (younger ones may be a PUT under way).
 * docs/STORAGE.md ("Large definitions") has the layout.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from './sdk';
import { mapLimited } from '../domain/concurrency';
import { PayloadTooLargeError } from '../domain/errors';
import type { ProcessDefinition } from '../domain/models';
import { type Db, isConditionFailed, queryPartition } from './client';
import { keys } from './keys';
import type { StatsStore } from './stats';

/** The definition without `paused`, which the store keeps beside it (pause/resume change only that). */
export type DefinitionBody = Omit<ProcessDefinition, 'paused'>;

/** A definition without its tasks: what the list answers for one stored in parts, and what schedules read. */
export type DefinitionSummary = Omit<DefinitionBody, 'task_definitions'>;

/** A stored definition: the validated body plus the bookkeeping the store keeps beside it. */
export interface StoredDefinition<D extends DefinitionSummary = DefinitionBody> {
  definition: D;
  paused: boolean;
  created_at: string;
  updated_at: string;
}

/**
 * A definition as the list reads it: whole when it is stored in one item; without its tasks when stored
 * in parts, `task_definitions_omitted` then counting them (GET by name answers them).
 */
export type ListedDefinition = StoredDefinition<DefinitionSummary> & { task_definitions_omitted?: number };

/**
 * Most gzip bytes one item holds: a whole definition, or one part. DynamoDB items hold 400 KB, names and
 * values together; the rest of the item (keys, dates, `paused`, the version) is under 300 bytes, the
 * margin is for whatever is added beside it.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const DEFINITION_ITEM_BYTES = 350_000;

/**
 * Largest definition, gzipped: 4,000,000 bytes. Every definition route answers the definition, and an
 * answer past Lambda's 6 MB goes gzipped and base64-encoded (lambdas/http/compression.ts): 4/3 of this
 * plus the answer's headers stays under it.
 */
export const MAX_DEFINITION_GZIP_BYTES = 4_000_000;

/** Age past which parts no definition item names are a PUT that died (a Lambda invocation lives 15 minutes at most). */
export const STRAY_PARTS_AGE_MS = 15 * 60_000;

/** Reads of a definition that meet parts already deleted (the item moved on meanwhile) before giving up. */
const READ_ATTEMPTS = 5;

interface DefinitionItem {
  /** gzip of the definition's JSON, when it fits the item. */
  definition_gz?: Uint8Array;
  /** Items written before compression: the definition as a map. */
  definition?: DefinitionBody;
  /** Stored in parts: the version of its parts, their number, the definition without its tasks, and their number. */
  parts_version?: string;
  parts?: number;
  summary_gz?: Uint8Array;
  task_count?: number;
  paused?: boolean;
  created_at: string;
  updated_at: string;
}

/** How a definition is stored: its gzip, and when that passes one item, the summary the item keeps instead. */
export interface EncodedDefinition {
  gz: Buffer;
  /** Present when `gz` goes in parts: the gzip of the definition without its tasks. */
  summary?: Buffer;
  taskCount: number;
}

/** The stored form of a definition body; a 413 when even compressed it exceeds {@link MAX_DEFINITION_GZIP_BYTES}. */
export function encodeDefinition(body: DefinitionBody): EncodedDefinition {
  const gz = gzipSync(JSON.stringify(body));
  const taskCount = body.task_definitions.length;
  if (gz.length > MAX_DEFINITION_GZIP_BYTES) {
    throw new PayloadTooLargeError(
      `process definition is ${gz.length} bytes once compressed for storage; at most ${MAX_DEFINITION_GZIP_BYTES} (so that it can be answered within Lambda's 6 MB)`,
      'task_definitions',
    );
  }
  if (gz.length <= DEFINITION_ITEM_BYTES) return { gz, taskCount };
  const { task_definitions: _tasks, ...summary } = body;
  const summaryGz = gzipSync(JSON.stringify(summary));
  if (summaryGz.length > DEFINITION_ITEM_BYTES) {
    throw new PayloadTooLargeError(`process definition without its tasks is ${summaryGz.length} bytes once compressed; at most ${DEFINITION_ITEM_BYTES}`, 'process_definition_name');
  }
  return { gz, summary: summaryGz, taskCount };
}

/** `gz` in pieces of at most {@link DEFINITION_ITEM_BYTES}. */
function cut(gz: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < gz.length; at += DEFINITION_ITEM_BYTES) parts.push(gz.subarray(at, at + DEFINITION_ITEM_BYTES));
  return parts;
}

/** A fresh version of a definition's parts: the time it was written (stray parts are told by it), then randomness. */
function newVersion(now: string): string {
  return `${now}~${randomBytes(6).toString('hex')}`;
}

/** The time a version was written (see {@link newVersion}). */
function versionTime(version: string): number {
  return Date.parse(version.slice(0, version.indexOf('~')));
}

const gunzipJson = <T>(gz: Uint8Array): T => JSON.parse(gunzipSync(gz).toString('utf8')) as T;

function bookkeeping(it: DefinitionItem): Omit<StoredDefinition, 'definition'> {
  return { paused: it.paused ?? false, created_at: it.created_at, updated_at: it.updated_at };
}

export class DefinitionStore {
  constructor(
    private readonly db: Db,
    private readonly stats: StatsStore,
  ) {}

  /**
   * Creates or replaces a definition. `paused` is kept from the stored item when the body leaves it
   * out. Answers whether it was created and the stored state.
   */
  async put(def: ProcessDefinition, now: string): Promise<{ created: boolean; stored: StoredDefinition }> {
    const { paused, ...body } = def;
    const name = def.process_definition_name;
    const encoded = encodeDefinition(body);
    const version = encoded.summary ? newVersion(now) : undefined;
    const parts = encoded.summary ? cut(encoded.gz) : [];
    // The parts first: the item names them only once they are all there.
    await mapLimited(parts, 4, (gz, index) =>
      this.db.doc.send(new PutCommand({ TableName: this.db.tableName, Item: { ...keys.definitionPart(name, version!, index), gz } })),
    );
    const set: Record<string, unknown> = encoded.summary
      ? { summary_gz: encoded.summary, parts_version: version, parts: parts.length, task_count: encoded.taskCount }
      : { definition_gz: encoded.gz };
    const remove = (encoded.summary ? ['definition_gz', 'definition'] : ['definition', 'summary_gz', 'parts_version', 'parts', 'task_count']).map((a) => `#${a}`);
    const names = Object.fromEntries([...Object.keys(set), ...remove.map((r) => r.slice(1))].map((a) => [`#${a}`, a]));
    const out = await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.definition(name),
        UpdateExpression:
          `SET ${Object.keys(set).map((a) => `#${a} = :${a}`).join(', ')}, updated_at = :now, created_at = if_not_exists(created_at, :now), paused = ` +
          (paused === undefined ? 'if_not_exists(paused, :false)' : ':paused') +
          ` REMOVE ${remove.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ...Object.fromEntries(Object.entries(set).map(([a, v]) => [`:${a}`, v])),
          ':now': now,
          ...(paused === undefined ? { ':false': false } : { ':paused': paused }),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = out.Attributes as DefinitionItem | undefined;
    if (!old) await this.stats.add({ definitions: 1 });
    await this.deleteUnreferencedParts(name, version, old?.parts_version, now);
    const stored: StoredDefinition = {
      definition: body,
      paused: paused ?? old?.paused ?? false,
      created_at: old?.created_at ?? now,
      updated_at: now,
    };
    return { created: !old, stored };
  }

  /** A definition, its parts read when it has some (see the file comment). */
  async get(name: string): Promise<StoredDefinition | undefined> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.definition(name), ConsistentRead: true }));
      if (!out.Item) return undefined;
      const stored = await this.whole(name, out.Item as DefinitionItem);
      if (stored) return stored;
      if (attempt >= READ_ATTEMPTS) throw new Error(`process definition "${name}": parts of version ${String(out.Item.parts_version)} are missing`);
    }
  }

  /** A definition without reading its parts: for what its tasks do not matter to (its `upstream`, say). */
  async summary(name: string): Promise<ListedDefinition | undefined> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.definition(name), ConsistentRead: true }));
    return out.Item ? this.listed(out.Item as DefinitionItem) : undefined;
  }

  /**
   * All definitions, by name, from their items alone (one Query of `DEF`, every page): a definition stored
   * in parts comes without its tasks ({@link ListedDefinition}).
   */
  async list(): Promise<ListedDefinition[]> {
    const result: ListedDefinition[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.definitionsPartition },
          ExclusiveStartKey: startKey,
        }),
      );
      result.push(...((out.Items ?? []) as DefinitionItem[]).map((item) => this.listed(item)));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return result;
  }

  /** Pauses or resumes a definition's schedule (`paused` only); answers the stored state, or undefined if it does not exist. */
  async setPaused(name: string, paused: boolean, now: string): Promise<StoredDefinition | undefined> {
    let item: DefinitionItem | undefined;
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.definition(name),
          UpdateExpression: 'SET paused = :paused, updated_at = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':paused': paused, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      item = out.Attributes as DefinitionItem | undefined;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
    if (!item) return undefined;
    return (await this.whole(name, item)) ?? this.get(name);
  }

  /** Deletes a definition (and its parts); answers false when there was none. Its runs are kept. */
  async delete(name: string, now: string): Promise<boolean> {
    const out = await this.db.doc.send(
      new DeleteCommand({ TableName: this.db.tableName, Key: keys.definition(name), ReturnValues: 'ALL_OLD' }),
    );
    if (!out.Attributes) return false;
    await this.stats.add({ definitions: -1 });
    await this.deleteUnreferencedParts(name, undefined, (out.Attributes as DefinitionItem).parts_version, now);
    return true;
  }

  /** A definition as its item alone tells it: whole, or without its tasks when they are in parts. */
  private listed(item: DefinitionItem): ListedDefinition {
    return item.summary_gz
      ? { definition: gunzipJson<DefinitionSummary>(item.summary_gz), ...bookkeeping(item), task_definitions_omitted: item.task_count ?? 0 }
      : { definition: this.inItem(item), ...bookkeeping(item) };
  }

  /** The definition an item holds, with its parts read; undefined when some of them are gone (the item moved on). */
  private async whole(name: string, item: DefinitionItem): Promise<StoredDefinition | undefined> {
    if (!item.parts_version) return { definition: this.inItem(item), ...bookkeeping(item) };
    const parts = await queryPartition(this.db, keys.definitionPartsPartition(name), keys.definitionPartsPrefix(item.parts_version));
    if (parts.length !== item.parts) return undefined;
    return { definition: gunzipJson<DefinitionBody>(Buffer.concat(parts.map((p) => p.gz as Uint8Array))), ...bookkeeping(item) };
  }

  /** The definition of an item that holds it whole (gzipped, or a map before compression). */
  private inItem(item: DefinitionItem): DefinitionBody {
    return item.definition_gz ? gunzipJson<DefinitionBody>(item.definition_gz) : (item.definition as DefinitionBody);
  }

  /**
   * Deletes the parts of `replaced` (the version the item named before) and those of any other version
   * but `current` older than {@link STRAY_PARTS_AGE_MS}: a PUT that died before its item (file comment).
   */
  private async deleteUnreferencedParts(name: string, current: string | undefined, replaced: string | undefined, now: string): Promise<void> {
    const partition = keys.definitionPartsPartition(name);
    const items = await queryPartition(this.db, partition, undefined, 'pk, sk');
    const due = items.filter((it) => {
      const version = keys.definitionPartVersion(String(it.sk));
      return version !== current && (version === replaced || Date.parse(now) - versionTime(version) > STRAY_PARTS_AGE_MS);
    });
    await mapLimited(due, 8, (it) =>
      this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: { pk: it.pk as string, sk: it.sk as string } })),
    );
  }
}
