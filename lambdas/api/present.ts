/** Wire shapes of stored records. */
import type { StoredDefinition } from '../store/definitions';

/** A definition as GET answers it: the body as stored, with `paused` always present. */
export function presentDefinition(stored: StoredDefinition): Record<string, unknown> {
  return { ...stored.definition, paused: stored.paused };
}
