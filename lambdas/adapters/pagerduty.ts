/**
 * PagerDuty Events API v2 over fetch: `POST {api_url}/v2/enqueue`, with a timeout. The same client runs
 * deployed and locally (where `api_url` may point at a local receiver). 202 is success; 429 and 5xx are
 * worth retrying, other 4xx are not (the event or the routing key is wrong).
 *
 * The routing key is in the body, so the client guards where the body goes: `api_url` is checked
 * against the URL rule before every request (../domain/pagerduty-url.ts: a definition stored before the
 * rule existed may carry any URL), redirects are not followed (a 3xx would send the key on to a host the
 * rule never saw), and an answer's body is never read into an error or a log (it may echo the key or
 * whatever a hostile endpoint chose to put there): the status code says enough.
 */
import { enqueueUrl, type PagerDutyUrlPolicy, pagerDutyUrlProblem } from '../domain/pagerduty-url';
import { DeliveryError, type PagerDutyEvent, type PagerDutySender } from '../notify/ports';

export { enqueueUrl } from '../domain/pagerduty-url';

export interface PagerDutyClientOptions {
  /** Where events may be sent (the deployed rule, or the local one that adds loopback). */
  urls: PagerDutyUrlPolicy;
  /** Longest one request may take. @default 10000 */
  timeoutMs?: number;
}

export class PagerDutyEventsClient implements PagerDutySender {
  private readonly timeoutMs: number;
  private readonly urls: PagerDutyUrlPolicy;

  constructor(options: PagerDutyClientOptions) {
    this.urls = options.urls;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async send(apiUrl: string, event: PagerDutyEvent): Promise<void> {
    const refused = pagerDutyUrlProblem(apiUrl, this.urls);
    if (refused) throw new DeliveryError(`PagerDuty api_url refused, nothing sent: api_url ${refused}`, false);
    const url = enqueueUrl(apiUrl);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(event),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `${e.message}${e.cause ? ` (${(e.cause as Error).message ?? e.cause})` : ''}`;
      throw new DeliveryError(`PagerDuty ${url}: ${why}`, true);
    }
    // Unread, the body would hold the connection open; its content is never looked at.
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return;
    if (res.status >= 300 && res.status < 400) {
      throw new DeliveryError(`PagerDuty ${url} answered ${res.status} (a redirect: not followed, the event was not delivered)`, false);
    }
    throw new DeliveryError(`PagerDuty ${url} answered ${res.status}`, res.status === 429 || res.status === 408 || res.status >= 500);
  }
}
