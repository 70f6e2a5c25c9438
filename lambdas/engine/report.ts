/** `/succeed` and `/fail`: what a running attempt reports about itself (Record reads it when the attempt ends). */
import { ConflictError, NotFoundError } from '../domain/errors';
import type { TaskTokenClaims } from '../domain/task-token';
import type { Store } from '../store';

export async function reportAttempt(store: Store, now: () => Date, claims: TaskTokenClaims, report: 'succeeded' | 'failed'): Promise<void> {
  const result = await store.runs.reportTask(claims.pid, claims.tid, report, now().toISOString());
  if (result === 'missing') throw new NotFoundError(`task ${claims.tid} does not exist`);
  if (result === 'conflict') throw new ConflictError(`task ${claims.tid} has finished or already reported another status`);
}
