/** Delivery retries: backoff with full jitter, no retry of permanent errors, never a throw. */
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../../lambdas/notify/ports';
import { deliverWithRetry } from '../../lambdas/notify/retry';

/** A sender that fails with `errors` in turn, then succeeds; and the waits asked for. */
function flaky(errors: Error[]) {
  const waits: number[] = [];
  let calls = 0;
  return {
    waits,
    calls: () => calls,
    send: async () => {
      calls++;
      const err = errors.shift();
      if (err) throw err;
    },
    options: { attempts: 4, baseDelayMs: 100, maxDelayMs: 250, sleep: async (ms: number) => void waits.push(ms), random: () => 0.999 },
  };
}

describe('deliverWithRetry', () => {
  it('retries transient errors with doubling waits, capped, and reports the attempts', async () => {
    // Prepare
    const s = flaky([new DeliveryError('503', true), new Error('socket hang up'), new DeliveryError('429', true)]);

    // Act
    const result = await deliverWithRetry(s.send, s.options);

    // Assess
    expect(result).toEqual({ ok: true, attempts: 4 });
    expect(s.waits).toEqual([100, 200, 250]);
  });

  it('stops at the first permanent error', async () => {
    // Prepare
    const s = flaky([new DeliveryError('400 invalid routing key', false)]);

    // Act
    const result = await deliverWithRetry(s.send, s.options);

    // Assess
    expect(result).toEqual({ ok: false, attempts: 1, error: '400 invalid routing key' });
    expect(s.waits).toEqual([]);
  });

  it('gives up after its attempts without throwing', async () => {
    // Prepare
    const s = flaky(Array.from({ length: 10 }, () => new DeliveryError('500', true)));

    // Act
    const result = await deliverWithRetry(s.send, s.options);

    // Assess
    expect(result).toEqual({ ok: false, attempts: 4, error: '500' });
    expect(s.calls()).toBe(4);
  });

  it('waits a random share of the backoff (full jitter)', async () => {
    // Prepare
    const s = flaky([new DeliveryError('503', true)]);

    // Act
    await deliverWithRetry(s.send, { ...s.options, random: () => 0.5 });

    // Assess
    expect(s.waits).toEqual([50]);
  });
});
