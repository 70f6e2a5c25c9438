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
// When the server goes away (its channel closes: a stop, a crash, SIGKILL), no task may outlive it
// unobserved: every process group still running gets SIGTERM, then SIGKILL 5 s later, and the spawner exits.
// Should this process die too (a SIGKILL of the whole process group), each task's watchdog (spawner.ts,
// watchedTask) sees its pipe close and stops the task's group.
import { spawn } from 'node:child_process';
import { constants, openSync, statSync } from 'node:fs';

/** @type {Map<string, import('node:child_process').ChildProcess>} */
const running = new Map();

// With a callback, a send on a channel that just broke (the server died) reports to it rather than
// emitting an 'error' that would end this process before it stops the tasks (see shutDown).
const send = (message) => {
  if (process.connected) process.send(message, () => undefined);
};

function killGroup(child, signal) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Output chunks of a task sent and not yet acknowledged by the server ({t:'ack', id, n}), per task. At
 * WINDOW the task's pipes are paused, so that a task printing faster than the server takes its lines
 * is slowed by its pipe, as it would be reading from the server directly, instead of piling up here.
 */
const WINDOW = 64;
/** @type {Map<string, {unacked: number, pause: () => void, resume: () => void}>} */
const flow = new Map();

function start({ id, file, argv, env, watched }) {
  // `watched`: the task's wrapper (spawner.ts, watchedTask) runs a watchdog reading this stdin pipe. This
  // process holds its only write end: when this process ends, however it ends, the watchdog reads
  // end-of-file and stops the task's group. `done` once the task ended lets the watchdog go quietly.
  const child = spawn(file, argv, { env, detached: true, stdio: [watched ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  // The watchdog may be gone already (SIGKILLed with its group): a write on its pipe must not end this process.
  child.stdin?.on('error', () => undefined);
  running.set(id, child);
  let ended = false;
  child.once('spawn', () => send({ t: 'spawned', id, pid: child.pid }));
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
  child.once('error', (err) => {
    if (ended) return;
    ended = true;
    running.delete(id);
    flow.delete(id);
    send({ t: 'error', id, message: err.message });
  });
  child.once('close', (code, signal) => {
    child.stdin?.end('done\n');
    if (ended) return;
    ended = true;
    running.delete(id);
    flow.delete(id);
    send({ t: 'exit', id, code, signal });
  });
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
function shutDown() {
  if (shuttingDown) return;
  shuttingDown = true;
  // Held until this process exits: a server starting on the same data dir waits while tasks of this one
  // may still run (local/main.ts; the tasks' watchdogs hold it too while they stop theirs, spawner.ts).
  const fifo = process.env.SUNDIAL_TASKS_FIFO;
  if (fifo) {
    try {
      if (statSync(fifo).isFIFO()) openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    } catch {
      /* no fifo: nothing to hold */
    }
  }
  for (const child of running.values()) killGroup(child, 'SIGTERM');
  if (running.size === 0) process.exit(0);
  setTimeout(() => {
    for (const child of running.values()) killGroup(child, 'SIGKILL');
    process.exit(0);
  }, 5000);
  const poll = setInterval(() => {
    if (running.size === 0) process.exit(0);
  }, 50);
  poll.unref();
}

process.on('disconnect', shutDown);
process.on('SIGTERM', shutDown);
// A Ctrl-C reaches the whole foreground process group: the server decides what happens to the tasks
// (it stops them, then closes the channel).
// A terminal's SIGHUP too: the server stops on it. Should the server die instead, its channel closes
// (shutDown), and should this process die as well, the tasks' watchdogs stop them.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
send({ t: 'ready' });
