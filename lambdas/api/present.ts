/** Wire shapes of stored records. */
import { maskDefinitionSecrets } from '../notify/secrets';
import type { StoredDefinition } from '../store/definitions';

/**
 * A definition as GET answers it: the body as stored, with `paused` always present and every PagerDuty
 * `service_key` masked (`****` and its last four characters; a PUT of the masked form keeps the stored key).
 */
export function presentDefinition(stored: StoredDefinition): Record<string, unknown> {
  return { ...maskDefinitionSecrets(stored.definition), paused: stored.paused };
}
