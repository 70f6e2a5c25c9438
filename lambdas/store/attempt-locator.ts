/**
 * Where a task attempt is, by its id alone (the operator routes without a `process_id`): the attempt
 * item's own keys in the sparse, keys-only gsi4 (keys.ts `taskIdIndex`), written with the attempt at no
 * write of its own; or, for an attempt written before gsi4 (or in a local table made before it), the
 * locator item `TASKID#<task_id>` that held its `process_id`. Callers reach it through the run store.
 */
import { GetCommand, QueryCommand } from './sdk';
import type { Db } from './client';
import { INDEXES, keys } from './keys';

/**
 * How long a lookup waits for gsi4 to catch up with a write before it answers that there is no such
 * attempt: a write reaches a GSI within about a second (see {@link AttemptLocator.find}).
 */
export const GSI_CATCH_UP_MS = 1_500;

export class AttemptLocator {
  constructor(private readonly db: Db) {}

  /** Whether new attempts get a locator item: only in a local table made before gsi4 (dynalite cannot add an index). */
  get legacy(): boolean {
    return this.db.missingIndexes?.includes(INDEXES.gsi4.name) ?? false;
  }

  /**
   * The process id of attempt `taskId`, or undefined: gsi4 and the locator item read at once. gsi4 is
   * eventually consistent (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html:
   * "All reads from GSIs and streams are eventually consistent"): an attempt created a moment ago may not
   * be in it yet. Writes reach a GSI within about a second, and AWS advises retrying a query with backoff
   * (https://repost.aws/knowledge-center/dynamodb-missing-table-items-gsi), so a miss is asked again, with
   * backoff, for up to `catchUpMs` before it is answered: only an unknown id pays that wait. An index
   * still being created (just deployed) is refused by DynamoDB (ValidationException): a miss as well.
   */
  async find(taskId: string, catchUpMs = GSI_CATCH_UP_MS): Promise<string | undefined> {
    if (this.legacy) return this.located(taskId);
    const [byIndex, byLocator] = await Promise.all([this.indexed(taskId), this.located(taskId)]);
    let found = byIndex ?? byLocator;
    for (let wait = 50, waited = 0; found === undefined && waited < catchUpMs; waited += wait, wait *= 2) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, catchUpMs - waited)));
      found = await this.indexed(taskId);
    }
    return found;
  }

  /** What an attempt's item carries for gsi4 (nothing in a table without it). */
  indexKeys(taskId: string, processId: string): Record<string, string> {
    return this.legacy ? {} : keys.taskIdIndex(taskId, processId);
  }

  /** The locator item an attempt gets where gsi4 is missing, else none. */
  legacyItem(taskId: string, processId: string): Record<string, string> | undefined {
    return this.legacy ? { ...keys.taskLocator(taskId), task_id: taskId, process_id: processId } : undefined;
  }

  private async located(taskId: string): Promise<string | undefined> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.taskLocator(taskId) }));
    return out.Item?.process_id === undefined ? undefined : String(out.Item.process_id);
  }

  private async indexed(taskId: string): Promise<string | undefined> {
    const where = keys.attemptById(taskId);
    const index = INDEXES[where.index];
    try {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': index.pk },
          ExpressionAttributeValues: { ':pk': where.pk },
          Limit: 1,
        }),
      );
      const sk = out.Items?.[0]?.[index.sk];
      return sk === undefined ? undefined : String(sk);
    } catch (err) {
      if ((err as { name?: string }).name === 'ValidationException') return undefined;
      throw err;
    }
  }
}
