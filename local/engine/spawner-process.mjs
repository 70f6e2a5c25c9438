// The local executor's spawner: a small Node process that starts the tasks' processes for the server.
//
// Why: `child_process.spawn` forks the calling process, and the fork is synchronous in the caller's one
// thread. From the server (hundreds of MB of heap, the store, the interpreter) each spawn blocked the
// event loop for 10–15 ms; from this process (a few tens of MB) it costs a millisecond or two, on
// another core. See docs/PERFORMANCE.md.
//
// Protocol (IPC messages, one task per id):
//   server → spawner  {t:'spawn', id, file, argv, env}   {t:'kill', id, signal}   {t:'ack', id, n}
//   spawner → server  {t:'spawned', id, pid}   {t:'data', id, source:'stdout'|'stderr', chunk}
//                     {t:'exit', id, code, signal}   {t:'error', id, message}
// 'data' of a task all arrive before its 'exit' (its 'close' waits for both pipes). The server acknowledges
// 'data' in batches of ACK_EVERY (spawner.ts); a task with WINDOW chunks unacknowledged is paused.
//
// Who starts a task: the fork server (fork-server.py, python3's posix_spawn: ≈ 4 ms of CPU per task on this
// kind of machine where Node's fork of this process costs ≈ 10), else (no python3 >= 3.8, or
// SUNDIAL_FORK_SERVER=0) Node's child_process.spawn here. docs/PERFORMANCE.md, "A fork server for the tasks".
//
// When the server goes away (its channel closes: a stop, a crash, SIGKILL), no task may outlive it
// unobserved: every process group still running gets SIGTERM, then SIGKILL 5 s later, and the spawner exits.
// Should this process die too (a SIGKILL of the whole process group), the tasks' guard sees its pipe close
// and stops the tasks' groups: the fork server for the tasks it started, the sh guard (below) for those
// Node started.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython } from './python.mjs';

/**
 * The guard: one process for every task, which stops the tasks' process groups when this process ends,
 * however it ends (SIGKILL included: Node cannot ask for PR_SET_PDEATHSIG). It reads, on its stdin, a pipe
 * whose only write end this process holds, `+<pgid>` as each task starts and `-<pgid>` once it ended; at
 * end-of-file (this process is gone) it holds `$SUNDIAL_TASKS_FIFO` open (a server starting on the same data
 * dir waits until nobody does, local/main.ts), SIGTERMs the groups still listed, and SIGKILLs them once
 * they are gone or after 5 s (the executor's grace). Before 2026-12-04 each task had a watchdog of its own
 * beside it in its group (spawner.ts): three processes more per task, on this machine 37 % of a 1,000-task
 * DAG's wall time (docs/PERFORMANCE.md "One guard for all tasks").
 * - It runs in a process group of its own (`detached`): a signal to the server's group does not reach it.
 * - POSIX sh (dash on Debian), with no fork per line: the set of groups is one string of ` <pgid> ` words,
 *   edited with parameter expansions. Its stdout and stderr go to /dev/null, and it ignores the signals a
 *   terminal or a group kill sends, as the tasks' watchdogs did; dash's `kill` takes no `--` (a negative pid
 *   follows the signal).
 * - A group is listed from the moment its task is spawned (the `+` is written in the same turn, before any
 *   other event is handled) until its task's process ended and its pipes closed. A guard started again
 *   (the last one was killed) has the groups running in `SUNDIAL_GUARD_GROUPS` from its start. A task's pid
 *   (its group's id) could be given to another process only after the whole group is gone; the guard
 *   signals listed groups only, within seconds of this process's end.
 */
const GUARD = `trap '' TERM INT HUP QUIT
groups=" \${SUNDIAL_GUARD_GROUPS:-} "
while IFS= read -r line; do
  case $line in
    +*) groups="$groups\${line#+} " ;;
    -*) id=\${line#-}; case $groups in *" $id "*) groups="\${groups%% $id *} \${groups#* $id }" ;; esac ;;
  esac
done
set -- $groups
[ $# -eq 0 ] && exit 0
[ -p "\${SUNDIAL_TASKS_FIFO:-}" ] && exec 4<>"$SUNDIAL_TASKS_FIFO"
for g; do kill -TERM -$g 2>/dev/null; done
n=0
while [ $n -lt 50 ]; do
  alive=
  for g; do kill -0 -$g 2>/dev/null && { alive=1; break; }; done
  [ -z "$alive" ] && exit 0
  sleep 0.1
  n=$((n+1))
done
for g; do kill -KILL -$g 2>/dev/null; done`;

const SH = '/bin/sh';

/** @type {Map<string, import('node:child_process').ChildProcess>} */
const running = new Map();

/** The guard (undefined without /bin/sh: nothing stops the tasks then if this process is SIGKILLed). */
let guard;
/**
 * Starts the guard and lists with it every task running. Should it end while this process lives (someone
 * killed it), a new one is started the same way, so that the tasks are never left without one.
 */
function startGuard() {
  if (!existsSync(SH)) return;
  // The tasks already running are in its environment, known from its start: told on its pipe after the
  // spawn, a SIGKILL of this process in between (however short) would leave them unguarded.
  const groups = [...running.values()].map((child) => child.pid).filter((pid) => pid !== undefined);
  const started = spawn(SH, ['-c', GUARD], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, SUNDIAL_GUARD_GROUPS: groups.join(' ') } });
  // The guard may be gone (SIGKILLed): a write on its pipe must not end this process.
  started.stdin.on('error', () => undefined);
  started.once('exit', () => {
    if (guard === started && !shuttingDown) startGuard();
  });
  started.unref();
  guard = started;
}
/** Tells the guard that group `pgid` runs (`+`) or ended (`-`). */
function tellGuard(sign, pgid) {
  if (guard && pgid !== undefined) guard.stdin.write(`${sign}${pgid}\n`);
}

// With a callback, a send on a channel that just broke (the server died) reports to it rather than
// emitting an 'error' that would end this process before it stops the tasks (see shutDown).
const send = (message) => {
  if (process.connected) process.send(message, () => undefined);
};

/**
 * Signals a task's process group (its process alone should the group be gone) until its process ended. A
 * fork server's task not yet known to have started gets it once it has (ServedTask).
 */
function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.pid === undefined) {
    if (child instanceof ServedTask) child.pendingSignal = signal;
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** A task started by Node here, listed with the sh guard from its spawn until it closed. */
function nodeSpawn(file, argv, env) {
  const child = spawn(file, argv, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Listed at once: its group is stopped should this process die from here on.
  tellGuard('+', child.pid);
  child.once('close', () => tellGuard('-', child.pid));
  return child;
}

/**
 * Output chunks of a task sent and not yet acknowledged by the server ({t:'ack', id, n}), per task. At
 * WINDOW the task's pipes are paused, so that a task printing faster than the server takes its lines
 * is slowed by its pipe, as it would be reading from the server directly, instead of piling up here.
 */
const WINDOW = 64;
/** @type {Map<string, {unacked: number, pause: () => void, resume: () => void}>} */
const flow = new Map();

function start({ id, file, argv, env }) {
  const child = forkServer ? forkServer.spawn(id, file, argv, env) : nodeSpawn(file, argv, env);
  running.set(id, child);
  let ended = false;
  // Its pipes are read from its start on (the fork server's once this process has opened them).
  child.once('spawn', () => {
    send({ t: 'spawned', id, pid: child.pid });
    const streams = [child.stdout, child.stderr];
    const window = { unacked: 0, pause: () => streams.forEach((s) => s.pause()), resume: () => streams.forEach((s) => s.resume()) };
    flow.set(id, window);
    for (const source of ['stdout', 'stderr']) {
      const stream = child[source];
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        send({ t: 'data', id, source, chunk });
        if (++window.unacked >= WINDOW) window.pause();
      });
    }
  });
  child.once('error', (err) => {
    if (ended) return;
    ended = true;
    running.delete(id);
    flow.delete(id);
    send({ t: 'error', id, message: err.message });
  });
  child.once('close', (code, signal) => {
    if (ended) return;
    ended = true;
    running.delete(id);
    flow.delete(id);
    send({ t: 'exit', id, code, signal });
  });
}

/**
 * A task started by the fork server, as start() sees a ChildProcess: `pid`, `stdout` and `stderr` (its FIFOs,
 * read as pipes), `exitCode`/`signalCode`, and the events 'spawn', 'error' and 'close' (once it exited and
 * both its pipes closed).
 */
class ServedTask extends EventEmitter {
  pid = undefined;
  stdout = undefined;
  stderr = undefined;
  exitCode = null;
  signalCode = null;
  /** Its pipes could not be opened: reported as an error, and stopped. */
  failed = false;
  #exited = false;
  #open = 0;
  /** A signal asked for before the fork server said it started (killGroup): sent once it has. */
  pendingSignal = undefined;
  /** The fork server started it: its FIFOs are opened here before the server lets go of them. */
  spawned(pid, paths) {
    this.pid = pid;
    [this.stdout, this.stderr] = paths.map((path) => {
      const pipe = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_CLOEXEC), readable: true, writable: false });
      this.#open++;
      pipe.once('close', () => {
        this.#open--;
        this.#closeIfDone();
      });
      return pipe;
    });
    this.emit('spawn');
    if (this.pendingSignal) killGroup(this, this.pendingSignal);
  }
  exited(code, signal) {
    this.exitCode = code;
    this.signalCode = signal;
    this.#exited = true;
    this.#closeIfDone();
  }
  #closeIfDone() {
    if (this.#exited && this.#open === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

/**
 * The fork server (fork-server.py): python3 starts the tasks with posix_spawn, which on this kind of machine
 * costs a task's start ≈ 4 ms of CPU where Node's fork of this process costs ≈ 10 (docs/PERFORMANCE.md, "A
 * fork server for the tasks"). Without python3 >= 3.8, or with SUNDIAL_FORK_SERVER=0, Node starts the tasks
 * (start()), with the sh guard. Should it be killed while this process lives, its tasks are stopped (nobody
 * could report how they end) and reported as errors, and another one starts; should it fail by itself, Node
 * starts the tasks from then on.
 */
class ForkServer {
  static #python;
  /** The fork server, started, or undefined when there is none to start. */
  static start() {
    if (process.env.SUNDIAL_FORK_SERVER === '0') return undefined;
    ForkServer.#python ??= findPython() ?? null;
    if (!ForkServer.#python) return undefined;
    try {
      return new ForkServer(ForkServer.#python);
    } catch (err) {
      // Its FIFOs' directory could not be made (TMPDIR unwritable, full?): Node starts the tasks instead.
      process.stderr.write(`sundial: the local task spawner's fork server cannot start (${err instanceof Error ? err.message : err}); Node starts the tasks\n`);
      return undefined;
    }
  }

  /** @type {Map<string, ServedTask>} */
  #tasks = new Map();
  #process;
  #pending = '';
  /** Where its FIFOs are (mode 0700). */
  #dir;
  constructor(python) {
    const script = fileURLToPath(new URL('./fork-server.py', import.meta.url));
    this.#dir = mkdtempSync(join(tmpdir(), 'sundial-task-pipes-'));
    // In a process group of its own (detached), so that a signal to the server's group leaves it to stop the tasks.
    this.#process = spawn(python, ['-I', '-S', script, this.#dir], { detached: true, stdio: ['pipe', 'pipe', 'inherit'] });
    this.#process.stdin.on('error', () => undefined);
    this.#process.stdout.setEncoding('utf8');
    this.#process.stdout.on('data', (chunk) => this.#read(chunk));
    // On 'close', not 'exit': its last lines (a 'spawned' among them: that task's pid) are read first.
    this.#process.once('close', (code, signal) => this.#died(code, signal));
    this.#process.unref();
  }

  /** Ends its stdin: it stops what it still runs and exits; `done` then, or after a second. */
  close(done) {
    this.#process.once('exit', done);
    setTimeout(done, 1000).unref();
    this.#process.stdin.end();
  }

  spawn(id, file, argv, env) {
    const task = new ServedTask();
    this.#tasks.set(id, task);
    this.#write({ t: 'spawn', id, file, argv, env });
    // Its group is listed here from its spawn until it closed (the fork server is its guard).
    task.once('close', () => this.#ended(id));
    return task;
  }
  #ended(id) {
    this.#write({ t: 'ended', id });
  }

  #write(message) {
    this.#process.stdin.write(`${JSON.stringify(message)}\n`);
  }
  #read(chunk) {
    const lines = (this.#pending + chunk).split('\n');
    this.#pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = JSON.parse(line);
      const task = this.#tasks.get(m.id);
      if (!task) continue;
      if (m.t === 'spawned') {
        try {
          task.spawned(m.pid, [m.stdout, m.stderr]);
        } catch (err) {
          // Its pipes could not be opened (no descriptor left?): stop it, and report why.
          task.failed = true;
          killGroup(task, 'SIGKILL');
          task.emit('error', err);
        }
        this.#write({ t: 'opened', id: m.id });
      } else if (m.t === 'exit') {
        this.#tasks.delete(m.id);
        // A failed task never closes (start() has its error): the fork server forgets its group now.
        if (task.failed) this.#ended(m.id);
        else task.exited(m.code, m.signal);
      } else if (m.t === 'error') {
        this.#tasks.delete(m.id);
        task.emit('error', new Error(m.message));
      }
    }
  }
  #died(code, signal) {
    rmSync(this.#dir, { recursive: true, force: true });
    const why = `the local task spawner's fork server exited (${signal ?? `code ${code}`})`;
    // Its tasks first: they leave `running` (start()), so that an sh guard started below lists none of them.
    for (const [id, task] of this.#tasks) {
      this.#tasks.delete(id);
      killGroup(task, 'SIGKILL');
      if (!task.failed) task.emit('error', new Error(why));
    }
    if (forkServer === this && !shuttingDown) {
      // Killed: another one. Ended by itself (it failed): Node starts the tasks from now on, with the sh guard.
      forkServer = signal ? ForkServer.start() : undefined;
      if (!forkServer) {
        process.stderr.write(`sundial: ${why}; Node starts the tasks from now on\n`);
        startGuard();
      }
    }
  }
}

process.on('message', (message) => {
  if (message.t === 'spawn') {
    try {
      start(message);
    } catch (err) {
      send({ t: 'error', id: message.id, message: err instanceof Error ? err.message : String(err) });
    }
  } else if (message.t === 'ack') {
    const window = flow.get(message.id);
    if (window && (window.unacked -= message.n) < WINDOW) window.resume();
  } else if (message.t === 'kill') {
    const child = running.get(message.id);
    if (child) killGroup(child, message.signal);
  }
});

let shuttingDown = false;
/** @type {ForkServer | undefined} */
let forkServer = ForkServer.start();
// Tasks that Node starts have the sh guard; the fork server is the guard of its own.
if (!forkServer) startGuard();
function shutDown() {
  if (shuttingDown) return;
  shuttingDown = true;
  // Held until this process exits: a server starting on the same data dir waits while tasks of this one
  // may still run (local/main.ts; the guard holds it too while it stops them, above).
  const fifo = process.env.SUNDIAL_TASKS_FIFO;
  if (fifo) {
    try {
      if (statSync(fifo).isFIFO()) openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    } catch {
      /* no fifo: nothing to hold */
    }
  }
  for (const child of running.values()) killGroup(child, 'SIGTERM');
  if (running.size === 0) exit();
  setTimeout(() => {
    for (const child of running.values()) killGroup(child, 'SIGKILL');
    exit();
  }, 5000);
  const poll = setInterval(() => {
    if (running.size === 0) exit();
  }, 50);
  poll.unref();
}

/**
 * Exits, once the fork server has (told by the end of its stdin; at most a second): its CPU and its tasks' are
 * then counted as this process's children's, and it is not left an orphan.
 */
let exiting = false;
function exit() {
  if (exiting) return;
  exiting = true;
  if (!forkServer) process.exit(0);
  forkServer.close(() => process.exit(0));
}

process.on('disconnect', shutDown);
// Node's channel reads from this process's start, and an ES module loads asynchronously: a server that
// closed the channel (or died) meanwhile left no 'disconnect' to hear (spawner.ts sends nothing before
// 'ready', below).
if (!process.connected) shutDown();
process.on('SIGTERM', shutDown);
// A Ctrl-C reaches the whole foreground process group: the server decides what happens to the tasks
// (it stops them, then closes the channel).
// A terminal's SIGHUP too: the server stops on it. Should the server die instead, its channel closes
// (shutDown), and should this process die as well, the guard stops them (above).
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
send({ t: 'ready' });
