/**
 * What the callback routes need from the outside world: the store, the task-token key, the clock and the
 * logger. The callbacks function builds only this (lambdas/functions/wiring.ts): it is the function every
 * running task calls, and its cold start should not load the engine, the schedules and their AWS
 * adapters (docs/PERFORMANCE.md). The operator API's services extend it (../api/ports.ts).
 */
import type { Logger } from '../logger';
import type { Store } from '../store';

export interface CallbackServices {
  store: Store;
  /** The HMAC key of task callback tokens. */
  tokenKey: () => Promise<Buffer>;
  now: () => Date;
  logger: Logger;
}
