/**
 * Sundial on one machine: the embedded DynamoDB, the same route tables the Lambdas serve, one HTTP
 * server on loopback. `startLocal` is what `npm start` and the integration tests run.
 */
import './polyfills';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { operatorRoutes } from '../lambdas/api/routes';
import { callbackRoutes } from '../lambdas/callbacks/routes';
import { Engine, type EngineDeps } from '../lambdas/engine/engine';
import { type FanOutSteps, fanOutStepsFor } from '../lambdas/engine/fan-out-steps';
import { type Preparation, preparationFor } from '../lambdas/engine/prepare';
import { Schedules } from '../lambdas/engine/schedules';
import { UpstreamRuns } from '../lambdas/engine/upstream';
import { Definitions } from '../lambdas/engine/definitions';
import { createRouter } from '../lambdas/http/router';
import type { Logger } from '../lambdas/logger';
import type { Services } from '../lambdas/api/ports';
import { Reaper } from '../lambdas/engine/reaper';
import type { ListRunningExecutions } from '../lambdas/engine/ports';
import { SFN_LIST_EXECUTIONS_MAX_RESULTS } from '../lambdas/domain/aws-limits';
import { retentionDaysFromEnv } from '../lambdas/functions/environment';
import { LOCAL_WEBHOOK_URLS } from '../lambdas/domain/webhook-url';
import { Store } from '../lambdas/store';
import { withConsole } from './console';
import { LocalFanOuts } from './fan-outs';
import { matchesRoutes, runAs } from './function-context';
import { startDynamo } from './dynalite';
import { loadTaskDefinition } from './engine/asl';
import { LocalExecutor } from './engine/executor';
import { LocalOrchestrator } from './engine/orchestrator';
import { nodeListener } from './http-adapter';
import { createLocalNotifier, localPagerDutyUrls } from './notifier';
import { LocalScheduler } from './scheduler';
import { LocalSweeper } from './sweeper';
import { loadOrCreateTokenKey } from './token-key';

export interface LocalOptions {
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** Where data lives; undefined keeps everything in memory. */
  dataDir?: string;
  /** One line per request and lifecycle event. @default console.log */
  log?: (line: string) => void;
  /** Days a finished run is kept (lambdas/domain/retention.ts). @default SUNDIAL_RETENTION_DAYS, else 90 */
  retentionDays?: number;
  /** Tests only: intervals shorter than EventBridge Scheduler's minute (local/scheduler.ts). @default 60 */
  schedulerMinIntervalSeconds?: number;
  /** Tests only: the clock every service reads, so that a test moves it on instead of waiting for it. @default the system clock */
  now?: () => Date;
}

export interface LocalSundial {
  url: string;
  /** The embedded store's DynamoDB endpoint on loopback, for any DynamoDB client (`aws dynamodb … --endpoint-url`). */
  storeEndpoint: string;
  /** Settles if the embedded store stops by itself (its thread crashed): nothing can be stored from then on. */
  storeFailed: Promise<Error>;
  services: Services;
  orchestrator: LocalOrchestrator;
  /** The engine's `Prepare` (prepare.ts `preparationFor`), which the local state machine's Prepare state calls. */
  preparation: Preparation;
  /** The steps of the engine's fan-outs (fan-out-steps.ts `fanOutStepsFor`), which the background runs as the engine function. */
  fanOutSteps: FanOutSteps;
  /** The in-process scheduler (timers of cron, interval and continuous schedules). */
  scheduler: LocalScheduler;
  /** The minutely sweep: reaper of lost attempts and retention (local/sweeper.ts). */
  sweeper: LocalSweeper;
  close(): Promise<void>;
}

function lineLogger(log: (line: string) => void): Logger {
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    log(`${level} ${message}${extra ? ` ${JSON.stringify(extra, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v))}` : ''}`);
  return { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') };
}

async function endOrphanedRuns(engine: Engine, store: Store, reason: string, log: (line: string) => void): Promise<void> {
  for (const processId of await store.runs.listActiveRunIds()) {
    try {
      await engine.kill(processId, reason);
      log(`info run ${processId} ended: ${reason}`);
    } catch (err) {
      log(`warn could not end run ${processId}: ${(err as Error).message}`);
    }
  }
}

export async function startLocal(options: LocalOptions = {}): Promise<LocalSundial> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dynamo = await startDynamo(options.dataDir);
  const key = loadOrCreateTokenKey(options.dataDir);
  const logger = lineLogger(log);
  const retentionDays = options.retentionDays ?? retentionDaysFromEnv();
  const store = new Store(dynamo.db, { retentionDays });
  const executor = new LocalExecutor({ store, log });
  const orchestrator = new LocalOrchestrator(await loadTaskDefinition(), executor, log);
  let url = '';
  const pagerDutyUrls = localPagerDutyUrls();
  const notifier = createLocalNotifier({ store, dataDir: options.dataDir, log, publicUrl: () => url, logger, pagerDutyUrls });
  const now = options.now ?? (() => new Date());
  // Ticks go through Schedules.tick, as the engine Lambda's `tick` action does deployed.
  const scheduler: LocalScheduler = new LocalScheduler({ fire: (tick): Promise<unknown> => schedules.tick(tick.process_definition_name, tick.scheduled_time), now, log, minIntervalSeconds: options.schedulerMinIntervalSeconds });
  const schedules: Schedules = new Schedules({ store, scheduler, now, logger });
  // Deployed, the engine function takes the fan-outs over a large run's tasks; here, the background.
  const fanOuts = new LocalFanOuts(log);
  const engineDeps: EngineDeps = {
    store,
    orchestrator,
    launcher: executor,
    tokenKey: async () => key,
    callbackUrl: () => url,
    now,
    logger,
    // Schedules first: a downstream run (UpstreamRuns) starts once the ended run is unregistered.
    listeners: [schedules, new UpstreamRuns({ store, schedules, now, logger }), notifier],
    retentionDays,
    fanOuts,
  };
  const engine = new Engine(engineDeps);
  // Deployed, the engine function builds Prepare beside its engine (wiring.ts); here, the local state machine.
  const preparation = preparationFor(engine, engineDeps);
  orchestrator.attach(engine, preparation);
  const fanOutSteps = fanOutStepsFor(engine);
  fanOuts.attach(fanOutSteps);
  schedules.attach(engine);
  const definitions = new Definitions({ store, schedules, now, pagerDutyUrls, webhookUrls: LOCAL_WEBHOOK_URLS });
  const services: Services = { store, engine, schedules, definitions, tokenKey: async () => key, now, logger };
  const callbacks = callbackRoutes(services);
  const router = createRouter([...operatorRoutes(services), ...callbacks], logger);
  // Deployed, API Gateway sends the callback routes to the callbacks function and the rest to the API function.
  const isCallback = matchesRoutes(callbacks);
  const handler: typeof router = (event, context) => runAs(isCallback(event) ? 'callbacks' : 'api', () => router(event, context));
  const server: Server = createServer(withConsole(nodeListener(handler, log), log));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  url = `http://${address.address}:${address.port}`;
  // Runs left running by a server that died (SIGKILL, crash) cannot be followed: end them with a reason.
  await runAs('local', () => endOrphanedRuns(engine, store, 'the local server stopped during this run; retry it to run its failed tasks again', log));
  // Then schedules: re-armed from the stored definitions, a missed tick fired once, continuous runs resumed.
  await runAs('local', () => scheduler.restore(store, schedules));
  // Then the sweep: lost attempts (no execution in this process, or past their deadline) and expired runs.
  // Asked as deployed: the running executions, a page of ListExecutions at a time, under its quota.
  const listRunningExecutions: ListRunningExecutions = (nextToken) =>
    orchestrator
      .listExecutions({ statusFilter: 'RUNNING', maxResults: SFN_LIST_EXECUTIONS_MAX_RESULTS, ...(nextToken ? { nextToken } : {}) })
      .then((out) => ({ names: out.executions.map((e) => e.name), ...(out.nextToken ? { nextToken: out.nextToken } : {}) }));
  const reaper = new Reaper({ store, engine, fanOut: engine.fanOut, now, logger, listRunningExecutions });
  const sweeper = new LocalSweeper({ store, reaper, now, log });
  sweeper.start();
  return {
    url,
    storeEndpoint: dynamo.endpoint,
    storeFailed: dynamo.failed,
    services,
    orchestrator,
    preparation,
    fanOutSteps,
    scheduler,
    sweeper,
    close: async () => {
      await sweeper.stop();
      // Nothing new starts while the server stops: no tick, no catch-up or continuous run after a kill.
      scheduler.stop();
      schedules.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Fan-outs over large runs stop where they are, so that nothing starts while executions stop…
      await fanOuts.pause();
      executor.stopAll('the local server stopped');
      await orchestrator.stopAll();
      await executor.close();
      await runAs('local', () => endOrphanedRuns(engine, store, 'the local server stopped during this run; retry it to run its failed tasks again', log));
      // …then go on to the end: their runs have ended (a start writes its remaining tasks blocked, a kill ends).
      await fanOuts.drain();
      await notifier.drain();
      await dynamo.close();
    },
  };
}
