/**
 * Process definitions: one item each in the `DEF` partition, so that listing them is one Query. The
 * definition is stored gzipped in a binary attribute (`definition_gz`): a 1,000-task definition written
 * out in full is ~850 KB of JSON, over DynamoDB's 400 KB item, and compresses to a fraction of it.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from './sdk';
import { PayloadTooLargeError } from '../domain/errors';
import type { ProcessDefinition } from '../domain/models';
import { type Db, isConditionFailed } from './client';
import { keys } from './keys';
import type { StatsStore } from './stats';

/** A stored definition: the validated body plus the bookkeeping the store keeps beside it. */
export interface StoredDefinition {
  definition: DefinitionBody;
  paused: boolean;
  created_at: string;
  updated_at: string;
}

/** The definition without `paused`, which the store keeps beside it (pause/resume change only that). */
export type DefinitionBody = Omit<ProcessDefinition, 'paused'>;

/**
 * Largest compressed definition: DynamoDB items hold 400 KB, names and values together; the rest of the
 * item (keys, dates, `paused`) is under 200 bytes, the margin is for whatever is added beside it.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const MAX_STORED_DEFINITION_BYTES = 350_000;

interface DefinitionItem {
  /** gzip of the definition's JSON. */
  definition_gz?: Uint8Array;
  /** Items written before compression: the definition as a map. */
  definition?: DefinitionBody;
  paused?: boolean;
  created_at: string;
  updated_at: string;
}

/** The stored form of a definition body; a 413 when even compressed it exceeds {@link MAX_STORED_DEFINITION_BYTES}. */
export function encodeDefinition(body: DefinitionBody): Buffer {
  const gz = gzipSync(JSON.stringify(body));
  if (gz.length > MAX_STORED_DEFINITION_BYTES) {
    throw new PayloadTooLargeError(
      `process definition is ${gz.length} bytes once compressed for storage; at most ${MAX_STORED_DEFINITION_BYTES}`,
      'task_definitions',
    );
  }
  return gz;
}

function fromItem(item: Record<string, unknown>): StoredDefinition {
  const it = item as unknown as DefinitionItem;
  const definition = it.definition_gz ? (JSON.parse(gunzipSync(it.definition_gz).toString('utf8')) as DefinitionBody) : (it.definition as DefinitionBody);
  return { definition, paused: it.paused ?? false, created_at: it.created_at, updated_at: it.updated_at };
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
    const compressed = encodeDefinition(body);
    const out = await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.definition(def.process_definition_name),
        UpdateExpression:
          'SET definition_gz = :definition, updated_at = :now, created_at = if_not_exists(created_at, :now), paused = ' +
          (paused === undefined ? 'if_not_exists(paused, :false)' : ':paused') +
          ' REMOVE #definition',
        ExpressionAttributeNames: { '#definition': 'definition' },
        ExpressionAttributeValues: {
          ':definition': compressed,
          ':now': now,
          ...(paused === undefined ? { ':false': false } : { ':paused': paused }),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = out.Attributes ? fromItem(out.Attributes) : undefined;
    if (!old) await this.stats.add({ definitions: 1 });
    const stored: StoredDefinition = {
      definition: body,
      paused: paused ?? old?.paused ?? false,
      created_at: old?.created_at ?? now,
      updated_at: now,
    };
    return { created: !old, stored };
  }

  async get(name: string): Promise<StoredDefinition | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.definition(name), ConsistentRead: true }),
    );
    return out.Item ? fromItem(out.Item) : undefined;
  }

  /** All definitions, by name. Definitions are few (one item each), so this reads every page. */
  async list(): Promise<StoredDefinition[]> {
    const result: StoredDefinition[] = [];
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
      result.push(...(out.Items ?? []).map(fromItem));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return result;
  }

  /** Pauses or resumes a definition's schedule (`paused` only); answers the stored state, or undefined if it does not exist. */
  async setPaused(name: string, paused: boolean, now: string): Promise<StoredDefinition | undefined> {
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
      return out.Attributes ? fromItem(out.Attributes) : undefined;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  /** Deletes a definition; answers false when there was none. Its runs are kept. */
  async delete(name: string): Promise<boolean> {
    const out = await this.db.doc.send(
      new DeleteCommand({ TableName: this.db.tableName, Key: keys.definition(name), ReturnValues: 'ALL_OLD' }),
    );
    if (!out.Attributes) return false;
    await this.stats.add({ definitions: -1 });
    return true;
  }
}
