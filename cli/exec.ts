/**
 * `sundial exec -f FILE PROCESS TASK`: one task of a definition tried on this machine as Sundial runs an
 * attempt of it (as Kala's `kala run` does), with no Sundial running: the definition is validated as the
 * local mode's PUT validates it (lambdas/engine/definitions.ts); the task gets the environment an attempt gets (its variables, the
 * definition's parameters as a manual trigger resolves them, `--env` giving declared ones, `SUNDIAL_*`); its
 * callback routes are the deployed route table over an in-memory store, on 127.0.0.1; it runs as the local
 * executor runs it (`/bin/sh -c`, `docker run`), bounded by `max_runtime_seconds`; its outcome is decided by
 * the rules `Record` applies. Nothing is kept.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import { constants } from 'node:os';
import { callbackRoutes } from '../lambdas/callbacks/routes';
import { type AttemptEnd, attemptFailure, TIMEOUT_ERROR } from '../lambdas/domain/attempt-failure';
import { attemptEnvironment, attemptOutcome, type Report } from '../lambdas/domain/engine';
import { HttpError } from '../lambdas/domain/errors';
import { parameterVariables, resolveParameters } from '../lambdas/domain/parameters';
import type { EnvironmentVariable, ProcessDefinition } from '../lambdas/domain/models';
import { signTaskToken } from '../lambdas/domain/task-token';
import { SCHEDULER_MIN_INTERVAL_SECONDS } from '../lambdas/domain/aws-limits';
import { toScheduleSpec } from '../lambdas/domain/schedule';
import { checkTriggerEnvironment } from '../lambdas/engine/request-limits';
import { DEFAULT_TIMEOUT_SECONDS } from '../lambdas/engine/contract';
import { validateDefinition } from '../lambdas/engine/definitions';
import { createRouter } from '../lambdas/http/router';
import type { HttpHandler } from '../lambdas/http/types';
import type { Logger } from '../lambdas/logger';
import { LOCAL_WEBHOOK_URLS } from '../lambdas/domain/webhook-url';
import { Store } from '../lambdas/store';
import { startDynamo } from '../local/dynalite';
import { dockerEngineAnswers, dockerRun, killGroup } from '../local/engine/executor';
import { longSetTimeout } from '../local/engine/long-timers';
import { Spawner } from '../local/engine/spawner';
import { nodeListener } from '../local/http-adapter';
import { localPagerDutyUrls } from '../local/notifier';
import { ApiError } from './client';

export interface ExecRequest {
  /** The file the definitions came from, to name it. */
  file: string;
  definitions: Record<string, unknown>[];
  processName: string;
  taskName: string;
  /** `--env K=V`: the trigger's overrides. */
  environment: EnvironmentVariable[];
}

type Print = (line: string) => void;

/** `max_runtime_seconds` may be a year: more than a Node timer holds (local/engine/long-timers.ts). */
const setLongTimeout = longSetTimeout(setTimeout);

/** Runs the task; answers the exit code: 0 the attempt succeeded, 1 it failed, 2 a name or the definition is wrong. */
export async function execTask(req: ExecRequest, out: Print, err: Print): Promise<number> {
  const raw = req.definitions.find((d) => d.process_definition_name === req.processName);
  if (!raw) {
    err(`sundial: ${req.file} has no process definition "${req.processName}"; it has: ${req.definitions.map((d) => String(d.process_definition_name)).join(', ')}`);
    return 2;
  }
  let def: ProcessDefinition;
  try {
    // Every rule a PUT to the local mode applies, but one: an interval whose start has passed is fine
    // here (the file may well be one applied before; the PUT refuses it only for a new start).
    def = validateDefinition(raw, req.processName, undefined, {
      pagerDutyUrls: localPagerDutyUrls(),
      webhookUrls: LOCAL_WEBHOOK_URLS,
      schedule: (d) => toScheduleSpec(d.schedule, { now: new Date(), minIntervalSeconds: SCHEDULER_MIN_INTERVAL_SECONDS, allowPastStart: true }),
    });
  } catch (e) {
    return refused(e, `process definition "${req.processName}" in ${req.file} is invalid`, err);
  }
  const task = def.task_definitions.find((t) => t.task_definition_name === req.taskName);
  if (!task) {
    err(`sundial: process definition "${req.processName}" has no task "${req.taskName}"; its tasks: ${def.task_definitions.map((t) => t.task_definition_name).join(', ')}`);
    return 2;
  }
  // The run's parameters as a manual trigger would resolve them, --env giving declared ones (docs/TRIGGERS.md).
  let parameters: EnvironmentVariable[];
  try {
    parameters = parameterVariables(resolveParameters(def.parameters, { environment: req.environment, requireGiven: true }));
    checkTriggerEnvironment([task], req.environment, parameters);
  } catch (e) {
    return refused(e, "the run's parameters or --env would be refused", err);
  }
  const image = task.executable.docker_image_command ?? task.executable.batch_image_command;
  if (image && !dockerEngineAnswers()) {
    err(`sundial: no Docker engine answers on this machine: cannot run image ${image.image}:${image.tag} (start Docker, or try a shell_script_command task)`);
    return 1;
  }

  const dynamo = await startDynamo(undefined);
  const spawner = new Spawner(err);
  let server: Server | undefined;
  try {
    const store = new Store(dynamo.db);
    const key = randomBytes(32);
    const processId = randomUUID();
    const taskId = randomUUID();
    await store.runs.createTask({
      task_id: taskId,
      process_id: processId,
      process_definition_name: def.process_definition_name,
      task_definition_name: task.task_definition_name,
      start_time: new Date().toISOString(),
      previous_attempt_count: 0,
      status: 'running',
    });
    const services = { store, tokenKey: async () => key, now: () => new Date(), logger: stderrLogger(err) };
    server = createServer(nodeListener(tellingRefusals(createRouter(callbackRoutes(services), services.logger), err), (line) => {
      if (line.startsWith('error')) err(`sundial exec: ${line}`);
    }));
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(0, '127.0.0.1', () => resolve());
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = attemptEnvironment(task.executable, [...parameters, ...req.environment], {
      url,
      taskId,
      processId,
      token: signTaskToken(key, { tid: taskId, pid: processId }),
      previousAttempts: 0,
      // As a manual run's: its trigger time.
      scheduledTime: new Date().toISOString(),
    });
    const script = task.executable.shell_script_command?.script;
    const [command, args] = image ? dockerRun(image, env) : ['/bin/sh', ['-c', script ?? '']];
    const timeoutSeconds = task.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS;
    err(`sundial exec: task "${task.task_definition_name}" of "${def.process_definition_name}", callbacks on ${url}, max_runtime_seconds ${timeoutSeconds}`);

    const child = spawner.spawn(command, args, { ...process.env, ...env });
    child.stdout.on('data', (chunk: string) => process.stdout.write(chunk));
    child.stderr.on('data', (chunk: string) => process.stderr.write(chunk));
    let timedOut = false;
    const timer = setLongTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutSeconds * 1000);
    const ended = await child.ended;
    clearTimeout(timer);
    await Promise.all([finished(child.stdout), finished(child.stderr)]);
    // Callbacks in flight are answered; then nothing more is taken.
    await closeServer(server);
    server = undefined;

    // A process killed by a signal reports 128 + the signal's number, as a container does (local/engine/executor.ts).
    const exitCode = ended.error ? undefined : (ended.code ?? 128 + (ended.signal ? (constants.signals[ended.signal] ?? 0) : 0));
    const end: AttemptEnd = ended.error
      ? { error: { Error: 'States.TaskFailed', Cause: JSON.stringify({ StopCode: 'TaskFailedToStart', StoppedReason: `CannotStartContainerError: ${ended.error.message}` }) }, timeoutSeconds }
      : timedOut
        ? { error: { Error: TIMEOUT_ERROR }, timeoutSeconds }
        : { result: { ExitCode: exitCode }, timeoutSeconds };
    const reported = (await store.runs.getTaskRecord(processId, taskId))?.reported as Report;
    const outcome = attemptOutcome(attemptFailure(end), reported, task.require_explicit_success);
    const recorded = await store.runs.getTask(processId, taskId);

    out(`${task.task_definition_name} attempt 1: ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ''}`);
    out(`exit code: ${exitCode ?? '-'}`);
    out(`reported: ${reported === undefined ? 'nothing (no /succeed or /fail)' : reported === 'succeeded' ? '/succeed' : '/fail'}`);
    const entries = recorded?.log_entries ?? [];
    out(`log entries (${entries.length}):`);
    for (const e of entries) out(`  [${e.source}] ${e.message}`);
    const metadata = recorded?.metadata_entries ?? [];
    out(`metadata (${metadata.length}):`);
    for (const m of metadata) out(`  ${m.key}: ${m.value}`);
    return outcome.status === 'succeeded' ? 0 : 1;
  } finally {
    if (server) await closeServer(server);
    await spawner.close();
    await dynamo.close();
  }
}

/** Prints what the API would answer for `e` (an {@link HttpError}: its code and every problem, each naming its field); answers 2. */
function refused(e: unknown, what: string, err: Print): number {
  if (!(e instanceof HttpError)) throw e;
  const answer = e.toJSON();
  err(`sundial: ${what} (the API would answer ${e.statusCode}):`);
  // A schema problem's message starts with its field already; the others are given theirs.
  for (const p of answer.errors ?? [answer.error]) err(`  ${p.field && !p.message.startsWith(p.field) ? `${p.field}: ` : ''}${p.message} [${p.code}]`);
  return 2;
}

/** The routes' handler, telling on stderr why a callback was refused (the task's own HTTP client may not). */
function tellingRefusals(handler: HttpHandler, err: Print): HttpHandler {
  return async (event, context) => {
    const result = await handler(event, context);
    if (result.statusCode >= 400) {
      err(`sundial exec: callback refused: ${new ApiError(result.statusCode, result.body ?? '', `${event.requestContext.http.method} ${event.rawPath}`).message}`);
    }
    return result;
  };
}

/** Warnings and errors of the routes on stderr; the rest is not the user's concern. */
function stderrLogger(err: Print): Logger {
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    err(`sundial exec: ${level} ${message}${extra ? ` ${JSON.stringify(extra, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message } : v))}` : ''}`);
  return { debug: () => undefined, info: () => undefined, warn: at('warn'), error: at('error') };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
