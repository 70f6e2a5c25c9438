/**
 * The DynamoDB commands a store client sends while some work runs (an observer of its document client,
 * removed afterwards): what tests assert when what matters is which reads and writes the code makes, not only
 * what it answers.
 */
import type { Db } from '../../lambdas/store/client';

export interface StoreCall {
  /** The command's name, e.g. `QueryCommand`. */
  name: string;
  /** Its input as the store sent it (document form). */
  input: Record<string, unknown>;
}

/** Every command `db` sends while `work` runs, in the order sent, and what `work` answered. */
export async function storeCallsDuring<T>(db: Db, work: () => Promise<T>): Promise<{ calls: StoreCall[]; result: T }> {
  const calls: StoreCall[] = [];
  const stop = db.doc.observe((call, next) => {
    calls.push({ name: call.name, input: call.input });
    return next();
  });
  try {
    return { calls, result: await work() };
  } finally {
    stop();
  }
}

/** A Query of a run's slots (`begins_with(sk, "SLOT#")`). */
export const isSlotQuery = (call: StoreCall): boolean =>
  call.name === 'QueryCommand' && (call.input.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[':prefix'] === 'SLOT#';
