/** Structured JSON logs (Powertools) behind a small interface the local mode and tests can replace. */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export function createLogger(serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'sundial'): Logger {
  const log = new PowertoolsLogger({ serviceName });
  return {
    debug: (m, extra) => log.debug(m, extra ?? {}),
    info: (m, extra) => log.info(m, extra ?? {}),
    warn: (m, extra) => log.warn(m, extra ?? {}),
    error: (m, extra) => log.error(m, extra ?? {}),
  };
}
