/**
 * Which notifications of a run's ending have gone out, one item per channel in the run's partition
 * (`keys.notified`). The engine tells listeners at least once, and Lambda retries an asynchronous
 * invocation that failed: a channel marked for this ending is not sent again. The mark is written after
 * the delivery (sent or given up), so a crash in between may send once more; never less.
 */
import { GetCommand, PutCommand } from '../store/sdk';
import type { Store } from '../store';
import { isConditionFailed } from '../store/client';
import { keys } from '../store/keys';

export type DeliveryMark = 'sent' | 'failed' | 'undeliverable';

export class DeliveryMarks {
  constructor(private readonly store: Store) {}

  /** The mark of a channel for one ending of a run, if any. */
  async get(processId: string, endTime: string, channel: string): Promise<DeliveryMark | undefined> {
    const db = this.store.db;
    const out = await db.doc.send(
      new GetCommand({ TableName: db.tableName, Key: keys.notified(processId, endTime, channel), ConsistentRead: true }),
    );
    return out.Item?.outcome as DeliveryMark | undefined;
  }

  /** Marks a channel as done for this ending; the first mark wins (answers false if there was one). */
  async mark(processId: string, endTime: string, channel: string, outcome: DeliveryMark, at: string): Promise<boolean> {
    const db = this.store.db;
    try {
      await db.doc.send(
        new PutCommand({
          TableName: db.tableName,
          Item: { ...keys.notified(processId, endTime, channel), process_id: processId, channel, outcome, at },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }
}
