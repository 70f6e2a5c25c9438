/** Small helpers for asserting on refusals and for building variants of a valid body. */
import { HttpError } from '../../lambdas/domain/errors';

/** The `HttpError` that `fn` throws; fails the test when it throws nothing or something else. */
export function refusalOf(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError, but nothing was thrown');
}

/**
 * A deep copy of `value` with the dotted `path` (`task_definitions.0.max_attempts`) set to `to`, or
 * removed when `to` is `REMOVE`. Intermediate objects must exist.
 */
export const REMOVE = Symbol('remove');

export function withPath<T>(value: T, path: string, to: unknown): T {
  const copy = structuredClone(value);
  const parts = path.split('.');
  const last = parts.pop() as string;
  let target = copy as unknown as Record<string, unknown>;
  for (const part of parts) {
    const next = target[part];
    if (typeof next !== 'object' || next === null) throw new Error(`withPath: no object at "${part}" of "${path}"`);
    target = next as Record<string, unknown>;
  }
  if (to === REMOVE) delete target[last];
  else target[last] = to;
  return copy;
}
