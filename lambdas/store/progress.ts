/**
 * An attempt's progress (`POST /api/tasks/{task_id}/progress`): one map attribute, `progress`
 * (`percent`, `message`?, `when`), on the attempt's own item, so that every read of attempts answers it
 * without another read. It never moves backwards within an attempt: the write is one UpdateItem whose
 * condition holds only while the stored percent is at most the reported one, so that concurrent or late
 * reports, in whatever order DynamoDB applies them, leave the highest (docs/STORAGE.md). Callers reach it
 * through the run store (runs.ts).
 */
import { GetCommand, UpdateCommand } from './sdk';
import type { AttemptProgress } from '../domain/models';
import { type Db, isConditionFailed } from './client';
import { keys } from './keys';

/**
 * What a report did: `applied` (it is the attempt's progress now), `kept` (the attempt had reported a
 * higher percent, which stays and is answered), or `missing` (no such attempt; nothing written).
 */
export type ProgressOutcome = { outcome: 'applied' | 'kept'; progress: AttemptProgress } | { outcome: 'missing' };

/**
 * Sets an attempt's progress unless it has a higher percent already (an equal one is replaced: a newer message).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/BestPractices_ImplementingVersionControl.html (an UpdateItem is atomic and operates on the most recent version of the item: no read-modify-write race)
 */
export async function recordProgress(db: Db, processId: string, taskId: string, progress: AttemptProgress): Promise<ProgressOutcome> {
  const key = keys.task(processId, taskId);
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: key,
        UpdateExpression: 'SET #progress = :progress',
        // attribute_exists(task_id): an update never creates an attempt that is not there, nor writes to a
        // fence (runs.ts `fenceTask`: the key of an attempt never written, which has no task_id).
        ConditionExpression: 'attribute_exists(task_id) AND (attribute_not_exists(#progress) OR #progress.#percent <= :percent)',
        ExpressionAttributeNames: { '#progress': 'progress', '#percent': 'percent' },
        ExpressionAttributeValues: { ':progress': progress, ':percent': progress.percent },
      }),
    );
    return { outcome: 'applied', progress };
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
  }
  const out = await db.doc.send(
    new GetCommand({ TableName: db.tableName, Key: key, ProjectionExpression: '#progress', ExpressionAttributeNames: { '#progress': 'progress' }, ConsistentRead: true }),
  );
  const stored = out.Item?.progress as AttemptProgress | undefined;
  return stored ? { outcome: 'kept', progress: stored } : { outcome: 'missing' };
}
