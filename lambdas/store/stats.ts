/**
 * Counters behind `GET /_internal_/metrics`, kept in one item with atomic ADDs so that the metrics route
 * reads one key instead of scanning. Each counter moves only after the write it counts succeeded.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ProcessStatus, TaskStatus } from '../domain/models';
import type { Db } from './client';
import { keys } from './keys';

export type Counter = 'definitions' | `runs_${ProcessStatus}` | `tasks_${TaskStatus}`;

export class StatsStore {
  constructor(private readonly db: Db) {}

  /** Adds each delta (which may be negative) to its counter in one update. */
  async add(deltas: Partial<Record<Counter, number>>): Promise<void> {
    const entries = Object.entries(deltas).filter(([, v]) => v !== 0 && v !== undefined);
    if (entries.length === 0) return;
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.stats(),
        UpdateExpression: `ADD ${entries.map((_, i) => `#c${i} :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#c${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }

  /** Moves one count from one status counter to another (a status transition). */
  move(from: Counter | undefined, to: Counter): Promise<void> {
    return this.add(from === undefined || from === to ? { [to]: from === to ? 0 : 1 } : { [from]: -1, [to]: 1 });
  }

  async read(): Promise<Partial<Record<Counter, number>>> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.stats() }));
    const { pk: _pk, sk: _sk, ...counters } = out.Item ?? {};
    return counters as Partial<Record<Counter, number>>;
  }
}
