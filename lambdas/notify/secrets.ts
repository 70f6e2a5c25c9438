/**
 * PagerDuty service keys (routing keys) are secrets: GET answers show them masked (`****` and the last
 * four characters), logs never show them, and a PUT that carries a key exactly as GET masked it keeps
 * the stored key (for an unchanged `api_url` only), so that a definition read with GET can be PUT back
 * without destroying its secrets.
 */
import { BadRequestError, type FieldError } from '../domain/errors';
import type { Notification, ProcessDefinition } from '../domain/models';
import { enqueueUrl } from './pagerduty-url';

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
 * Puts back the stored service key wherever an incoming definition carries it masked, but only a key
 * stored with the same `api_url`: the key is sent to `api_url`, so keeping it for another URL would let
 * anyone allowed to PUT have it posted to a host of their choosing. The stored key at the same position
 * wins; else the one stored key with that mask and that `api_url`. A masked value that matches no such
 * key (or several different ones) is a 400 naming the `service_key` (one problem for each): send the key
 * itself.
 *
 * The PUT calls it between parsing and storing (lambdas/engine/definitions.ts).
 */
export function restoreMaskedSecrets(incoming: ProcessDefinition, stored: Pick<ProcessDefinition, 'notifications'> | undefined): ProcessDefinition {
  if (!incoming.notifications?.some((n) => n.pagerduty && isMasked(n.pagerduty.service_key))) return incoming;
  const storedKeys = (stored?.notifications ?? []).flatMap((n, i) =>
    n.pagerduty ? [{ at: i, key: n.pagerduty.service_key, endpoint: enqueueUrl(n.pagerduty.api_url) }] : [],
  );
  const problems: FieldError[] = [];
  const notifications = incoming.notifications.map((n, i) => {
    const masked = n.pagerduty?.service_key;
    if (!n.pagerduty || masked === undefined || !isMasked(masked)) return n;
    const endpoint = enqueueUrl(n.pagerduty.api_url);
    const sameMask = storedKeys.filter((k) => maskSecret(k.key) === masked);
    const sameEndpoint = sameMask.filter((k) => k.endpoint === endpoint);
    const samePlace = sameEndpoint.find((k) => k.at === i);
    const candidates = [...new Set(sameEndpoint.map((k) => k.key))];
    const key = samePlace?.key ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (key === undefined) {
      const why =
        sameEndpoint.length === 0 && sameMask.length > 0
          ? `the stored key with this mask is for another api_url; a masked key is kept only when api_url is unchanged`
          : `it matches ${candidates.length === 0 ? 'no' : 'more than one'} stored key`;
      problems.push({ code: 'invalid_field', message: `service_key is masked ("${masked}") and ${why}: send the key itself`, field: `notifications.${i}.pagerduty.service_key` });
      return n;
    }
    return { ...n, pagerduty: { ...n.pagerduty, service_key: key } };
  });
  if (problems.length > 0) throw BadRequestError.of(problems);
  return { ...incoming, notifications };
}
