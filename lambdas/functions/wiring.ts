/**
 * The wiring of the deployed functions: reads their environment (the names: ./environment.ts) and builds
 * what each entry point serves (./api.ts, ./callbacks.ts, ./engine.ts, ./notify.ts), once per cold start,
 * with one Store shared by everything a function builds. AWS clients are built when first used, so that
 * a function that never needs a variable does not require it: a missing one fails the call that needed
 * it, with its name. The local runtime wires the same core to its own adapters (local/server.ts).
 */
import { AwsLauncher, type AwsLauncherConfig } from '../adapters/batch-ecs';
import { CloudWatchTaskOutput, type CloudWatchTaskOutputConfig } from '../adapters/cloudwatch-logs';
import { EngineFanOutDispatcher } from '../adapters/lambda-engine';
import { NotifyDispatcher } from '../adapters/lambda-notify';
import { PagerDutyEventsClient } from '../adapters/pagerduty';
import { EventBridgeScheduler, type EventBridgeSchedulerConfig } from '../adapters/scheduler';
import { secretKeyLoader } from '../adapters/secrets';
import { SesEmailSender } from '../adapters/ses';
import { SfnOrchestrator } from '../adapters/sfn';
import { sfnRunningExecutions } from '../adapters/sfn-executions';
import { WebhookClient } from '../adapters/webhook';
import type { Services } from '../api/ports';
import type { CallbackServices } from '../callbacks/ports';
import { Definitions } from '../engine/definitions';
import { Engine, type EngineDeps } from '../engine/engine';
import { DEPLOYED_FAN_OUT_PACE } from '../engine/pace';
import type { EngineEventDeps } from '../engine/events';
import type { Launcher, Orchestrator, RunListener, Scheduler } from '../engine/ports';
import { fanOutStepsFor } from '../engine/fan-out-steps';
import { preparationFor } from '../engine/prepare';
import { Reaper } from '../engine/reaper';
import { Schedules } from '../engine/schedules';
import { UpstreamRuns } from '../engine/upstream';
import { createLogger, type Logger } from '../logger';
import { Notifier } from '../notify/notifier';
import { consoleRunLink } from '../notify/render';
import { DEPLOYED_WEBHOOK_URLS } from '../domain/webhook-url';
import { createDb, Store } from '../store';
import {
  AWS_REGION_ENV,
  ENGINE_FUNCTION_NAME_ENV,
  LAMBDA_FUNCTION_NAME_ENV,
  LAUNCHER_ENV,
  NOTIFY_CONSOLE_URL_ENV,
  NOTIFY_FUNCTION_NAME_ENV,
  NOTIFY_SENDER_ENV,
  pagerDutyUrlsFromEnv,
  requireEnv,
  retentionDaysFromEnv,
  SCHEDULER_ENV,
  SUNDIAL_URL_ENV,
  TABLE_NAME_ENV,
  TASK_STATE_MACHINE_ARN_ENV,
  TOKEN_SECRET_ARN_ENV,
} from './environment';

// ---- the functions -----------------------------------------------------------------------------

/**
 * The api function, at cold start: `TABLE_NAME`, and `SUNDIAL_PAGERDUTY_HOSTS` if set. `TOKEN_SECRET_ARN`
 * when a token is checked; the engine's variables when a route first needs the engine, the schedules or
 * the definitions; the log groups' when it first reads a task's output.
 */
export function apiServices(): Services {
  const shared = sharedServices();
  const { store, tokenKey, now, logger } = shared;
  const pagerDutyUrls = pagerDutyUrlsFromEnv();
  const runs = lazy(() => scheduledEngine(shared, () => requireEnv(SUNDIAL_URL_ENV), () => requireEnv(ENGINE_FUNCTION_NAME_ENV)));
  const definitions = lazy(() => new Definitions({ store, schedules: runs().schedules, now, pagerDutyUrls }));
  const output = lazy(() => new CloudWatchTaskOutput(taskOutputConfig()));
  return {
    store,
    tokenKey,
    now,
    logger,
    taskOutput: { read: (request) => output().read(request) },
    get engine() {
      return runs().engine;
    },
    get schedules() {
      return runs().schedules;
    },
    get definitions() {
      return definitions();
    },
  };
}

/**
 * The callbacks function: `TABLE_NAME` at cold start, `TOKEN_SECRET_ARN` when a token is checked. Nothing
 * more: no engine, schedules or their AWS adapters (../callbacks/ports.ts).
 */
export function callbackServices(): CallbackServices {
  const { store, tokenKey, now, logger } = sharedServices();
  return { store, tokenKey, now, logger };
}

/**
 * The engine function, at its first event. It prepares attempts, so it fails fast without `SUNDIAL_URL`
 * and `TOKEN_SECRET_ARN`; then `TABLE_NAME`. `TASK_STATE_MACHINE_ARN` when it starts or stops an execution
 * or lists the running ones, the launcher's variables when it plans or stops an attempt, the scheduler's when it
 * changes a schedule, `NOTIFY_FUNCTION_NAME` when a run ends, Lambda's `AWS_LAMBDA_FUNCTION_NAME` when it
 * hands a fan-out step on (to itself).
 */
export function engineEventDeps(): EngineEventDeps {
  const callbackUrl = requireEnv(SUNDIAL_URL_ENV);
  const tokenKey = secretKeyLoader(requireEnv(TOKEN_SECRET_ARN_ENV));
  const shared = { ...sharedServices(), tokenKey };
  const { engine, schedules, deps } = scheduledEngine(shared, () => callbackUrl, () => requireEnv(LAMBDA_FUNCTION_NAME_ENV));
  // Only this function prepares attempts (the task state machine's Prepare step) and runs the fan-outs' steps:
  // the api's wiring builds neither.
  const preparation = preparationFor(engine, deps);
  const steps = fanOutStepsFor(engine);
  const runningExecutions = lazy(() => sfnRunningExecutions(requireEnv(TASK_STATE_MACHINE_ARN_ENV)));
  const reaper = new Reaper({ store: shared.store, engine, fanOut: engine.fanOut, now: shared.now, logger: shared.logger, listRunningExecutions: (token) => runningExecutions()(token) });
  return { engine, preparation, steps, schedules, reaper };
}

/**
 * The notify function, at its first event: `TABLE_NAME`; `NOTIFY_SENDER` if emails may go out;
 * `SUNDIAL_CONSOLE_URL` if a console is deployed (links to runs); `SUNDIAL_PAGERDUTY_HOSTS` if an
 * operator allowed more PagerDuty hosts.
 */
export function notifier(): Notifier {
  const { store, now, logger } = sharedServices();
  const consoleUrl = process.env[NOTIFY_CONSOLE_URL_ENV];
  const from = process.env[NOTIFY_SENDER_ENV];
  if (!from) logger.warn(`${NOTIFY_SENDER_ENV} is not set: email notifications will not be delivered`);
  return new Notifier({
    store,
    ...(from ? { email: { sender: new SesEmailSender(), from } } : {}),
    pagerduty: new PagerDutyEventsClient({ urls: pagerDutyUrlsFromEnv() }),
    webhook: new WebhookClient({ urls: DEPLOYED_WEBHOOK_URLS }),
    ...(consoleUrl ? { runUrl: (id: string) => consoleRunLink(consoleUrl, id) } : {}),
    logger,
    now,
  });
}

/**
 * The listener of the functions that end runs: invokes the function named by `NOTIFY_FUNCTION_NAME`,
 * read when the first run ends (a missing variable then fails that call with its name; the engine logs
 * it and the run is unaffected).
 */
export function notifyListener(logger?: Logger): RunListener {
  return new NotifyDispatcher(lazy(() => requireEnv(NOTIFY_FUNCTION_NAME_ENV)), undefined, logger);
}

// ---- their parts -------------------------------------------------------------------------------

/** What every function shares, with the retention its store and engine both keep to. */
interface Shared extends CallbackServices {
  retentionDays: number;
}

/** `TABLE_NAME` (and `SUNDIAL_RETENTION_DAYS`, if set) now; `TOKEN_SECRET_ARN` when a token is first checked or signed. */
function sharedServices(): Shared {
  const db = createDb(requireEnv(TABLE_NAME_ENV));
  const retentionDays = retentionDaysFromEnv();
  const key = lazy(() => secretKeyLoader(requireEnv(TOKEN_SECRET_ARN_ENV)));
  return { store: new Store(db, { retentionDays }), tokenKey: () => key()(), now: () => new Date(), logger: createLogger(), retentionDays };
}

/**
 * The engine over the shared store, with its {@link Schedules}: told when runs end (catch-up, backfill
 * and continuous runs, downstream runs, and the notify function), and able to start and kill runs on ticks.
 * It hands the fan-outs over a large run's tasks to the engine function `engineFunction` (read at the first).
 * Answers the engine's deps too, from which the engine function builds its `Prepare` (prepare.ts).
 */
function scheduledEngine(shared: Shared, callbackUrl: () => string, engineFunction: () => string): { engine: Engine; schedules: Schedules; deps: EngineDeps } {
  const { store, tokenKey, now, logger, retentionDays } = shared;
  const schedules = new Schedules({ store, scheduler: eventBridgeScheduler(), now, logger });
  const deps: EngineDeps = {
    store,
    orchestrator: sfnOrchestrator(),
    launcher: awsLauncher(),
    tokenKey,
    callbackUrl,
    now,
    logger,
    // Schedules first: a downstream run (UpstreamRuns) starts once the ended run is unregistered.
    listeners: [schedules, new UpstreamRuns({ store, schedules, now, logger }), notifyListener(logger)],
    retentionDays,
    fanOuts: new EngineFanOutDispatcher(engineFunction),
    fanOutPace: DEPLOYED_FAN_OUT_PACE,
  };
  const engine = new Engine(deps);
  schedules.attach(engine);
  return { engine, schedules, deps };
}

function sfnOrchestrator(): Orchestrator {
  const sfn = lazy(() => new SfnOrchestrator(requireEnv(TASK_STATE_MACHINE_ARN_ENV)));
  return {
    startTask: (name, input) => sfn().startTask(name, input),
    stopTask: (name, cause) => sfn().stopTask(name, cause),
  };
}

function awsLauncher(): Launcher {
  const aws = lazy(() => new AwsLauncher(launcherConfig()));
  return {
    plan: (attempt) => aws().plan(attempt),
    stop: (attempt, reason) => aws().stop(attempt, reason),
  };
}

function eventBridgeScheduler(): Scheduler {
  const aws = lazy(() => new EventBridgeScheduler(schedulerConfig()));
  return {
    minIntervalSeconds: 60, // EventBridgeScheduler's: rate() counts minutes
    put: (name, spec, enabled) => aws().put(name, spec, enabled),
    fireAt: (name, time) => aws().fireAt(name, time),
    remove: (name) => aws().remove(name),
  };
}

function launcherConfig(): AwsLauncherConfig {
  return {
    batchJobQueueArn: requireEnv(LAUNCHER_ENV.batchJobQueueArn),
    batchShellImage: requireEnv(LAUNCHER_ENV.batchShellImage),
    batchExecutionRoleArn: requireEnv(LAUNCHER_ENV.batchExecutionRoleArn),
    batchLogGroup: requireEnv(LAUNCHER_ENV.batchLogGroup),
    batchAssignPublicIp: requireEnv(LAUNCHER_ENV.batchAssignPublicIp) === 'ENABLED',
    ecsClusterArn: requireEnv(LAUNCHER_ENV.ecsClusterArn),
    ecsExecutionRoleArn: requireEnv(LAUNCHER_ENV.ecsExecutionRoleArn),
    ecsLogGroup: requireEnv(LAUNCHER_ENV.ecsLogGroup),
    region: requireEnv(AWS_REGION_ENV),
  };
}

/** Where task output is: the launcher's queue, cluster and log groups. */
function taskOutputConfig(): CloudWatchTaskOutputConfig {
  return {
    batchJobQueueArn: requireEnv(LAUNCHER_ENV.batchJobQueueArn),
    batchLogGroup: requireEnv(LAUNCHER_ENV.batchLogGroup),
    ecsClusterArn: requireEnv(LAUNCHER_ENV.ecsClusterArn),
    ecsLogGroup: requireEnv(LAUNCHER_ENV.ecsLogGroup),
  };
}

function schedulerConfig(): EventBridgeSchedulerConfig {
  return {
    groupName: requireEnv(SCHEDULER_ENV.groupName),
    roleArn: requireEnv(SCHEDULER_ENV.roleArn),
    tickStateMachineArn: requireEnv(SCHEDULER_ENV.tickStateMachineArn),
  };
}

/** Built at the first call, then kept; a build that throws is tried again at the next call. */
function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}
