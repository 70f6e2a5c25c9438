/**
 * Signing of webhook bodies, as Stripe signs its webhooks: an HMAC-SHA256, keyed with the notification's
 * `secret`, over `<timestamp>.<body>`, where the timestamp (unix seconds) travels in its own header. The
 * receiver recomputes it over the raw body it got, compares in constant time, and refuses a timestamp too
 * far from its clock, so that a body captured on the way cannot be replayed later (docs/NOTIFICATIONS.md
 * has a verifier). Each attempt of a delivery is signed anew, with the time it is sent.
 */
import { createHmac } from 'node:crypto';

/** Unix seconds at which the body was signed. */
export const TIMESTAMP_HEADER = 'X-Sundial-Timestamp';

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'X-Sundial-Signature';

/** `sha256=<hex>`: the signature of `body` sent at `timestamp` (unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The signature headers of `body` sent at `now`; none without a secret. */
export function signatureHeaders(secret: string | undefined, body: string, now: Date): Record<string, string> {
  if (secret === undefined) return {};
  const timestamp = Math.floor(now.getTime() / 1000);
  return { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body) };
}
