/**
 * Task callback tokens. A token names one task attempt (and its run, so that the callback finds it by
 * key) and is signed with HMAC-SHA256 under a secret key (Secrets Manager deployed, a generated file
 * locally). It is refused for any other task; whether the attempt may still call back is decided
 * against the stored attempt, not the token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors';

const VERSION = 'v1';

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
