/**
 * Where a PagerDuty `service_key` may be sent. The key travels in the body of every event, so `api_url`
 * decides who learns it: deployed, only `https` on PagerDuty's Events API hosts (plus the hosts an
 * operator adds with the cdk context value `sundial:pagerDutyHosts`); in local mode also loopback, over
 * http or https, for a receiver on the developer's machine. Never credentials in the URL, never a query
 * or fragment (the enqueue path is appended to it). The API refuses a definition whose `api_url` breaks
 * the rule (400), and the sender checks again before each delivery, because a definition stored before
 * the rule existed may carry any URL.
 */
import type { FieldError } from './errors';
import type { Notification } from './models';

/**
 * PagerDuty's Events API v2 hosts: the US service region's and the EU service region's
 * (https://support.pagerduty.com/docs/service-regions, "API Access URLs"; the Events API v2 endpoint is
 * `POST https://events.pagerduty.com/v2/enqueue`, https://developer.pagerduty.com/docs/events-API-v2/overview/).
 */
export const PAGERDUTY_EVENTS_HOSTS: readonly string[] = ['events.pagerduty.com', 'events.eu.pagerduty.com'];

/** Which `api_url` values are allowed. */
export interface PagerDutyUrlPolicy {
  /** Hosts (`host` or `host:port`, lower case) that may be called over https. */
  readonly hosts: readonly string[];
  /** Local mode: loopback (`localhost`, 127.0.0.0/8, `[::1]`) over http or https too. */
  readonly allowLoopback: boolean;
}

/** The deployed rule with PagerDuty's hosts only (what the API and notify functions use unless told more). */
export const DEPLOYED_PAGERDUTY_URLS: PagerDutyUrlPolicy = { hosts: PAGERDUTY_EVENTS_HOSTS, allowLoopback: false };

/** `host` or `host:port`: letters, digits, hyphens, dots. */
const HOST_ENTRY = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]{1,5})?$/;

/**
 * Parses an allowlist as an operator writes it (`a.example.com,b.example.com`, commas or spaces) into
 * lower-case entries. Throws, quoting the entry, on anything that is not a host name (a URL, a path, a
 * wildcard): the list is compared with the URL's host as is.
 */
export function parsePagerDutyHosts(value: string | readonly string[]): string[] {
  const entries = (typeof value === 'string' ? value.split(/[\s,]+/) : value).map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  for (const entry of entries) {
    if (!HOST_ENTRY.test(entry)) throw new Error(`invalid PagerDuty host: expected a host name such as events.example.com, got ${JSON.stringify(entry)}`);
  }
  return [...new Set(entries)];
}

/** PagerDuty's hosts plus `extra` (deduplicated, lower case). */
export function withPagerDutyHosts(extra: string | readonly string[] | undefined): string[] {
  return parsePagerDutyHosts([...PAGERDUTY_EVENTS_HOSTS, ...(extra === undefined ? [] : parsePagerDutyHosts(extra))]);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Why `apiUrl` may not receive a service key under `policy`, or undefined when it may. */
export function pagerDutyUrlProblem(apiUrl: string, policy: PagerDutyUrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return 'is not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (user:password@)';
  if (url.search !== '' || url.hash !== '') return 'must not carry a query or a fragment';
  const allowed = policy.hosts.join(', ');
  if (policy.allowLoopback && isLoopback(url.hostname)) {
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must be an http(s) URL';
  }
  if (url.protocol !== 'https:') return `must be https on a PagerDuty Events API host (${allowed})`;
  // URL drops the default port (443), so `host` is the name alone unless another port is given.
  if (!policy.hosts.includes(url.host)) {
    return `must be on a PagerDuty Events API host (${allowed}${policy.allowLoopback ? ', or loopback' : ''}); got ${JSON.stringify(url.host)}`;
  }
  return undefined;
}

/** One problem naming `notifications.N.pagerduty.api_url` for each notification whose `api_url` breaks `policy`. */
export function pagerDutyUrlProblems(notifications: readonly Notification[] | undefined, policy: PagerDutyUrlPolicy): FieldError[] {
  return (notifications ?? []).flatMap((n, i) => {
    const problem = n.pagerduty && pagerDutyUrlProblem(n.pagerduty.api_url, policy);
    return problem ? [{ code: 'invalid_field', message: `api_url ${problem}`, field: `notifications.${i}.pagerduty.api_url` }] : [];
  });
}

/**
 * The endpoint an `api_url` names, for comparing two of them: `https://events.pagerduty.com`,
 * `https://events.pagerduty.com/` and `https://EVENTS.pagerduty.com/v2/enqueue` are one endpoint.
 */
export function enqueueUrl(apiUrl: string): string {
  let base = apiUrl;
  try {
    base = new URL(apiUrl).href;
  } catch {
    // not a URL: compared as written (it will be refused anyway)
  }
  base = base.replace(/\/+$/, '');
  return base.endsWith('/v2/enqueue') ? base : `${base}/v2/enqueue`;
}
