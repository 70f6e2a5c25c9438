/**
 * Which notifications of a run's ending have gone out, one item per channel in the run's partition
 * (`keys.notified`). The engine tells listeners at least once, and Lambda retries an asynchronous
 * invocation that failed: the notifier (lambdas/notify/notifier.ts) sends nothing on a channel marked
 * for this ending, and marks it after the delivery (sent or given up), so a crash in between may send
 * once more; never less.
 */
import { GetCommand, PutCommand } from './sdk';
import { type Db, conditionally } from './client';
import { keys } from './keys';

export type DeliveryMark = 'sent' | 'failed' | 'undeliverable';

export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /** The mark of a channel for one ending of a run, if any. */
  async get(processId: string, endTime: string, channel: string): Promise<DeliveryMark | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.notified(processId, endTime, channel), ConsistentRead: true }),
    );
    return out.Item?.outcome as DeliveryMark | undefined;
  }

  /** Marks a channel as done for this ending; the first mark wins (answers false if there was one). */
  async mark(processId: string, endTime: string, channel: string, outcome: DeliveryMark, at: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new PutCommand({
        TableName: this.db.tableName,
        Item: { ...keys.notified(processId, endTime, channel), process_id: processId, channel, outcome, at },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ));
  }
}
