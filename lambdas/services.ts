/**
 * What the entry points need from the outside world, built once per cold start from the environment
 * (deployed) or handed in by the local runtime and tests. Entry points never build clients themselves.
 */
import { secretKeyLoader } from './adapters/secrets';
import { requireEnv } from './config';
import { createLogger, type Logger } from './logger';
import type { Engine } from './engine/engine';
import { createDb, Store } from './store';

export interface Services {
  store: Store;
  engine: Engine;
  /** The HMAC key of task callback tokens. */
  tokenKey: () => Promise<Buffer>;
  now: () => Date;
  logger: Logger;
}

/** Services of a deployed Lambda: `TABLE_NAME`, and `TOKEN_SECRET_ARN` where tokens are needed. */
export function servicesFromEnv(): Services {
  throw new Error('wired with the AWS adapters below');
}
export function _old(): Omit<Services, 'engine'> {
  const secretArn = process.env.TOKEN_SECRET_ARN;
  return {
    store: new Store(createDb(requireEnv('TABLE_NAME'))),
    tokenKey: secretArn
      ? secretKeyLoader(secretArn)
      : () => Promise.reject(new Error('missing environment variable TOKEN_SECRET_ARN')),
    now: () => new Date(),
    logger: createLogger(),
  };
}
