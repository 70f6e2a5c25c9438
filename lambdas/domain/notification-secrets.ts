/**
 * PagerDuty service keys (routing keys), webhook secrets and webhook URLs are secrets: GET answers show
 * them masked (`****` and the last four characters; a URL keeps its scheme, host and port), logs never
 * show them, and a PUT that carries one exactly as GET masked it keeps the stored one (a key or a secret
 * for an unchanged URL only), so that a definition read with GET can be PUT back without destroying its
 * secrets. A webhook URL is a secret because Slack's and Teams' carry their token in the path or query.
 */
import { BadRequestError, type FieldError } from './errors';
import type { Notification, ProcessDefinition } from './models';
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

/**
 * A URL with its path and query masked: `https://hooks.slack.com/****` and the last four characters of
 * the path and query when they are longer than 12 characters. A URL with nothing past its host is
 * answered as it is.
 */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return MASK;
  }
  const rest = `${u.pathname}${u.search}`;
  if (rest === '/') return u.href;
  return `${u.origin}/${MASK}${rest.length > SHORTEST_SHOWN ? rest.slice(-4) : ''}`;
}

/** True for a URL in the form {@link maskUrl} answers for a URL with a path or a query. */
export function isMaskedUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return /^\/\*{4}(.{4})?$/.test(`${u.pathname}${u.search}`);
  } catch {
    return false;
  }
}

/** The notifications with every `service_key`, webhook `url` and webhook `secret` masked. */
export function maskNotifications(notifications: readonly Notification[] | undefined): Notification[] | undefined {
  return notifications?.map((n) => {
    if (n.pagerduty) return { ...n, pagerduty: { ...n.pagerduty, service_key: maskSecret(n.pagerduty.service_key) } };
    if (n.webhook) {
      const { url, secret } = n.webhook;
      return { ...n, webhook: { ...n.webhook, url: maskUrl(url), ...(secret === undefined ? {} : { secret: maskSecret(secret) }) } };
    }
    return n;
  });
}

/** A definition (or anything carrying `notifications`) with its secrets masked, for GET answers. */
export function maskDefinitionSecrets<T extends { notifications?: Notification[] | undefined }>(definition: T): T {
  return definition.notifications ? { ...definition, notifications: maskNotifications(definition.notifications) } : definition;
}

/**
 * Puts back the stored secret wherever an incoming definition carries it masked, and refuses what cannot
 * be put back: a 400 with one problem for each (`notifications.N.pagerduty.service_key`,
 * `notifications.N.webhook.url`, `notifications.N.webhook.secret`): send the value itself.
 *
 * - A service key or a webhook secret is kept only for the same URL (`api_url`, the webhook's `url`): a
 *   service key is sent to `api_url`, and a webhook secret signs what is sent to `url`, so keeping it for
 *   another URL would let anyone allowed to PUT have the key posted, or bodies signed with the secret
 *   posted, to a host of their choosing.
 * - A masked webhook URL carries its scheme, host and port: it is kept for the same origin only.
 *
 * The stored value at the same position wins; else the one stored value with that mask (and that URL).
 * The PUT calls it between parsing and storing (lambdas/engine/definitions.ts).
 */
export function restoreMaskedSecrets(incoming: ProcessDefinition, stored: Pick<ProcessDefinition, 'notifications'> | undefined): ProcessDefinition {
  if (!incoming.notifications?.some(carriesMask)) return incoming;
  const before = stored?.notifications ?? [];
  const problems: FieldError[] = [];
  const notifications = incoming.notifications.map((n, i) => {
    if (n.pagerduty) return restoreServiceKey(n.pagerduty, i, before, problems);
    if (n.webhook) return restoreWebhook(n.webhook, i, before, problems);
    return n;
  });
  if (problems.length > 0) throw BadRequestError.of(problems);
  return { ...incoming, notifications };
}

type PagerDutyNotification = NonNullable<Notification['pagerduty']>;
type WebhookNotification = NonNullable<Notification['webhook']>;

function carriesMask(n: Notification): boolean {
  if (n.pagerduty) return isMasked(n.pagerduty.service_key);
  return n.webhook !== undefined && (isMaskedUrl(n.webhook.url) || (n.webhook.secret !== undefined && isMasked(n.webhook.secret)));
}

/** A URL compared as a URL (`https://H.example.com` is `https://h.example.com/`). */
function sameUrl(a: string, b: string): boolean {
  const href = (u: string) => {
    try {
      return new URL(u).href;
    } catch {
      return u;
    }
  };
  return href(a) === href(b);
}

/** The stored value a masked one stands for: the one at position `at`, else the only distinct one; undefined if none or several. */
function storedValue(candidates: ReadonlyArray<{ at: number; value: string }>, at: number): string | undefined {
  const distinct = [...new Set(candidates.map((c) => c.value))];
  return candidates.find((c) => c.at === at)?.value ?? (distinct.length === 1 ? distinct[0] : undefined);
}

/** Why a masked key or secret was not put back: it matched a stored one for another URL only, or no single one. */
function unmatched(field: string, noun: string, masked: string, sameMask: number, candidates: number, urlField: string): string {
  const why =
    candidates === 0 && sameMask > 0
      ? `the stored ${noun} with this mask is for another ${urlField}; a masked ${noun} is kept only when ${urlField} is unchanged`
      : `it matches ${candidates === 0 ? 'no' : 'more than one'} stored ${noun}`;
  return `${field} is masked ("${masked}") and ${why}: send the ${noun} itself`;
}

function restoreServiceKey(pd: PagerDutyNotification, i: number, stored: readonly Notification[], problems: FieldError[]): Notification {
  const masked = pd.service_key;
  if (!isMasked(masked)) return { pagerduty: pd };
  const endpoint = enqueueUrl(pd.api_url);
  const sameMask = stored.flatMap((n, at) =>
    n.pagerduty && maskSecret(n.pagerduty.service_key) === masked ? [{ at, value: n.pagerduty.service_key, endpoint: enqueueUrl(n.pagerduty.api_url) }] : [],
  );
  const sameEndpoint = sameMask.filter((k) => k.endpoint === endpoint);
  const key = storedValue(sameEndpoint, i);
  if (key === undefined) {
    const candidates = new Set(sameEndpoint.map((k) => k.value)).size;
    problems.push({ code: 'invalid_field', message: unmatched('service_key', 'key', masked, sameMask.length, candidates, 'api_url'), field: `notifications.${i}.pagerduty.service_key` });
    return { pagerduty: pd };
  }
  return { pagerduty: { ...pd, service_key: key } };
}

function restoreWebhook(webhook: WebhookNotification, i: number, stored: readonly Notification[], problems: FieldError[]): Notification {
  const hooks = stored.flatMap((n, at) => (n.webhook ? [{ at, ...n.webhook }] : []));
  let { url, secret } = webhook;
  if (isMaskedUrl(url)) {
    const sameMask = hooks.filter((h) => sameUrl(maskUrl(h.url), url)).map((h) => ({ at: h.at, value: h.url }));
    const found = storedValue(sameMask, i);
    if (found === undefined) {
      const matches = new Set(sameMask.map((h) => h.value)).size === 0 ? 'no' : 'more than one';
      problems.push({ code: 'invalid_field', message: `url is masked ("${url}") and it matches ${matches} stored webhook url: send the url itself`, field: `notifications.${i}.webhook.url` });
      return { webhook };
    }
    url = found;
  }
  if (secret !== undefined && isMasked(secret)) {
    const masked = secret;
    const sameMask = hooks.flatMap((h) => (h.secret !== undefined && maskSecret(h.secret) === masked ? [{ at: h.at, value: h.secret, url: h.url }] : []));
    const sameHook = sameMask.filter((h) => sameUrl(h.url, url));
    secret = storedValue(sameHook, i);
    if (secret === undefined) {
      const candidates = new Set(sameHook.map((h) => h.value)).size;
      problems.push({ code: 'invalid_field', message: unmatched('secret', 'secret', masked, sameMask.length, candidates, 'url'), field: `notifications.${i}.webhook.secret` });
      return { webhook };
    }
  }
  return { webhook: { ...webhook, url, ...(secret === undefined ? {} : { secret }) } };
}
