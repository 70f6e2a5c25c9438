/** `npm start`: Sundial's local mode on 127.0.0.1:${PORT:-8080}, data in ${SUNDIAL_DATA_DIR:-./.sundial}. */
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { startLocal } from './server';
import { UnusableStoreError } from './dynalite';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Every line of the server's output (the request log included) starts with when it was written, ISO 8601 in UTC. */
const stamped = (line: string) => `${new Date().toISOString()} ${line}`;
const log = (line: string) => console.log(stamped(line));
const logError = (line: string) => console.error(stamped(line));

const port = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  logError(`PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(2);
}
// An empty SUNDIAL_DATA_DIR (`SUNDIAL_DATA_DIR= npm start`) means the default, not the current directory.
const dataDir = resolve(process.env.SUNDIAL_DATA_DIR || '.sundial');

/**
 * `mkdir -p`, one level at a time: Node 20's `mkdirSync(…, { recursive: true })` never returns for a path
 * the kernel refuses with ENOENT although its parent exists (`/proc/x`).
 */
function makeDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(dir).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, '${dir}'`), { code: 'ENOTDIR' });
    }
    if (code !== 'ENOENT' || dirname(dir) === dir) throw err;
    makeDir(dirname(dir));
    mkdirSync(dir);
  }
}

/**
 * Why the data dir cannot hold the store, if it cannot. Checked before the store opens: LevelDB failing to
 * open a store it may not write surfaces from dynalite as "Database is closed", naming neither the
 * directory nor the cause (EACCES, EROFS, ENOTDIR…).
 */
function dataDirProblem(dir: string): Error | undefined {
  try {
    for (const d of [dir, join(dir, 'dynamodb')]) {
      makeDir(d);
      const probe = join(d, `.write-test-${process.pid}`);
      writeFileSync(probe, '', { flag: 'wx' });
      unlinkSync(probe);
    }
    // The store's own files are opened for writing (LevelDB's LOCK, its log, its manifest).
    for (const f of readdirSync(join(dir, 'dynamodb'))) accessSync(join(dir, 'dynamodb', f), constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}
const problem = dataDirProblem(dataDir);
if (problem) {
  logError(`could not start: the data directory ${dataDir} cannot be used (${problem.message}); set SUNDIAL_DATA_DIR to a directory you can write`);
  process.exit(1);
}

/**
 * Waits while a process stopping the tasks of an earlier server on this data dir holds `fifo` open (the
 * spawner and its guard do while they stop tasks, local/engine/spawner-process.mjs): until then, a run this
 * server ends as failed ("retry it") could still have a process running, and a retry would run a task twice.
 * A FIFO opened for writing without blocking fails with ENXIO exactly when no process has it open for reading.
 * Answers the FIFO's path, created if missing, or undefined when there can be none (no `mkfifo`).
 */
async function previousTasksStopped(fifo: string): Promise<string | undefined> {
  if (!existsSync(fifo) && spawnSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' }).status !== 0) return undefined;
  if (!statSync(fifo).isFIFO()) return undefined;
  const deadline = Date.now() + PREVIOUS_TASKS_WAIT_MS;
  for (let told = false; ; told = true) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') return fifo;
      throw err;
    }
    if (!told) log(`waiting for the tasks of an earlier server on ${dataDir} to stop`);
    if (Date.now() > deadline) {
      logError(`warn tasks of an earlier server on ${dataDir} still stopping after ${PREVIOUS_TASKS_WAIT_MS} ms; starting anyway`);
      return fifo;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** Longer than the guard's or the spawner's grace (SIGTERM, SIGKILL 5 s later) plus its polling. */
const PREVIOUS_TASKS_WAIT_MS = 15_000;
const tasksFifo = await previousTasksStopped(join(dataDir, 'tasks.fifo')).catch(() => undefined);
if (tasksFifo) process.env.SUNDIAL_TASKS_FIFO = tasksFifo;

log('starting (the first start after a change to lib/ or lambdas/ synthesizes the CDK stack for its task state machine: ≈ 15 s of CPU)…');
const sundial = await startLocal({ port, host: process.env.HOST ?? '127.0.0.1', dataDir, log }).catch((err: NodeJS.ErrnoException) => {
  logError(
    err.code === 'EADDRINUSE'
      ? `port ${port} is in use: set PORT to another port`
      : err instanceof UnusableStoreError
        ? `could not start: ${err.message}`
        : `could not start: ${err.stack ?? err}`,
  );
  process.exit(1);
});
log(`sundial listening on ${sundial.url} (data in ${dataDir}; its DynamoDB store answers at ${sundial.storeEndpoint})`);

let stopping = false;
// A store that stopped by itself leaves a server that can only answer errors: stop, and say why.
void sundial.storeFailed.then(async (err) => {
  if (stopping) return;
  stopping = true;
  logError(`the embedded store stopped, so the server stops too: ${err.message}`);
  await sundial.close().catch(() => undefined);
  process.exit(1);
});
// SIGHUP: the terminal closed. Stopping as on Ctrl-C ends the runs with a reason and stops their tasks (the
// spawner's guard stops them anyway should this process die without stopping: see local/engine/spawner-process.mjs).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    sundial.close().then(
      () => process.exit(0),
      (err) => {
        logError(`error while stopping: ${err}`);
        process.exit(1);
      },
    );
  });
}
