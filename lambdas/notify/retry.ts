/**
 * Delivery with retries: exponential backoff with full jitter between attempts, no retry for errors
 * that say retrying cannot help (a {@link DeliveryError} with `retryable: false`, e.g. a 400 from
 * PagerDuty or an SES `MessageRejected`).
 */
import { DeliveryError } from './ports';

/** How deliveries are retried. */
export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  attempts?: number;
  /** Upper bound of the wait before the second attempt, doubled for each further one. @default 1000 */
  baseDelayMs?: number;
  /** Longest wait between two attempts. @default 10000 */
  maxDelayMs?: number;
  /** Waits; tests make it instant. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
}

/** What a delivery came to. */
export type DeliveryResult = { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True when another attempt may succeed. Anything that is not a DeliveryError is taken as transient. */
export function isRetryable(err: unknown): boolean {
  return err instanceof DeliveryError ? err.retryable : true;
}

/**
 * Runs `send` until it succeeds, it fails with an error that is not retryable, or the attempts run out.
 * Never throws: the caller logs and counts what could not be delivered.
 */
export async function deliverWithRetry(send: (attempt: number) => Promise<void>, options: RetryOptions = {}): Promise<DeliveryResult> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 10_000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  let lastError = 'no attempt was made';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await send(attempt);
      return { ok: true, attempts: attempt };
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      if (!isRetryable(err) || attempt === attempts) return { ok: false, attempts: attempt, error: lastError };
      // Full jitter: retries of many runs failing together do not hammer the endpoint in step.
      await sleep(Math.round(random() * Math.min(max, base * 2 ** (attempt - 1))));
    }
  }
  return { ok: false, attempts, error: lastError };
}
