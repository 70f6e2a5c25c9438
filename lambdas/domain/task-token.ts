/**
 * Task callback tokens. A token names one task attempt (and its run, so that the callback finds it by
 * key) and is signed with HMAC-SHA256 under a secret key (Secrets Manager deployed, a generated file
 * locally). It is refused for any other task; whether the attempt may still call back is decided
 * against the stored attempt, not the token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors';

const VERSION = 'v1';

/**
 * How long after its attempt ended a token may still post log and metadata entries: a task's last
 * lines may be in flight when its process exits and Record ends the attempt. After it, every callback
 * of that token is refused (409). `/succeed` and `/fail` get no grace: they only make sense while the
 * attempt runs. The token itself carries no expiry: whether it still works is decided against the
 * stored attempt, which knows when the attempt really ended (a kill, a timeout, the reaper), and a
 * time claim minted at Prepare could not know how long an attempt will run.
 */
export const LATE_ENTRY_GRACE_SECONDS = 120;

/**
 * Whether an attempt still takes log and metadata entries at `now`: while it runs, and for
 * {@link LATE_ENTRY_GRACE_SECONDS} after its `end_time` (an ended attempt without one is treated as
 * ended long ago).
 */
export function acceptsEntries(task: { status: string; end_time?: string }, now: Date, graceSeconds = LATE_ENTRY_GRACE_SECONDS): boolean {
  if (task.status === 'running') return true;
  const ended = task.end_time === undefined ? Number.NaN : Date.parse(task.end_time);
  return Number.isFinite(ended) && now.getTime() <= ended + graceSeconds * 1000;
}

export interface TaskTokenClaims {
  /** task_id of the attempt. */
  tid: string;
  /** process_id of its run. */
  pid: string;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(`${VERSION}.${payload}`).digest();
}

export function signTaskToken(key: Buffer, claims: TaskTokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ tid: claims.tid, pid: claims.pid })).toString('base64url');
  return `${VERSION}.${payload}.${mac(key, payload).toString('base64url')}`;
}

/**
 * Verifies a bearer token for `taskId`; answers its claims or throws `UnauthorizedError` (missing,
 * malformed, forged) — the same error for every case, so a caller learns nothing from the refusal.
 */
export function verifyTaskToken(key: Buffer, authorization: string | undefined, taskId: string): TaskTokenClaims {
  const refuse = () => new UnauthorizedError('a valid task token for this task is required (Authorization: Bearer $SUNDIAL_TASK_TOKEN)');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const parts = match?.[1]?.split('.') ?? [];
  const [version, payload, signature] = parts;
  if (parts.length !== 3 || version !== VERSION || !payload || !signature) throw refuse();
  // Compare the canonical text of the signature, so that one token has exactly one spelling.
  const expected = Buffer.from(mac(key, payload).toString('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refuse();
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof claims !== 'object' || claims === null) throw refuse();
  const c = claims as Partial<TaskTokenClaims>;
  if (typeof c.tid !== 'string' || typeof c.pid !== 'string' || c.tid !== taskId) throw refuse();
  return { tid: c.tid, pid: c.pid };
}
