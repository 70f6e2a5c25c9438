/**
 * A definition's backfill (keys.ts `backfill`), one item per definition beside its schedule state: the
 * occurrences a `POST …/backfill` queued (oldest first, each with the id its run gets), `next`, the index
 * of the next to start, `total`, how many start (fewer once cancelled: `cancel`), and `current`, the run
 * of the one started last. Each occurrence starts once:
 * `advance` moves `next` on conditionally, after the start was reserved (engine/backfills.ts). The item
 * stays once every occurrence has started (`next` = `total`), so that `current` still tells the last one
 * apart; a new backfill replaces it then, and only then.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from './sdk';
import { type Db, conditionally } from './client';
import { keys } from './keys';

export interface BackfillOccurrence {
  /** The cron occurrence the run stands for (`trigger.scheduled_time`). */
  scheduled_time: string;
  /** The id its run gets. */
  process_id: string;
}

export interface Backfill {
  occurrences: BackfillOccurrence[];
  /** Index of the next occurrence to start; `total` once all have started. */
  next: number;
  /**
   * Occurrences to start: `occurrences.length`, or, once the backfill was cancelled, the index it was
   * cancelled from (the occurrences from there on never start).
   */
  total: number;
  /** Who cancelled it, and when (`DELETE …/backfill`). */
  cancelled?: { by: string; at: string };
  /** The run of the occurrence started last, if one has started. */
  current?: string;
  /** Who asked for it (`trigger.by` of its runs), and when. */
  by: string;
  requested_at: string;
}

export class BackfillStore {
  constructor(private readonly db: Db) {}

  async get(name: string): Promise<Backfill | undefined> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.backfill(name), ConsistentRead: true }));
    if (!out.Item) return undefined;
    const { occurrences, next, total, current, by, requested_at, cancelled } = out.Item as Backfill;
    return {
      occurrences,
      next: Number(next),
      total: total === undefined ? occurrences.length : Number(total),
      ...(current ? { current } : {}),
      by,
      requested_at,
      ...(cancelled ? { cancelled } : {}),
    };
  }

  /** Stores a new backfill unless the definition has one with occurrences still to start; answers whether it did. */
  async create(name: string, backfill: Omit<Backfill, 'next' | 'current' | 'total' | 'cancelled'>): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new PutCommand({
        TableName: this.db.tableName,
        Item: { ...keys.backfill(name), ...backfill, next: 0, total: backfill.occurrences.length },
        ConditionExpression: 'attribute_not_exists(pk) OR #next >= #total',
        ExpressionAttributeNames: { '#next': 'next', '#total': 'total' },
      }),
    ));
  }

  /** Occurrence `index` has started as run `processId`: `next` moves past it, if no one moved it already. */
  async advance(name: string, index: number, processId: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.backfill(name),
        UpdateExpression: 'SET #next = :after, #current = :id',
        ConditionExpression: '#next = :index',
        ExpressionAttributeNames: { '#next': 'next', '#current': 'current' },
        ExpressionAttributeValues: { ':index': index, ':after': index + 1, ':id': processId },
      }),
    ));
  }

  /**
   * Cancels the occurrences of `read` from its `next` on: `total` becomes `next`, if neither moved since
   * it was read (the same backfill, `requested_at`, no occurrence started meanwhile). Answers whether it
   * did; a start that had reserved the next occurrence before reads this and stands down
   * (engine/backfills.ts).
   */
  async cancel(name: string, read: Backfill, cancelled: { by: string; at: string }): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.backfill(name),
        UpdateExpression: 'SET #total = :next, cancelled = :cancelled',
        ConditionExpression: '#next = :next AND requested_at = :requested AND #next < #total',
        ExpressionAttributeNames: { '#next': 'next', '#total': 'total' },
        ExpressionAttributeValues: { ':next': read.next, ':requested': read.requested_at, ':cancelled': cancelled },
      }),
    ));
  }

  /** The definition was deleted: its backfill goes with it. */
  async remove(name: string): Promise<void> {
    await this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: keys.backfill(name) }));
  }
}
