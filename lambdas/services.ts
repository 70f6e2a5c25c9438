/**
 * What the entry points need from the outside world, built once per cold start from the environment
 * (deployed) or handed in by the local runtime and tests. Entry points never build clients themselves.
 */
import type { TaskOutputSource } from './api/output';
import { AwsLauncher, launcherConfigFromEnv } from './adapters/batch-ecs';
import { CloudWatchTaskOutput, taskOutputConfigFromEnv } from './adapters/cloudwatch-logs';
import { EventBridgeScheduler, schedulerConfigFromEnv } from './adapters/scheduler';
import { secretKeyLoader } from './adapters/secrets';
import { SfnOrchestrator, TASK_STATE_MACHINE_ARN_ENV } from './adapters/sfn';
import { requireEnv } from './config';
import { Engine, type EngineDeps } from './engine/engine';
import { notifyListenerFromEnv } from './notify/dispatch';
import { pagerDutyUrlsFromEnv } from './notify/env';
import type { Launcher, Orchestrator, Scheduler } from './engine/ports';
import { Schedules } from './engine/schedules';
import { Definitions } from './engine/definitions';
import { retentionDaysFromEnv } from './domain/retention';
import { type CoreServices, coreServicesFromEnv } from './core-services';
import { createLogger } from './logger';
import { createDb, Store } from './store';

export interface Services extends CoreServices {
  engine: Engine;
  /** Schedules of definitions: sync on PUT/DELETE, pause, resume, ticks, stats. */
  schedules: Schedules;
  /** Process definitions: PUT (every rule, then store and schedule), GET, list, DELETE, pause, resume. */
  definitions: Definitions;
  /** Where a task attempt's container output is read: CloudWatch Logs deployed; absent = captured output (local). */
  taskOutput?: TaskOutputSource;
}

/**
 * An engine wired to AWS from the environment: `TABLE_NAME` at once; `TASK_STATE_MACHINE_ARN` when it
 * starts or stops an execution, the launcher's variables (`LAUNCHER_ENV`) when it plans or stops an
 * attempt, `SUNDIAL_URL` and `TOKEN_SECRET_ARN` when it prepares one. A missing one fails with
 * its name. `given` replaces any part, e.g. the store and logger a function already has.
 */
export function engineFromEnv(given: Partial<EngineDeps> = {}): Engine {
  return scheduledEngineFromEnv(given).engine;
}

/**
 * EventBridge Scheduler from the environment (`SCHEDULER_ENV`), built when first used: a function
 * that never touches a schedule needs none of its variables.
 */
export function schedulerFromEnv(): Scheduler {
  let aws: EventBridgeScheduler | undefined;
  const get = () => (aws ??= new EventBridgeScheduler(schedulerConfigFromEnv()));
  return {
    minIntervalSeconds: 60,
    put: (name, spec, enabled) => get().put(name, spec, enabled),
    fireAt: (name, time) => get().fireAt(name, time),
    remove: (name) => get().remove(name),
  };
}

/**
 * {@link engineFromEnv} with its {@link Schedules}: told when runs end (catch-up and continuous runs),
 * and able to start and kill runs on ticks.
 */
export function scheduledEngineFromEnv(given: Partial<EngineDeps> = {}): { engine: Engine; schedules: Schedules } {
  const store = given.store ?? new Store(createDb(requireEnv('TABLE_NAME')));
  const now = given.now ?? (() => new Date());
  const logger = given.logger ?? createLogger();
  const schedules = new Schedules({ store, scheduler: schedulerFromEnv(), now, logger });
  const engine = baseEngineFromEnv({
    ...given,
    store,
    now,
    logger,
    listeners: [schedules, notifyListenerFromEnv(logger), ...(given.listeners ?? [])],
  });
  schedules.attach(engine);
  return { engine, schedules };
}

function baseEngineFromEnv(given: Partial<EngineDeps>): Engine {
  let tokenKey: (() => Promise<Buffer>) | undefined;
  // Built on first use, so that a function that never starts or stops work needs none of their variables.
  let sfn: SfnOrchestrator | undefined;
  let aws: AwsLauncher | undefined;
  const orchestrator: Orchestrator = {
    startTask: (name, input) => (sfn ??= new SfnOrchestrator(requireEnv(TASK_STATE_MACHINE_ARN_ENV))).startTask(name, input),
    stopTask: (name, cause) => (sfn ??= new SfnOrchestrator(requireEnv(TASK_STATE_MACHINE_ARN_ENV))).stopTask(name, cause),
  };
  const launcher: Launcher = {
    plan: (attempt) => (aws ??= new AwsLauncher(launcherConfigFromEnv())).plan(attempt),
    stop: (attempt, reason) => (aws ??= new AwsLauncher(launcherConfigFromEnv())).stop(attempt, reason),
  };
  return new Engine({
    store: given.store ?? new Store(createDb(requireEnv('TABLE_NAME'))),
    orchestrator: given.orchestrator ?? orchestrator,
    launcher: given.launcher ?? launcher,
    tokenKey: given.tokenKey ?? (() => (tokenKey ??= secretKeyLoader(requireEnv('TOKEN_SECRET_ARN')))()),
    callbackUrl: given.callbackUrl ?? (() => requireEnv('SUNDIAL_URL')),
    now: given.now ?? (() => new Date()),
    logger: given.logger ?? createLogger(),
    listeners: given.listeners,
    retentionDays: given.retentionDays ?? retentionDaysFromEnv(),
  });
}

/**
 * Services of a deployed Lambda: `TABLE_NAME` at once; `TOKEN_SECRET_ARN` when a token is checked; the
 * engine's variables when a route first needs the engine (trigger, kill, retry, succeed, fail).
 */
export function servicesFromEnv(): Services {
  const { store, logger, now, tokenKey } = coreServicesFromEnv();
  let built: { engine: Engine; schedules: Schedules } | undefined;
  const build = () => (built ??= scheduledEngineFromEnv({ store, logger, now, tokenKey }));
  let output: CloudWatchTaskOutput | undefined;
  let definitions: Definitions | undefined;
  const pagerDutyUrls = pagerDutyUrlsFromEnv();
  return {
    store,
    tokenKey,
    now,
    logger,
    taskOutput: { read: (request) => (output ??= new CloudWatchTaskOutput(taskOutputConfigFromEnv())).read(request) },
    get engine() {
      return build().engine;
    },
    get schedules() {
      return build().schedules;
    },
    get definitions() {
      return (definitions ??= new Definitions({ store, schedules: build().schedules, now, pagerDutyUrls }));
    },
  };
}
