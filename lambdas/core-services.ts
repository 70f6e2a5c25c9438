/**
 * The part of {@link Services} (./services.ts) that every entry point shares: the store, the task-token
 * key, the clock and the logger. The callbacks function needs nothing more, and builds only this: it is
 * the function every running task calls, and its cold start should not load the engine, the schedules
 * and their AWS adapters (docs/PERFORMANCE.md).
 */
import { secretKeyLoader } from './adapters/secrets';
import { requireEnv } from './config';
import { createLogger, type Logger } from './logger';
import { createDb, Store } from './store';

export interface CoreServices {
  store: Store;
  /** The HMAC key of task callback tokens. */
  tokenKey: () => Promise<Buffer>;
  now: () => Date;
  logger: Logger;
}

/** {@link CoreServices} of a deployed Lambda: `TABLE_NAME` at once; `TOKEN_SECRET_ARN` when a token is checked. */
export function coreServicesFromEnv(): CoreServices {
  let key: (() => Promise<Buffer>) | undefined;
  return {
    store: new Store(createDb(requireEnv('TABLE_NAME'))),
    tokenKey: () => (key ??= secretKeyLoader(requireEnv('TOKEN_SECRET_ARN')))(),
    now: () => new Date(),
    logger: createLogger(),
  };
}
