/**
 * PagerDuty service keys (routing keys) are secrets: GET answers show them masked (`****` and the last
 * four characters), logs never show them, and a PUT that carries a key exactly as GET masked it keeps
 * the stored key, so that a definition read with GET can be PUT back without destroying its secrets.
 */
import { BadRequestError } from '../domain/errors';
import type { Notification, ProcessDefinition } from '../domain/models';

const MASK = '****';
/** Keys this short or shorter are masked whole: their last four characters would be most of them. */
const SHORTEST_SHOWN = 12;

/** `****` and the last four characters of a secret (only `****` for a short one). */
export function maskSecret(secret: string): string {
  return secret.length <= SHORTEST_SHOWN ? MASK : `${MASK}${secret.slice(-4)}`;
}

/** True for a value in the form {@link maskSecret} answers. */
export function isMasked(value: string): boolean {
  return value === MASK || (value.length === MASK.length + 4 && value.startsWith(MASK));
}

/** The notifications with every `service_key` masked. */
export function maskNotifications(notifications: readonly Notification[] | undefined): Notification[] | undefined {
  return notifications?.map((n) => (n.pagerduty ? { ...n, pagerduty: { ...n.pagerduty, service_key: maskSecret(n.pagerduty.service_key) } } : n));
}

/** A definition (or anything carrying `notifications`) with its secrets masked, for GET answers. */
export function maskDefinitionSecrets<T extends { notifications?: Notification[] | undefined }>(definition: T): T {
  return definition.notifications ? { ...definition, notifications: maskNotifications(definition.notifications) } : definition;
}

/**
 * Puts back the stored service key wherever an incoming definition carries it masked. The stored key
 * at the same position wins; else the one stored key with that mask. A masked value that matches no
 * stored key (or several different ones) is a 400: storing it would lose the real key.
 *
 * Call it in `PUT /api/process_definitions/{name}` between parsing and storing.
 */
export function restoreMaskedSecrets(incoming: ProcessDefinition, stored: Pick<ProcessDefinition, 'notifications'> | undefined): ProcessDefinition {
  if (!incoming.notifications?.some((n) => n.pagerduty && isMasked(n.pagerduty.service_key))) return incoming;
  const storedKeys = (stored?.notifications ?? []).map((n) => n.pagerduty?.service_key);
  const notifications = incoming.notifications.map((n, i) => {
    const masked = n.pagerduty?.service_key;
    if (!n.pagerduty || masked === undefined || !isMasked(masked)) return n;
    const samePlace = storedKeys[i];
    const candidates = [...new Set(storedKeys.filter((k): k is string => k !== undefined && maskSecret(k) === masked))];
    const key = samePlace !== undefined && maskSecret(samePlace) === masked ? samePlace : candidates.length === 1 ? candidates[0] : undefined;
    if (key === undefined) {
      throw new BadRequestError(
        `service_key is masked ("${masked}") and matches ${candidates.length === 0 ? 'no' : 'more than one'} stored key: send the key itself`,
        `notifications.${i}.pagerduty.service_key`,
        'invalid_field',
      );
    }
    return { ...n, pagerduty: { ...n.pagerduty, service_key: key } };
  });
  return { ...incoming, notifications };
}
