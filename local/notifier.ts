/**
 * Notifications in local mode: the same {@link Notifier} as deployed, with emails going to the outbox
 * (`$SUNDIAL_DATA_DIR/outbox`), PagerDuty events to each definition's `api_url` and webhooks to their
 * `url` (point them at a local receiver to see them: unlike deployed, loopback URLs are allowed, see
 * {@link localPagerDutyUrls} and `LOCAL_WEBHOOK_URLS`).
 * Links to runs go to the local console's run page, served at the same base URL. It works in the background so that ending a run never waits for a delivery
 * and its retries, one run ending after the other per definition, so that a trigger and the resolve
 * that follows it reach PagerDuty in order.
 */
import { join } from 'node:path';
import { PagerDutyEventsClient } from '../lambdas/adapters/pagerduty';
import { WebhookClient } from '../lambdas/adapters/webhook';
import type { RunListener } from '../lambdas/engine/ports';
import { pagerDutyUrlsFromEnv } from '../lambdas/functions/environment';
import type { Logger } from '../lambdas/logger';
import type { PagerDutyUrlPolicy } from '../lambdas/domain/pagerduty-url';
import { Notifier, type RunEnded } from '../lambdas/notify/notifier';
import { consoleRunLink } from '../lambdas/notify/render';
import type { RetryOptions } from '../lambdas/notify/retry';
import { LOCAL_WEBHOOK_URLS } from '../lambdas/domain/webhook-url';
import type { Store } from '../lambdas/store';
import { runAs } from './function-context';
import { LOCAL_SENDER, OutboxEmailSender } from './outbox';

export interface LocalNotifierOptions {
  store: Store;
  /** Emails go to `<dataDir>/outbox`; undefined (in-memory mode): emails are logged only. */
  dataDir?: string;
  /** One line per email and per failure. */
  log: (line: string) => void;
  /** Base URL of the API and console, for links to runs (a function: the port is known only once the server listens). */
  publicUrl: string | (() => string);
  /** Where PagerDuty events may go. @default {@link localPagerDutyUrls} */
  pagerDutyUrls?: PagerDutyUrlPolicy;
  /** Structured logger for decisions and deliveries. @default lines through `log` */
  logger?: Logger;
  /** @default LOCAL_SENDER */
  from?: string;
  /** @default 4 attempts, 1 s base backoff */
  retry?: RetryOptions;
}

/** A RunListener that notifies in the background; `drain()` waits for what is under way (call it before closing the store). */
export interface LocalNotifier extends RunListener {
  drain(): Promise<void>;
  readonly outboxDir: string | undefined;
}

/**
 * The local mode's PagerDuty URL rule: the deployed one (PagerDuty's hosts, plus `SUNDIAL_PAGERDUTY_HOSTS`)
 * and loopback, over http or https, so that a receiver on this machine can stand in for PagerDuty.
 * Link-local, private and other hosts stay refused, and so do credentials in the URL.
 */
export function localPagerDutyUrls(): PagerDutyUrlPolicy {
  return pagerDutyUrlsFromEnv(true);
}

function lineLogger(log: (line: string) => void): Logger {
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    log(`${level} ${message}${extra ? ` ${JSON.stringify(extra)}` : ''}`);
  return { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') };
}

/** The local mode's notifier (see the module comment). */
export function createLocalNotifier(options: LocalNotifierOptions): LocalNotifier {
  const outboxDir = options.dataDir === undefined ? undefined : join(options.dataDir, 'outbox');
  const logger = options.logger ?? lineLogger(options.log);
  const baseUrl = typeof options.publicUrl === 'function' ? options.publicUrl : () => options.publicUrl as string;
  const notifier = new Notifier({
    store: options.store,
    email: { sender: new OutboxEmailSender(outboxDir, options.log), from: options.from ?? LOCAL_SENDER },
    pagerduty: new PagerDutyEventsClient({ urls: options.pagerDutyUrls ?? localPagerDutyUrls() }),
    webhook: new WebhookClient({ urls: LOCAL_WEBHOOK_URLS }),
    runUrl: (id) => consoleRunLink(baseUrl(), id),
    logger,
    retry: options.retry,
  });
  const queues = new Map<string, Promise<void>>();
  return {
    outboxDir,
    async runEnded(run: RunEnded) {
      const previous = queues.get(run.process_definition_name) ?? Promise.resolve();
      const next = previous
        // Deployed, the notify function does this (lambdas/functions/notify.ts).
        .then(() => runAs('notify', () => notifier.notify(run)))
        .then(
          () => undefined,
          (err: Error) => options.log(`error notifications of run ${run.process_id} failed: ${err.message}`),
        );
      queues.set(run.process_definition_name, next);
      void next.then(() => {
        if (queues.get(run.process_definition_name) === next) queues.delete(run.process_definition_name);
      });
    },
    async drain() {
      while (queues.size > 0) await Promise.all([...queues.values()]);
    },
  };
}
