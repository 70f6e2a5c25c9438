/**
 * What the notifier needs from the outside world: an email sender (SES deployed, the outbox locally),
 * a PagerDuty Events API v2 client and a webhook client (the same ones in both runtimes, with the local
 * runtime's URL rules).
 */

/** One email: one message per run per recipient list, in plain text and HTML. */
export interface EmailMessage {
  /** The From address (the sender configured at deploy time; locally a placeholder). */
  from: string;
  /** Every recipient of this message (the definition's email notifications that decided to send). */
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Stable per run ending, so an outbox or a log can tell a replay from a new message. */
  id: string;
  /** When the run ended (the message's Date). */
  date: string;
}

/** Sends one email; throws a {@link DeliveryError} (or anything else, then retried) when it could not. */
export interface EmailSender {
  send(message: EmailMessage): Promise<void>;
}

/** A PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/overview/). */
export interface PagerDutyEvent {
  /** The integration's routing key: the definition's `service_key`. A secret: never logged. */
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  /** One per definition, so that repeated failures update one incident and a success resolves it. */
  dedup_key: string;
  /** Required on trigger only. */
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: Array<{ href: string; text: string }>;
}

/** Sends one event to `${apiUrl}/v2/enqueue`. */
export interface PagerDutySender {
  send(apiUrl: string, event: PagerDutyEvent): Promise<void>;
}

/** One webhook POST: the JSON body as sent (signatures are over these bytes) and the headers it carries. */
export interface WebhookRequest {
  /** A secret (Slack's and Teams' URLs carry their token): logs and errors show it masked only. */
  url: string;
  body: string;
  /** The signature headers, when the notification has a `secret`. */
  headers: Record<string, string>;
}

/** POSTs one webhook; throws a {@link DeliveryError} (or anything else, then retried) when it could not. */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<void>;
}

/** A delivery that failed; `retryable` says whether trying again may help (5xx, 429, network, throttling). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
