/**
 * Retention of run history: a run, its attempts, their entries and the engine's slots expire together,
 * `SUNDIAL_RETENTION_DAYS` (default 90) after the run ended. Deployed, DynamoDB TTL deletes them (the
 * table's `expires_at`); locally the sweep does (local/sweeper.ts). Definitions never expire. `0` keeps
 * history for ever.
 */

/** Environment variable holding the retention in days (deployed: set by lib/sundial.ts; locally: read by npm start). */
export const RETENTION_DAYS_ENV = 'SUNDIAL_RETENTION_DAYS';

export const DEFAULT_RETENTION_DAYS = 90;

/** Days from the environment; a value that is not a non-negative number fails fast with the variable's name. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[RETENTION_DAYS_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isFinite(days) || days < 0) throw new Error(`${RETENTION_DAYS_ENV} must be a number of days (0 = keep for ever), got "${raw}"`);
  return days;
}

/** `expires_at` (epoch seconds) of a run that ended at `endedAt`; undefined when history is kept for ever. */
export function expiresAt(endedAt: Date, retentionDays: number): number | undefined {
  if (retentionDays <= 0) return undefined;
  return Math.floor(endedAt.getTime() / 1000 + retentionDays * 86_400);
}
