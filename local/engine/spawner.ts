/**
 * The server's side of the spawner (spawner-process.mjs): tasks' processes are started by a small helper process
 * rather than by the server itself, whose forks blocked its event loop 10–15 ms each. A task looks like
 * a child process to the executor: its pid, its stdout and stderr as streams, a way to signal its process
 * group, and how it ended.
 */
import { type ChildProcess, fork, type Serializable } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const SPAWNER = fileURLToPath(new URL('./spawner-process.mjs', import.meta.url));
/**
 * The spawner's Node flags: a 1 MB young generation (V8's default grows to 16 MB a semi-space). It keeps
 * little alive, and with a thousand tasks running at once the default let it grow from 43 to 108 MB of
 * RSS, 83 MB with this, in the same time (docs/PERFORMANCE.md, "Local runtime (issue 18)").
 */
const SPAWNER_NODE_FLAGS = ['--max-semi-space-size=1'];
const BASH = '/bin/bash';
/**
 * bash (dash cannot name descriptors above 9): close every fd above stderr (but the one named by
 * `$KEEP_FD`, if any), then exec the command given as arguments. LevelDB (dynalite) opens its files
 * without close-on-exec: a process started after it would inherit them, hold the data dir's LOCK after
 * the server died (no restart possible) and could write into the store.
 */
const CLOSE_FDS = 'for f in /dev/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ] 2>/dev/null && [ "$n" != "${KEEP_FD:-}" ]; then eval "exec $n>&-" 2>/dev/null; fi; done; unset KEEP_FD';
const CLOSE_INHERITED_FDS = `${CLOSE_FDS}; exec "$@"`;

/** `[file, argv]` that runs `command args` with no inherited descriptor above stderr (but `keepFd`). */
export function withoutInheritedFds(command: string, args: string[], keepFd?: number): [string, string[], Record<string, string>] {
  if (!existsSync(BASH)) return [command, args, {}];
  return [BASH, ['-c', CLOSE_INHERITED_FDS, 'sundial-task', command, ...args], keepFd === undefined ? {} : { KEEP_FD: String(keepFd) }];
}

/**
 * How no task outlives the server, however it dies (SIGKILL included): spawner-process.mjs. A task runs in
 * a process group of its own (the spawner starts it detached: a signal to the server's group, a terminal's
 * SIGHUP or a `kill -9 -- -pgid`, does not reach it). One guard process, started by the spawner in a group
 * of its own, is told each task's group as it starts and as it ends, on a pipe whose only write end the
 * spawner holds: when the spawner ends, however it ends, the guard reads end-of-file, SIGTERMs the groups
 * still running and SIGKILLs them once gone or after 5 s (the executor's grace), holding
 * `$SUNDIAL_TASKS_FIFO` meanwhile. Until 2026-12-04 each task ran beside a watchdog of its own in its group
 * (a wrapper sh, a subshell and a background one: three processes and an exec more per task, 37 % of a
 * 1,000-task DAG's wall time here: docs/PERFORMANCE.md "One guard for all tasks").
 */

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

/** A task's process, as the spawner started it. */
export interface SpawnedTask {
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  /** Settles when the process ended and both its pipes are drained into stdout/stderr. */
  readonly ended: Promise<Ended>;
  /** Signals the task's process group (nothing when it has ended). */
  kill(signal: NodeJS.Signals): void;
  readonly exited: boolean;
}

/** Output chunks of a task acknowledged to the spawner at once (it allows 64 in flight per task). */
const ACK_EVERY = 16;

interface Pending {
  /** Output chunks received so far. */
  received: number;
  stdout: PassThrough;
  stderr: PassThrough;
  settle: (e: Ended) => void;
  exited: boolean;
}

type FromSpawner =
  | { t: 'ready' }
  | { t: 'spawned'; id: string; pid: number }
  | { t: 'data'; id: string; source: 'stdout' | 'stderr'; chunk: string }
  | { t: 'exit'; id: string; code: number | null; signal: NodeJS.Signals | null }
  | { t: 'error'; id: string; message: string };

export class Spawner {
  private child: ChildProcess | undefined;
  private readonly tasks = new Map<string, Pending>();
  private seq = 0;
  /** Messages for the spawner until it listens (undefined once it does). */
  private waiting: [unknown, (err: Error | null) => void][] | undefined;
  /** Settles once the spawner listens. */
  private ready: Promise<void> = Promise.resolve();

  /**
   * `forkServer: false` has Node start the tasks (as without python3) instead of the fork server
   * (spawner-process.mjs, fork-server.py).
   */
  constructor(
    private readonly log: (line: string) => void,
    private readonly options: { forkServer?: boolean } = {},
  ) {}

  /** Starts `file argv` with `env` (the whole environment) in its own process group. */
  spawn(file: string, argv: string[], env: Record<string, string | undefined>): SpawnedTask {
    const id = String(++this.seq);
    const stdout = new PassThrough({ encoding: 'utf8' });
    const stderr = new PassThrough({ encoding: 'utf8' });
    let settle!: (e: Ended) => void;
    const settled = new Promise<Ended>((resolve) => {
      settle = resolve;
    });
    const pending: Pending = { received: 0, stdout, stderr, exited: false, settle };
    this.tasks.set(id, pending);
    const ended = settled.then((e) => {
      pending.exited = true;
      stdout.end();
      stderr.end();
      return e;
    });
    this.ensure();
    this.send({ t: 'spawn', id, file, argv, env }, (err) => {
      if (err) this.settle(id, { code: null, signal: null, error: err });
    });
    return {
      stdout,
      stderr,
      ended,
      kill: (signal) => {
        if (!pending.exited) this.send({ t: 'kill', id, signal });
      },
      get exited() {
        return pending.exited;
      },
    };
  }

  /** Closes the channel: the spawner stops what still runs (SIGTERM, SIGKILL after 5 s) and exits. */
  async close(): Promise<void> {
    const child = this.child;
    const ready = this.ready;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Not before it listens: a channel closed while it loads is lost on it, and it would never stop.
    await Promise.race([ready, exited]);
    if (child.connected) child.disconnect();
    await exited;
  }

  /**
   * Sends `message` once the spawner listens ({t:'ready'}): what reaches an ES module's process while it
   * loads is read and dropped (Node's channel reads from the process's start), its channel's end too.
   */
  private send(message: unknown, callback: (err: Error | null) => void = () => undefined): void {
    if (this.waiting) this.waiting.push([message, callback]);
    else if (this.child?.connected) this.child.send(message as Serializable, callback);
  }

  private settle(id: string, e: Ended): void {
    const task = this.tasks.get(id);
    if (!task) return;
    this.tasks.delete(id);
    task.settle(e);
  }

  private ensure(): ChildProcess {
    if (this.child?.connected) return this.child;
    // Its IPC descriptor is the one kept open; LevelDB's are closed before node starts.
    const [file, args, extraEnv] = withoutInheritedFds(process.execPath, [...SPAWNER_NODE_FLAGS, SPAWNER], 3);
    this.waiting = [];
    let readied!: () => void;
    this.ready = new Promise<void>((resolve) => {
      readied = resolve;
    });
    const child = fork(SPAWNER, [], {
      execPath: file,
      execArgv: file === process.execPath ? SPAWNER_NODE_FLAGS : args.slice(0, -1),
      env: { ...process.env, ...extraEnv, ...(this.options.forkServer === false ? { SUNDIAL_FORK_SERVER: '0' } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (m: FromSpawner) => {
      if (m.t !== 'ready') return this.onMessage(m);
      readied();
      // What waited was for this spawner (a closed one's were dropped: closing stops everything anyway).
      if (child !== this.child) return;
      const waiting = this.waiting ?? [];
      this.waiting = undefined;
      for (const [message, callback] of waiting) this.send(message, callback);
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.waiting = undefined;
      }
      // Whatever it was running is gone with it.
      for (const id of [...this.tasks.keys()]) {
        this.settle(id, { code: null, signal: null, error: new Error(`the local task spawner exited (${signal ?? `code ${code}`})`) });
      }
    });
    child.on('error', (err) => this.log(`local task spawner: ${err.message}`));
    this.child = child;
    return child;
  }

  private onMessage(m: Exclude<FromSpawner, { t: 'ready' }>): void {
    if (m.t === 'spawned') return;
    const task = this.tasks.get(m.id);
    if (!task) return;
    if (m.t === 'data') {
      (m.source === 'stdout' ? task.stdout : task.stderr).write(m.chunk);
      // Received and handed on: let the spawner send more (it pauses a task with 64 chunks unacknowledged).
      if (++task.received % ACK_EVERY === 0) this.send({ t: 'ack', id: m.id, n: ACK_EVERY });
    }
    else if (m.t === 'exit') this.settle(m.id, { code: m.code, signal: m.signal });
    else this.settle(m.id, { code: null, signal: null, error: new Error(m.message) });
  }
}
