/**
 * Webhook notifications over node:http(s): `POST {url}` with the JSON body, within a timeout. The same
 * client runs deployed and locally (where loopback is allowed). 2xx is success; 408, 429 and 5xx are
 * worth retrying, other 4xx are not; a 3xx is a failed delivery, not followed (the body, and its
 * signature, would go on to a host the rule never saw).
 *
 * Where the body goes is guarded at each delivery (../domain/webhook-url.ts): the URL is checked
 * again (a definition stored before the rule existed may carry any), the host name is resolved, every
 * address it resolves to must be public, and the connection goes to the addresses that were checked
 * (the request's `lookup` answers them), so that a name answering a public address to the check and
 * a private one to the connection (DNS rebinding) reaches nothing. That is why this client uses
 * node:http(s) and not fetch: Node's fetch takes no resolver without the undici package.
 *
 * The URL may carry a token (Slack's and Teams' do): errors name it masked. An answer's body is never
 * read: the status code says enough, and the body may echo whatever a hostile endpoint chose.
 */
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { DeliveryError, type WebhookRequest, type WebhookSender } from '../notify/ports';
import { maskUrl } from '../domain/notification-secrets';
import { addressKind, addressProblem, bareHost, type WebhookUrlPolicy, webhookUrlProblem } from '../domain/webhook-url';

/** Every address a host name resolves to. */
export type Resolve = (host: string) => Promise<LookupAddress[]>;

export interface WebhookClientOptions {
  /** Where webhooks may go (the deployed rule, or the local one that adds loopback). */
  urls: WebhookUrlPolicy;
  /** Longest one request may take, connection included. @default 10000 */
  timeoutMs?: number;
  /** @default node:dns lookup, every address */
  resolve?: Resolve;
}

const resolveAll: Resolve = (host) => lookup(host, { all: true, verbatim: true });

export class WebhookClient implements WebhookSender {
  private readonly urls: WebhookUrlPolicy;
  private readonly timeoutMs: number;
  private readonly resolve: Resolve;

  constructor(options: WebhookClientOptions) {
    this.urls = options.urls;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.resolve = options.resolve ?? resolveAll;
  }

  async send({ url, body, headers }: WebhookRequest): Promise<void> {
    const shown = maskUrl(url);
    const refused = webhookUrlProblem(url, this.urls);
    if (refused) throw new DeliveryError(`webhook ${shown} refused, nothing sent: url ${refused}`, false);
    const target = new URL(url);
    const addresses = await this.addresses(target, shown);
    const status = await this.post(target, addresses, body, headers, shown);
    if (status >= 200 && status < 300) return;
    if (status >= 300 && status < 400) {
      throw new DeliveryError(`webhook ${shown} answered ${status} (a redirect: not followed, the notification was not delivered)`, false);
    }
    throw new DeliveryError(`webhook ${shown} answered ${status}`, status === 408 || status === 429 || status >= 500);
  }

  /** The addresses to connect to, every one of them allowed; throws when one is not (not retried). */
  private async addresses(target: URL, shown: string): Promise<LookupAddress[]> {
    const host = bareHost(target);
    let addresses: LookupAddress[];
    if (isIP(host) !== 0) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await this.resolve(host);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        // A name that does not exist will not exist on the next attempt; a resolver that did not answer may.
        throw new DeliveryError(`webhook ${shown}: ${host} could not be resolved (${code})`, code !== 'ENOTFOUND');
      }
      if (addresses.length === 0) throw new DeliveryError(`webhook ${shown}: ${host} resolves to no address`, true);
    }
    for (const { address } of addresses) {
      // Plain http passed the URL rule as loopback (a `localhost` name, locally): it must stay on this machine.
      const problem = target.protocol === 'http:' && addressKind(address) !== 'loopback' ? 'not a loopback address (http is for loopback only)' : addressProblem(address, this.urls);
      if (problem) throw new DeliveryError(`webhook ${shown} refused, nothing sent: ${host} resolves to ${address}, ${problem}`, false);
    }
    return addresses;
  }

  /** POSTs `body` to `target` over a new connection to `addresses`; answers the status code. */
  private post(target: URL, addresses: LookupAddress[], body: string, headers: Record<string, string>, shown: string): Promise<number> {
    // The connection resolves the name through this, to the addresses just checked and nowhere else.
    const pinned: LookupFunction = (_host, options, callback) => {
      const first = addresses[0] as LookupAddress;
      if (options.all) (callback as (err: null, all: LookupAddress[]) => void)(null, addresses);
      else callback(null, first.address, first.family);
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<number>((resolve, reject) => {
      const req = send(
        {
          method: 'POST',
          hostname: bareHost(target),
          ...(target.port ? { port: Number(target.port) } : {}),
          path: `${target.pathname}${target.search}`,
          headers: { 'content-type': 'application/json', 'user-agent': 'Sundial', 'content-length': String(Buffer.byteLength(body)), ...headers },
          lookup: pinned,
          // A connection of its own: a pooled one could have been opened to an address checked for another delivery.
          agent: false,
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          // Unread, and closed at once: a hostile endpoint could stream an answer for ever.
          res.destroy();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        const why = err.name === 'AbortError' ? `no answer within ${this.timeoutMs} ms` : err.message;
        reject(new DeliveryError(`webhook ${shown}: ${why}`, true));
      });
      req.end(body);
    });
  }
}
