/**
 * The local task spawner (local/engine/spawner.ts): a task's output arrives whole and in order however
 * much there is (the spawner pauses a task whose output the server has not acknowledged yet), exit codes
 * and signals come back, closing the spawner stops what still runs, and a task gets no descriptor of the
 * server's (LevelDB's files). All of it twice: tasks started by the fork server (python3's posix_spawn,
 * fork-server.py) and by Node (without python3, or SUNDIAL_FORK_SERVER=0).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamo } from '../../../local/dynalite';
import { findPython } from '../../../local/engine/python.mjs';
import { Spawner } from '../../../local/engine/spawner';
import { UNTIL_STOPPED } from '../../helpers/factories';
import { childrenOf, groupMembers, killGroup } from '../../faults/support';
import { until } from '../../helpers/until';

let spawner: Spawner;
afterEach(() => spawner?.close());

const env = { PATH: process.env.PATH };

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text;
}

/** Waits until a task has printed its first line: its process runs. */
async function started(task: { stdout: NodeJS.ReadableStream }): Promise<void> {
  let out = '';
  task.stdout.on('data', (chunk: string) => (out += chunk));
  await until(async () => out, (o) => o.includes('\n'));
}

const modes: [string, { forkServer?: boolean }][] = [
  // Without python3 (.ci/run installs it) Node starts the tasks: what this mode tests does not exist.
  ...(findPython() ? [['the fork server', {}] as [string, { forkServer?: boolean }]] : []),
  ['Node', { forkServer: false }],
];

describe.each(modes)('the task spawner, tasks started by %s', (mode, options) => {
  it('delivers 20 MB of output whole and in order, then the exit code', async () => {
    spawner = new Spawner(() => undefined, options);
    // 200,000 numbered lines of 100 bytes: hundreds of pipe reads, far more than the 64 chunks the spawner
    // sends before it waits for the server's acknowledgements.
    const task = spawner.spawn('/bin/sh', ['-c', 'seq -f "%099g" 1 200000'], env);
    const [out, ended] = await Promise.all([collect(task.stdout), task.ended]);

    const lines = out.split('\n').filter(Boolean);
    expect(ended).toEqual({ code: 0, signal: null });
    expect(lines).toHaveLength(200_000);
    expect(lines[0]).toBe(`${'0'.repeat(98)}1`);
    expect(lines.at(-1)).toBe(`${'0'.repeat(93)}200000`);
    expect(lines.every((line, i) => Number(line) === i + 1)).toBe(true);
  }, 60_000);

  it('delivers the whole output of 100 tasks that print and end at once', async () => {
    spawner = new Spawner(() => undefined, options);
    // A task may end before the spawner has opened its pipes (the fork server's FIFOs): nothing is lost.
    const tasks = Array.from({ length: 100 }, (_, i) => spawner.spawn('/bin/sh', ['-c', `echo out ${i}; echo err ${i} >&2; echo again ${i}`], env));
    const results = await Promise.all(tasks.map((t) => Promise.all([collect(t.stdout), collect(t.stderr), t.ended])));

    results.forEach(([out, err, ended], i) => {
      expect(out).toBe(`out ${i}\nagain ${i}\n`);
      expect(err).toBe(`err ${i}\n`);
      expect(ended).toEqual({ code: 0, signal: null });
    });
  }, 60_000);

  // Node's stdio pipes are socket pairs, which /dev/stdout cannot open (ENXIO): a task Node starts cannot
  // write there, as a container can (its stdout is a pipe). The fork server's are pipes.
  it.runIf(mode !== 'Node')('gives a task pipes for stdout and stderr, write-only: /dev/stdout and /dev/stderr open as in a container', async () => {
    spawner = new Spawner(() => undefined, options);
    const task = spawner.spawn('/bin/sh', ['-c', 'echo out > /dev/stdout; echo err > /dev/stderr; ls -lL /proc/$$/fd/1 | cut -c1-4; ls -l /proc/$$/fd/1 | cut -c1-4'], env);
    const [out, err, ended] = await Promise.all([collect(task.stdout), collect(task.stderr), task.ended]);

    expect(ended).toEqual({ code: 0, signal: null });
    expect(err).toBe('err\n');
    // a FIFO (p), its descriptor write-only (l-w-)
    expect(out).toBe('out\nprw-\nl-wx\n');
  });

  it('reports a non-zero exit, a signal, and a command that cannot start', async () => {
    spawner = new Spawner(() => undefined, options);
    expect(await spawner.spawn('/bin/sh', ['-c', 'echo oops >&2; exit 3'], env).ended).toEqual({ code: 3, signal: null });

    const sleeper = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
    await started(sleeper);
    sleeper.kill('SIGTERM');
    expect(await sleeper.ended).toEqual({ code: null, signal: 'SIGTERM' });

    const missing = await spawner.spawn('/no/such/command', [], env).ended;
    expect(missing.code).not.toBe(0);

    // An argument no process can be given (a NUL byte) is refused, and the next task still starts.
    expect((await spawner.spawn('/bin/sh', ['-c', 'echo a\0b'], env).ended).error?.message).toMatch(/null|NUL|embedded/i);
    expect(await spawner.spawn('/bin/sh', ['-c', 'exit 2'], env).ended).toEqual({ code: 2, signal: null });
  });

  it('delivers a signal asked for at once, before the task is known to have started', async () => {
    spawner = new Spawner(() => undefined, options);
    const task = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
    task.kill('SIGTERM');

    expect(await task.ended).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('runs what is asked of a spawner still loading, and exits when closed then (5 rounds)', async () => {
    // The spawner is an ES module: its channel is read while it loads, and what arrived then (a spawn, a
    // kill, the channel's end) was dropped. The server now sends nothing before the spawner listens.
    for (let round = 0; round < 5; round++) {
      spawner = new Spawner(() => undefined, options);
      const other = spawner.spawn('/bin/sh', ['-c', 'exit 5'], env);
      const task = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
      task.kill('SIGTERM');
      expect(await other.ended).toEqual({ code: 5, signal: null });
      expect(await task.ended).toEqual({ code: null, signal: 'SIGTERM' });
      await spawner.close();

      // Closed before it listens: it still stops what it was asked to run, and exits.
      spawner = new Spawner(() => undefined, options);
      const last = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
      await spawner.close();
      expect((await last.ended).code).toBeNull();
    }
  }, 60_000);

  it('stops what still runs when it is closed', async () => {
    spawner = new Spawner(() => undefined, options);
    const task = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
    await started(task);

    await spawner.close();

    expect((await task.ended).code).not.toBe(0);
    expect(task.exited).toBe(true);
  });

  it("stops a task's whole process group when the spawner itself is SIGKILLed (nothing left to stop it)", async () => {
    spawner = new Spawner(() => undefined, options);
    // The task's shell leads its group and becomes `tail` there; TERM is ignored, so only the guard's
    // SIGKILL after its grace ends it (spawner-process.mjs).
    const task = spawner.spawn('/bin/sh', ['-c', `trap '' TERM; echo $$; ${UNTIL_STOPPED}`], env);
    let out = '';
    task.stdout.on('data', (chunk: string) => (out += chunk));
    const pgid = Number((await until(async () => out, (o) => o.includes('\n'))).trim());
    await until(async () => groupMembers(pgid).length, (n) => n >= 1);
    try {
      (spawner as unknown as { child: ChildProcess }).child.kill('SIGKILL');

      await until(async () => groupMembers(pgid), (left) => left.length === 0, 15_000);
      expect((await task.ended).error?.message).toMatch(/spawner exited/);
    } finally {
      killGroup(pgid);
    }
  }, 30_000);

  it('stops every group still running when the spawner is SIGKILLed after others started and ended: the guard lists each task from its start to its end', async () => {
    spawner = new Spawner(() => undefined, options);
    // 12 tasks that run until stopped, every third ignoring SIGTERM (the guard's SIGKILL ends those), then
    // 12 that end at once: their groups leave the guard's list after the others joined it.
    const long = Array.from({ length: 12 }, (_, i) => spawner.spawn('/bin/sh', ['-c', `${i % 3 === 0 ? "trap '' TERM; " : ''}echo $$; ${UNTIL_STOPPED}`], env));
    const pgids = await Promise.all(
      long.map(async (task) => {
        let out = '';
        task.stdout.on('data', (chunk: string) => (out += chunk));
        return Number((await until(async () => out, (o) => o.includes('\n'))).trim());
      }),
    );
    const quick = Array.from({ length: 12 }, () => spawner.spawn('/bin/sh', ['-c', 'true'], env));
    await Promise.all(quick.map((t) => t.ended));
    try {
      (spawner as unknown as { child: ChildProcess }).child.kill('SIGKILL');

      await until(async () => pgids.flatMap((g) => groupMembers(g)), (left) => left.length === 0, 20_000);
    } finally {
      pgids.forEach(killGroup);
    }
  }, 40_000);

  it('starts the tasks with the mode asked for', async () => {
    spawner = new Spawner(() => undefined, options);
    await spawner.spawn('/bin/sh', ['-c', 'true'], env).ended;
    const spawnerPid = (spawner as unknown as { child: ChildProcess }).child.pid!;

    expect(childrenOf(spawnerPid, 'fork-server.py')).toHaveLength(mode === 'Node' ? 0 : 1);
    expect(childrenOf(spawnerPid, 'groups=')).toHaveLength(mode === 'Node' ? 1 : 0);
  });

  it('starts a task in a session of its own, with every signal at its default and none blocked, found by name in its own PATH', async () => {
    spawner = new Spawner(() => undefined, options);
    // Python ignores SIGPIPE and SIGXFSZ, and an ignored signal is inherited across exec.
    // The shell reads its own status with builtins only: a child's read of it could meet the shell's mask
    // while it blocks every signal around a fork.
    const script = 'while read -r line; do case $line in SigBlk*|SigIgn*) echo "$line" ;; esac; done < /proc/$$/status; ps -o sid= -o pgid= -p $$; echo $$; kill -PIPE $$; echo survived';
    const task = spawner.spawn('sh', ['-c', script], env);
    const [out, ended] = await Promise.all([collect(task.stdout), task.ended]);

    const [blk, ign, ids, pid] = out.trim().split('\n');
    expect(blk).toMatch(/^SigBlk:\s+0{16}$/);
    // Signal n is bit n - 1. glibc's posix_spawn leaves its two internal signals (32 and 33, below SIGRTMIN,
    // which no program is given to use) ignored in the child: a plain C program that calls it does too.
    expect(BigInt(`0x${ign?.split(/\s+/)[1]}`) & ~0x1_8000_0000n).toBe(0n);
    expect(ids?.trim().split(/\s+/)).toEqual([pid, pid]);
    expect(ended).toEqual({ code: null, signal: 'SIGPIPE' });
  });

  it.runIf(mode !== 'Node')("starts the tasks with Node, and says why, when the fork server cannot make its FIFOs' directory", async () => {
    // Prepare: a TMPDIR that cannot hold a directory (a file), seen by the spawner it forks at its first task
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = '/etc/passwd/sundial';
    spawner = new Spawner(() => undefined, options);
    let task: ReturnType<Spawner['spawn']>;
    try {
      task = spawner.spawn('/bin/sh', ['-c', 'echo hi'], env);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // Act
    const [out, ended] = await Promise.all([collect(task.stdout), task.ended]);
    // Assess: the task ran (before, the spawner died at its start and every task failed with its stack)
    expect(ended).toEqual({ code: 0, signal: null });
    expect(out).toBe('hi\n');
    const spawnerPid = (spawner as unknown as { child: ChildProcess }).child.pid!;
    expect(childrenOf(spawnerPid, 'groups=')).toHaveLength(1);
  });

  it.runIf(mode === 'Node')('starts a new guard, told of every task running, when its guard is killed: the tasks are still stopped when the spawner is SIGKILLed', async () => {
    spawner = new Spawner(() => undefined, options);
    const task = spawner.spawn('/bin/sh', ['-c', `echo $$; ${UNTIL_STOPPED}`], env);
    let out = '';
    task.stdout.on('data', (chunk: string) => (out += chunk));
    const pgid = Number((await until(async () => out, (o) => o.includes('\n'))).trim());
    const spawnerPid = (spawner as unknown as { child: ChildProcess }).child.pid!;
    /** The spawner's guards: its children whose command is the guard's script. */
    const guards = () => childrenOf(spawnerPid, 'groups=');
    const [first] = await until(async () => guards(), (g) => g.length === 1);
    try {
      process.kill(first!, 'SIGKILL');
      await until(async () => guards(), (g) => g.length === 1 && g[0] !== first);
      (spawner as unknown as { child: ChildProcess }).child.kill('SIGKILL');

      await until(async () => groupMembers(pgid), (left) => left.length === 0, 15_000);
    } finally {
      killGroup(pgid);
    }
  }, 30_000);

  it.runIf(mode !== 'Node')('stops and reports the tasks of a fork server that is killed, and starts the next task on a new one', async () => {
    spawner = new Spawner(() => undefined, options);
    const task = spawner.spawn('/bin/sh', ['-c', `trap '' TERM; echo $$; ${UNTIL_STOPPED}`], env);
    let out = '';
    task.stdout.on('data', (chunk: string) => (out += chunk));
    const pgid = Number((await until(async () => out, (o) => o.includes('\n'))).trim());
    const spawnerPid = (spawner as unknown as { child: ChildProcess }).child.pid!;
    const [first] = childrenOf(spawnerPid, 'fork-server.py');
    try {
      process.kill(first!, 'SIGKILL');

      // Nobody could tell how it ends: it is stopped, and reported so.
      expect((await task.ended).error?.message).toMatch(/fork server exited \(SIGKILL\)/);
      await until(async () => groupMembers(pgid), (left) => left.length === 0, 15_000);
      expect(await spawner.spawn('/bin/sh', ['-c', 'exit 4'], env).ended).toEqual({ code: 4, signal: null });
      expect(childrenOf(spawnerPid, 'fork-server.py').filter((pid) => pid !== first)).toHaveLength(1);
    } finally {
      killGroup(pgid);
    }
  }, 30_000);

  it("does not run the user's ~/.bashrc around a task (bash would, taking its socket stdin for rshd's)", async () => {
    spawner = new Spawner(() => undefined, options);
    const home = mkdtempSync(join(tmpdir(), 'sundial-home-'));
    try {
      writeFileSync(join(home, '.bashrc'), `touch '${join(home, 'bashrc-ran')}'\n`);
      // No SHLVL, as in an environment built from scratch: bash's remote-shell heuristic needs it unset.
      const ended = await spawner.spawn('/bin/sh', ['-c', 'true'], { PATH: process.env.PATH, HOME: home }).ended;

      expect(ended).toEqual({ code: 0, signal: null });
      expect(existsSync(join(home, 'bashrc-ran'))).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("gives a task no descriptor of the server's: the local store's LevelDB files, open without close-on-exec, stay with the server", async () => {
    // Prepare: the local store on disk, as `npm start` opens it, in this process.
    const dataDir = mkdtempSync(join(tmpdir(), 'spawner-fds-'));
    const store = await startDynamo(dataDir);
    try {
      // O_CLOEXEC is 02000000 in the octal `flags:` of /proc/<pid>/fdinfo/<fd> (proc(5)).
      const inheritable = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
          return Number(fd) > 2 && flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0 && readlinkSync(`/proc/self/fd/${fd}`).startsWith(dataDir);
        } catch {
          return false; // closed meanwhile (the listing's own descriptor)
        }
      });
      // The hazard is real: LevelDB's files (its LOCK among them) would pass to any process this one starts.
      expect(inheritable.length).toBeGreaterThan(0);
      spawner = new Spawner(() => undefined, options);

      // Act: the task lists its shell's descriptors.
      const task = spawner.spawn('/bin/sh', ['-c', 'ls /proc/$$/fd'], env);
      const [out, ended] = await Promise.all([collect(task.stdout), task.ended]);

      // Assess: stdin, stdout and stderr only.
      expect(ended).toEqual({ code: 0, signal: null });
      expect(out.split('\n').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2]);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
