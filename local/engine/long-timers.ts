/**
 * Timers longer than Node allows. Node's `setTimeout` holds at most 2^31-1 ms (24.8 days): a longer
 * delay is set to 1 ms ("TimeoutOverflowWarning"), so the local interpreter's Wait of a 30-day backoff, or a
 * Task state's `TimeoutSeconds` of a year, would end at once. Step Functions honours both (a Wait up to
 * 99,999,999 s, a Standard execution up to a year). The interpreter (aws-local-stepfunctions) sleeps and
 * times out with the global `setTimeout` and offers no hook for it, so the local runtime makes the global
 * one chunk such delays: the timer re-arms itself (`refresh()`) in equal chunks under the limit, and is
 * the same `Timeout` object throughout, so `clearTimeout`, `unref` and `ref` work as before. Shorter delays
 * are untouched.
 */

/** The longest delay a Node timer holds (https://nodejs.org/api/timers.html#settimeoutcallback-delay-args). */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The part of the timer API this module wraps (the global one, or a recording one in tests). */
export interface TimerApi {
  setTimeout: (callback: (...args: any[]) => void, ms?: number, ...args: any[]) => { refresh(): unknown };
}

const installed = Symbol.for('sundial.longTimers');

/** A `setTimeout` that takes delays past {@link MAX_TIMER_DELAY_MS}, built on `original`. */
export function longSetTimeout<T extends TimerApi['setTimeout']>(original: T): T {
  const wrapped = (callback: (...args: any[]) => void, ms?: number, ...args: any[]) => {
    if (typeof ms !== 'number' || !(ms > MAX_TIMER_DELAY_MS)) return original(callback, ms, ...args);
    const chunks = Math.ceil(ms / MAX_TIMER_DELAY_MS);
    let left = chunks;
    const timer = original(() => {
      left -= 1;
      if (left > 0) timer.refresh();
      else callback(...args);
    }, Math.ceil(ms / chunks));
    return timer;
  };
  // Keep what hangs on the original (util.promisify.custom, __promisify__).
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(original, key) as PropertyDescriptor);
  }
  return Object.assign(wrapped, { [installed]: true }) as unknown as T;
}

/** Makes the global `setTimeout` take long delays (once per process; idempotent). */
export function installLongTimers(): void {
  const current = globalThis.setTimeout as typeof globalThis.setTimeout & { [installed]?: boolean };
  if (current[installed]) return;
  globalThis.setTimeout = longSetTimeout(current) as typeof globalThis.setTimeout;
}
