/**
 * Counters behind `GET /_internal_/metrics`, kept with atomic ADDs so that the metrics route reads a few
 * keys instead of scanning. Writes go to one of `SHARDS` items at random (every running task moves a
 * counter, and one hot item would serialise them: DynamoDB allows ~1,000 writes/s per item); reads sum
 * the shards with one BatchGet. Each counter moves only after the write it counts succeeded, or beside it
 * (taken back if it fails): a claim counted by the write that starts a dependent (engine/completion.ts).
 */
import { BatchGetCommand, UpdateCommand } from './sdk';
import type { ProcessStatus, TaskStatus } from '../domain/models';
import type { Db } from './client';
import { keys } from './keys';

/** Notification channels whose deliveries are counted. */
export type NotificationChannel = 'email' | 'pagerduty' | 'webhook';

export type Counter =
  | 'definitions'
  | `runs_${ProcessStatus}`
  | `tasks_${TaskStatus}`
  | `notifications_sent_${NotificationChannel}`
  | `notifications_failed_${NotificationChannel}`;

/** Deltas to add to counters (negative ones too). */
export type CounterDeltas = Partial<Record<Counter, number>>;

/** The deltas of one count moved from one status counter to another (none when they are the same). */
export const moveOf = (from: Counter | undefined, to: Counter): CounterDeltas => (from === to ? {} : from === undefined ? { [to]: 1 } : { [from]: -1, [to]: 1 });

/** `a` and `b` added up, counter by counter. */
export function plus(a: CounterDeltas, b: CounterDeltas): CounterDeltas {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + (v ?? 0);
  return out as CounterDeltas;
}

/** `d` taken back: each delta with its sign turned. */
export function negated(d: CounterDeltas): CounterDeltas {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, -(v ?? 0)]));
}

/** Shards of the counters: 32, so that 200 tasks at once do not queue on a few items (BatchGet reads up to 100). */
export const STATS_SHARDS = 32;

export class StatsStore {
  constructor(private readonly db: Db) {}

  /** Adds each delta (which may be negative) to its counter in one update. */
  async add(deltas: CounterDeltas): Promise<void> {
    const entries = Object.entries(deltas).filter(([, v]) => v !== 0 && v !== undefined);
    if (entries.length === 0) return;
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.stats(Math.floor(Math.random() * STATS_SHARDS)),
        UpdateExpression: `ADD ${entries.map((_, i) => `#c${i} :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#c${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }

  /** Moves one count from one status counter to another (a status transition). */
  move(from: Counter | undefined, to: Counter): Promise<void> {
    return this.add(moveOf(from, to));
  }

  /** The counters, summed over the shards. */
  async read(): Promise<Partial<Record<Counter, number>>> {
    const totals: Record<string, number> = {};
    let wanted: Array<Record<string, unknown>> = Array.from({ length: STATS_SHARDS }, (_, i) => ({ ...keys.stats(i) }));
    for (let attempt = 0; wanted.length > 0; attempt++) {
      if (attempt > 5) throw new Error('DynamoDB left counter reads unprocessed');
      if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      const out = await this.db.doc.send(
        new BatchGetCommand({ RequestItems: { [this.db.tableName]: { Keys: wanted, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[this.db.tableName] ?? []) {
        for (const [k, v] of Object.entries(item)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
      }
      wanted = out.UnprocessedKeys?.[this.db.tableName]?.Keys ?? [];
    }
    return totals as Partial<Record<Counter, number>>;
  }
}
