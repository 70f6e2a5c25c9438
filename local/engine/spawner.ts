/**
 * The server's side of the spawner (spawner-process.mjs): tasks' processes are started by a small helper process
 * rather than by the server itself, whose forks blocked its event loop 10–15 ms each. A task looks like
 * a child process to the executor: its pid, its stdout and stderr as streams, a way to signal its process
 * group, and how it ended.
 */
import { type ChildProcess, fork } from 'node:child_process';
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
const SH = '/bin/sh';
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
 * How no task outlives the server, however it dies (SIGKILL included). A task runs in a process group of
 * its own (the spawner starts it detached: a signal to the server's group, a terminal's SIGHUP or a
 * `kill -9 -- -pgid`, does not reach it), and in that group, next to it, a watchdog: a subshell of sh
 * blocked reading its stdin, a pipe whose only write end the spawner holds. When the spawner ends, however
 * it ends, the kernel closes that end and the read returns end-of-file: the watchdog SIGTERMs the task's
 * group, and SIGKILLs it once the task is gone or after KILL_GRACE_TENTHS (5 s, the executor's grace).
 * When the task ends normally the spawner writes `done` and the watchdog exits without a signal.
 * - Node cannot ask for PR_SET_PDEATHSIG, and a watchdog in the server's group would die with it; a pipe's
 *   end-of-file is delivered whatever killed its writer.
 * - The watchdog is a member of the group it signals, so the group's id (the task's pid) stays allocated
 *   while it waits: its `kill -TERM -pgid` can never reach another process that was given the same number.
 * - It is started by a subshell that ends at once (double fork): it is not a child of the task, whose
 *   `wait` or reaping it would disturb; sh then execs the task, whose pid is the one the spawner knows.
 * - Its stdout and stderr go to /dev/null: it must not hold the task's pipes open (the spawner waits for
 *   them to close), and the task's stdin is /dev/null, as before, not the watchdog's pipe.
 * - While it stops a task it holds `$SUNDIAL_TASKS_FIFO` open (`<dataDir>/tasks.fifo`, set by local/main.ts),
 *   as the spawner does while it stops tasks: a server starting on the same data dir waits until nobody
 *   does, so that a run it reports failed (retryable) has no process of an earlier server still running.
 * - It is POSIX sh (`/bin/sh`: dash on Debian), not bash: a task's wrapper, its subshell and its watchdog
 *   cost less CPU and time (docs/PERFORMANCE.md, "The task wrapper"). Two of sh's rules it works around:
 *   an asynchronous list's stdin is /dev/null before its own redirections (so the pipe is passed as fd 3,
 *   which the task does not get), and dash's `kill` takes no `--` (a negative pid follows the signal).
 *   It closes no descriptor: the spawner has none a task could inherit (it was started without the
 *   server's, `withoutInheritedFds`, and Node opens its own close-on-exec; test/local/engine/spawner.test.ts).
 */
const KILL_GRACE_TENTHS = 50;
const WATCHED_TASK = `exec 3<&0
( ( trap '' TERM INT HUP QUIT
    IFS= read -r word
    [ "$word" = done ] && exit 0
    [ -p "\${SUNDIAL_TASKS_FIFO:-}" ] && exec 4<>"$SUNDIAL_TASKS_FIFO"
    kill -TERM -$$ 2>/dev/null
    n=0; while kill -0 $$ 2>/dev/null && [ $n -lt ${KILL_GRACE_TENTHS} ]; do sleep 0.1; n=$((n+1)); done
    kill -KILL -$$ 2>/dev/null
  ) <&3 3<&- >/dev/null 2>&1 & )
unset SUNDIAL_TASKS_FIFO
exec "$@" </dev/null 3<&-`;

/**
 * `[file, argv, watched]` that runs a task's `command args` with a watchdog that stops its process group
 * when the spawner ends (`watched`: the spawner must give it a stdin pipe and write `done` to it when the
 * task ended). Without /bin/sh, the command as is.
 */
export function watchedTask(command: string, args: string[]): [string, string[], boolean] {
  if (!existsSync(SH)) return [command, args, false];
  // A non-interactive sh reads no startup file (bash as sh neither: not even the ~/.bashrc it would read
  // as bash, taking a socket stdin for rshd's).
  return [SH, ['-c', WATCHED_TASK, 'sundial-task', command, ...args], true];
}

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

  constructor(private readonly log: (line: string) => void) {}

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
    const [command, args, watched] = watchedTask(file, argv);
    const spawner = this.ensure();
    spawner.send({ t: 'spawn', id, file: command, argv: args, env, watched }, (err) => {
      if (err) this.settle(id, { code: null, signal: null, error: err });
    });
    return {
      stdout,
      stderr,
      ended,
      kill: (signal) => {
        if (!pending.exited && this.child?.connected) this.child.send({ t: 'kill', id, signal });
      },
      get exited() {
        return pending.exited;
      },
    };
  }

  /** Closes the channel: the spawner stops what still runs (SIGTERM, SIGKILL after 5 s) and exits. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.disconnect();
    await exited;
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
    const child = fork(SPAWNER, [], {
      execPath: file,
      execArgv: file === process.execPath ? SPAWNER_NODE_FLAGS : args.slice(0, -1),
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (m: FromSpawner) => this.onMessage(m));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      // Whatever it was running is gone with it.
      for (const id of [...this.tasks.keys()]) {
        this.settle(id, { code: null, signal: null, error: new Error(`the local task spawner exited (${signal ?? `code ${code}`})`) });
      }
    });
    child.on('error', (err) => this.log(`local task spawner: ${err.message}`));
    this.child = child;
    return child;
  }

  private onMessage(m: FromSpawner): void {
    if (m.t === 'ready' || m.t === 'spawned') return;
    const task = this.tasks.get(m.id);
    if (!task) return;
    if (m.t === 'data') {
      (m.source === 'stdout' ? task.stdout : task.stderr).write(m.chunk);
      // Received and handed on: let the spawner send more (it pauses a task with 64 chunks unacknowledged).
      if (++task.received % ACK_EVERY === 0 && this.child?.connected) this.child.send({ t: 'ack', id: m.id, n: ACK_EVERY }, () => undefined);
    }
    else if (m.t === 'exit') this.settle(m.id, { code: m.code, signal: m.signal });
    else this.settle(m.id, { code: null, signal: null, error: new Error(m.message) });
  }
}
