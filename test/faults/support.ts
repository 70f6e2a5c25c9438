/** Fault-test helpers: the local mode as a real child process (to SIGKILL it), and its processes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { until } from '../helpers/until';

export interface ChildSundial {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Waits for the process to exit. */
  exited: Promise<void>;
}

/**
 * `npm start` as a child process (`tsx local/main.ts`) on `dataDir`. The test process's
 * `SUNDIAL_TASK_DEFINITION_FILE` (test/global-setup.ts) passes through, so it starts without synthesizing.
 */
export async function startChild(
  dataDir: string,
  timeoutMs = 30_000,
  options: { detached?: boolean; /** Told what it printed so far, on every chunk, while it starts too. */ onOutput?: (output: string) => void } = {},
): Promise<ChildSundial> {
  // PORT=0: the server binds a port the kernel picks and prints its URL. A port chosen here and bound there
  // could be taken in between by another test file's server (it was, on CI: "port … is in use").
  // node itself with tsx's loader, not the tsx CLI: the CLI runs the server in a grandchild that a
  // SIGKILL of the CLI would leave running.
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0', SUNDIAL_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group (a terminal's job): a signal to the group reaches the server and its spawner.
    detached: options.detached ?? false,
  });
  let out = '';
  const add = (c: Buffer) => {
    out += c.toString();
    options.onOutput?.(out);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The URL once it is whole: followed by the space of the line's rest (a chunk may end inside it).
  const listening = () => /sundial listening on (http:\/\/\S+)\s/.exec(out)?.[1];
  try {
    await until(async () => listening() !== undefined || child.exitCode !== null, Boolean, timeoutMs);
  } catch {
    child.kill('SIGKILL');
    throw new Error(`the local server did not start in ${timeoutMs} ms:\n${out}`);
  }
  const url = listening();
  if (child.exitCode !== null || !url) throw new Error(`the local server exited early:\n${out}`);
  return { url, child, output: () => out, exited };
}

/** Kills a detached process group (a task's shell) if it still runs. */
export function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/** Each process's pid and its `stat` fields after `(comm)` (state, ppid, pgrp, …), read from /proc (Linux). */
function processes(): { pid: number; fields: string[] }[] {
  const found: { pid: number; fields: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended while we looked
    }
    // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses, so split after the last ')'.
    found.push({ pid: Number(entry), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') });
  }
  return found;
}

/** Live (not zombie) processes whose process group is `pgid`, read from /proc (Linux). */
export function groupMembers(pgid: number): number[] {
  return processes()
    .filter(({ fields: [state, , pgrp] }) => Number(pgrp) === pgid && state !== 'Z' && state !== 'X')
    .map(({ pid }) => pid);
}

/** Children of `parent` whose command line includes `marker`, read from /proc (Linux). */
export function childrenOf(parent: number, marker: string): number[] {
  return processes()
    .filter(({ pid, fields: [, ppid] }) => {
      if (Number(ppid) !== parent) return false;
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false; // ended while we looked
      }
    })
    .map(({ pid }) => pid);
}
