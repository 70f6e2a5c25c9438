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

/**
 * When a call was sent and when answered, in one count over the calls' sends and answers (-1 until answered):
 * a call sent before another was answered went out in the same round trip.
 */
export interface CallOrder {
  sent: number;
  answered: number;
}

/** Every command `db` sends while `work` runs, in the order sent (with when each was answered), and what `work` answered. */
export async function storeCallsDuring<T>(db: Db, work: () => Promise<T>): Promise<{ calls: Array<StoreCall & CallOrder>; result: T }> {
  const calls: Array<StoreCall & CallOrder> = [];
  let count = 0;
  const stop = db.doc.observe(async (call, next) => {
    const recorded: StoreCall & CallOrder = { name: call.name, input: call.input, sent: count++, answered: -1 };
    calls.push(recorded);
    try {
      return await next();
    } finally {
      recorded.answered = count++;
    }
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

/** The partition and sort keys a call names: its `Key`, or the `Item` it puts ('' when it names none). */
export function keyOf(call: StoreCall): { pk: string; sk: string } {
  const key = (call.input.Key ?? call.input.Item) as { pk?: unknown; sk?: unknown } | undefined;
  return { pk: String(key?.pk ?? ''), sk: String(key?.sk ?? '') };
}
