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

/**
 * The addresses that are not public, by what they are, IPv4 and IPv6 alike (the ranges do not overlap).
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) matches the IPv4 range.
 */
const NOT_PUBLIC: ReadonlyArray<[what: string, ranges: string[]]> = [
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['"this network"', ['0.0.0.0/8']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
  ['shared (carrier-grade NAT)', ['100.64.0.0/10']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']], // the instance metadata service is 169.254.169.254
  ['reserved (IETF protocol assignments)', ['192.0.0.0/24']],
  ['reserved (benchmarking)', ['198.18.0.0/15']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['reserved', ['240.0.0.0/4']],
  ['unspecified', ['::/128']],
  ['private (unique local)', ['fc00::/7']],
  ['private (site-local)', ['fec0::/10']],
  ['private (local-use NAT64)', ['64:ff9b:1::/48']],
];

/** One BlockList of CIDR `ranges`, each IPv4 or IPv6 as its address is. */
function blockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [network = '', prefix] = range.split('/');
    list.addSubnet(network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

const LISTS = NOT_PUBLIC.map(([what, ranges]) => ({ list: blockList(ranges), what }));

/** The well-known NAT64 prefix (RFC 6052; Route 53 Resolver's DNS64 answers it): the IPv4 address is its last 32 bits. */
const NAT64 = blockList(['64:ff9b::/96']);

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
