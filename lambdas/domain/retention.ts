/**
 * Retention of run history: a run, its attempts, their entries and the engine's slots expire together,
 * `SUNDIAL_RETENTION_DAYS` (default 90; read by lambdas/functions/environment.ts) after the run ended.
 * Deployed, DynamoDB TTL deletes them (the table's `expires_at`); locally the sweep does
 * (local/sweeper.ts). Definitions never expire. `0` keeps history for ever.
 */

export const DEFAULT_RETENTION_DAYS = 90;

/** `expires_at` (epoch seconds) of a run that ended at `endedAt`; undefined when history is kept for ever. */
export function expiresAt(endedAt: Date, retentionDays: number): number | undefined {
  if (retentionDays <= 0) return undefined;
  return Math.floor(endedAt.getTime() / 1000 + retentionDays * 86_400);
}
