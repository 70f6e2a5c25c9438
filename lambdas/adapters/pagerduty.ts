/**
 * PagerDuty Events API v2 over fetch: `POST {api_url}/v2/enqueue`, with a timeout. The same client runs
 * deployed and locally (where `api_url` may point at a local receiver). 202 is success; 429 and 5xx are
 * worth retrying, other 4xx are not (the event or the routing key is wrong).
 */
import { DeliveryError, type PagerDutyEvent, type PagerDutySender } from '../notify/ports';

/** `api_url` as definitions give it (`https://events.pagerduty.com`) → the enqueue endpoint. */
export function enqueueUrl(apiUrl: string): string {
  const base = apiUrl.replace(/\/+$/, '');
  return base.endsWith('/v2/enqueue') ? base : `${base}/v2/enqueue`;
}

export interface PagerDutyClientOptions {
  /** Longest one request may take. @default 10000 */
  timeoutMs?: number;
}

export class PagerDutyEventsClient implements PagerDutySender {
  private readonly timeoutMs: number;

  constructor(options: PagerDutyClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async send(apiUrl: string, event: PagerDutyEvent): Promise<void> {
    const url = enqueueUrl(apiUrl);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `${e.message}${e.cause ? ` (${(e.cause as Error).message ?? e.cause})` : ''}`;
      throw new DeliveryError(`PagerDuty ${url}: ${why}`, true);
    }
    const body = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) return;
    // The answer may echo the event: keep the routing key out of the error (it ends up in logs).
    const detail = body.split(event.routing_key).join('****').slice(0, 300);
    throw new DeliveryError(`PagerDuty ${url} answered ${res.status}${detail ? `: ${detail}` : ''}`, res.status === 429 || res.status === 408 || res.status >= 500);
  }
}
