/** `npm start`: Sundial's local mode on 127.0.0.1:${PORT:-8080}, data in ${SUNDIAL_DATA_DIR:-./.sundial}. */
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
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
 * The process holding the store's LevelDB lock, when another one does: LevelDB locks `<store>/LOCK` with
 * fcntl (a POSIX lock, which Linux lists in /proc/locks with its holder's pid and the file's device and
 * inode, proc(5)). A second server on the same data dir would otherwise fail with dynalite's "Database is
 * closed" and a stack trace. Undefined when no other process holds it, or when it cannot be told (no
 * /proc/locks, no store yet).
 */
function storeLockHolder(storeDir: string): number | undefined {
  try {
    const { dev, ino } = statSync(join(storeDir, 'LOCK'), { bigint: true });
    // The device's major and minor numbers, as glibc's sys/sysmacros.h takes them out of a dev_t; /proc/locks
    // prints them in hex.
    const major = ((dev & 0xfff00n) >> 8n) | ((dev & 0xfffff00000000000n) >> 32n);
    const minor = (dev & 0xffn) | ((dev & 0xffffff00000n) >> 12n);
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      // `1: POSIX  ADVISORY  WRITE 32548 fe:00:2679114 0 EOF` (a `->` marks a waiter: not a holder)
      const m = /^\d+:\s+POSIX\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (!m || BigInt(m[4]!) !== ino || BigInt(`0x${m[2]}`) !== major || BigInt(`0x${m[3]}`) !== minor) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid) return pid;
    }
  } catch {
    /* no store yet, or no /proc/locks: dynalite's own error then */
  }
  return undefined;
}
const holder = storeLockHolder(join(dataDir, 'dynamodb'));
if (holder !== undefined) {
  logError(`could not start: the data directory ${dataDir} is in use by another Sundial server (process ${holder}); stop it first, or set SUNDIAL_DATA_DIR to another directory`);
  process.exit(1);
}

/**
 * Waits while a process stopping the tasks of an earlier server on this data dir holds `fifo` open (the
 * spawner and the tasks' watchdogs do while they stop tasks, local/engine/spawner.ts): until then, a run this
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
/** Longer than a watchdog's or the spawner's grace (SIGTERM, SIGKILL 5 s later) plus its polling. */
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
// spawner's watchdogs stop them anyway should this process die without stopping: see local/engine/spawner.ts).
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
