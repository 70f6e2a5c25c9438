/**
 * Where a webhook notification may POST. A webhook URL is chosen by whoever may PUT a definition, and
 * the notify function runs inside the account: a URL on a private or link-local address would turn it
 * into a way to reach what only the account's network should (the instance metadata service at
 * 169.254.169.254, a VPC's hosts). So, deployed, only `https` to public addresses: the API refuses an
 * IP literal or `localhost` that is not public at PUT (400), and the sender (lambdas/adapters/webhook.ts)
 * resolves the name before each delivery, refuses it if any address is not public, and connects to the
 * address it checked. Locally, loopback is allowed too, over http or https, for a receiver on the
 * developer's machine. Never credentials in the URL (`user:pass@`; the `secret` signs instead) and never
 * a fragment (it is not sent).
 */
import { BlockList, isIP } from 'node:net';
import type { FieldError } from './errors';
import type { Notification } from './models';

/** Which webhook URLs are allowed. */
export interface WebhookUrlPolicy {
  /** Local mode: loopback (`localhost`, 127.0.0.0/8, `[::1]`) over http or https too. */
  readonly allowLoopback: boolean;
}

/** Deployed: https to public addresses only. */
export const DEPLOYED_WEBHOOK_URLS: WebhookUrlPolicy = { allowLoopback: false };

/** Local mode: the deployed rule and loopback. */
export const LOCAL_WEBHOOK_URLS: WebhookUrlPolicy = { allowLoopback: true };

/** Ranges that are not public, each with what it is. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) matches the IPv4 range. */
const RANGES: ReadonlyArray<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['0.0.0.0', 8, 'ipv4', '"this network"'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (carrier-grade NAT)'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'], // the instance metadata service is 169.254.169.254
  ['192.0.0.0', 24, 'ipv4', 'reserved (IETF protocol assignments)'],
  ['198.18.0.0', 15, 'ipv4', 'reserved (benchmarking)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fec0::', 10, 'ipv6', 'private (site-local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  ['64:ff9b:1::', 48, 'ipv6', 'private (local-use NAT64)'],
];

const LISTS = RANGES.map(([network, prefix, type, what]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, type);
  return { list, what };
});

/** The well-known NAT64 prefix (RFC 6052; Route 53 Resolver's DNS64 answers it): the IPv4 address is its last 32 bits. */
const NAT64 = new BlockList();
NAT64.addSubnet('64:ff9b::', 96, 'ipv6');

/** The IPv4 address a NAT64 address stands for, or undefined for any other address. */
function nat64Embedded(ip: string): string | undefined {
  if (isIP(ip) !== 6 || !NAT64.check(ip, 'ipv6')) return undefined;
  // The URL parser writes the address compressed: the prefix's zero groups are always the ones elided.
  const groups = new URL(`http://[${ip}]`).hostname.slice(1, -1).split(':');
  const [high = 0, low = 0] = groups.slice(-2).map((g) => Number.parseInt(g === '' ? '0' : g, 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** What kind of non-public address `ip` is (`loopback`, `private`, …), or undefined for a public one. */
export function addressKind(ip: string): string | undefined {
  const embedded = nat64Embedded(ip);
  if (embedded !== undefined) return addressKind(embedded);
  const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  return LISTS.find(({ list }) => list.check(ip, type))?.what;
}

/** Why the server at `ip` may not receive a webhook under `policy` (`a private address, …`), or undefined when it may. */
export function addressProblem(ip: string, policy: WebhookUrlPolicy): string | undefined {
  const kind = addressKind(ip);
  if (kind === undefined || (kind === 'loopback' && policy.allowLoopback)) return undefined;
  return `a ${kind} address, not a public one`;
}

/** The URL's host without IPv6 brackets or a final dot: what a resolver or a range check takes. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** `localhost` and its subdomains are loopback by definition (RFC 6761), whatever a resolver says. */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/**
 * Why `url` may not receive webhooks under `policy`, or undefined when it may as far as the URL alone
 * tells: a name that is not `localhost` is checked when it is resolved, before each delivery.
 */
export function webhookUrlProblem(url: string, policy: WebhookUrlPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.username !== '' || u.password !== '') return 'must not carry credentials (user:password@); sign with secret instead';
  if (u.hash !== '') return 'must not carry a fragment';
  const host = bareHost(u);
  const loopback = isLocalhostName(host) || (isIP(host) !== 0 && addressKind(host) === 'loopback');
  if (loopback && policy.allowLoopback) return undefined;
  if (u.protocol !== 'https:') return `must be https${policy.allowLoopback ? ' (http only on loopback)' : ''}`;
  if (isLocalhostName(host)) return `must be on a public host; ${JSON.stringify(host)} is loopback`;
  const problem = isIP(host) === 0 ? undefined : addressProblem(host, policy);
  return problem === undefined ? undefined : `must be on a public host; ${host} is ${problem}`;
}

/** One problem naming `notifications.N.webhook.url` for each webhook whose `url` breaks `policy`. */
export function webhookUrlProblems(notifications: readonly Notification[] | undefined, policy: WebhookUrlPolicy): FieldError[] {
  return (notifications ?? []).flatMap((n, i) => {
    const problem = n.webhook && webhookUrlProblem(n.webhook.url, policy);
    return problem ? [{ code: 'invalid_field', message: `url ${problem}`, field: `notifications.${i}.webhook.url` }] : [];
  });
}
