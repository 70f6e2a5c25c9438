/**
 * The local task spawner (local/engine/spawner.ts): a task's output arrives whole and in order however
 * much there is (the spawner pauses a task whose output the server has not acknowledged yet), exit codes
 * and signals come back, closing the spawner stops what still runs, and a task gets no descriptor of the
 * server's (LevelDB's files).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamo } from '../../../local/dynalite';
import { Spawner } from '../../../local/engine/spawner';
import { UNTIL_STOPPED } from '../../helpers/factories';
import { groupMembers, killGroup } from '../../faults/support';
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

describe('the task spawner', () => {
  it('delivers 20 MB of output whole and in order, then the exit code', async () => {
    spawner = new Spawner(() => undefined);
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

  it('reports a non-zero exit, a signal, and a command that cannot start', async () => {
    spawner = new Spawner(() => undefined);
    expect(await spawner.spawn('/bin/sh', ['-c', 'echo oops >&2; exit 3'], env).ended).toEqual({ code: 3, signal: null });

    const sleeper = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
    await started(sleeper);
    sleeper.kill('SIGTERM');
    expect(await sleeper.ended).toEqual({ code: null, signal: 'SIGTERM' });

    const missing = await spawner.spawn('/no/such/command', [], env).ended;
    expect(missing.code).not.toBe(0);
  });

  it('stops what still runs when it is closed', async () => {
    spawner = new Spawner(() => undefined);
    const task = spawner.spawn('/bin/sh', ['-c', `echo up; ${UNTIL_STOPPED}`], env);
    await started(task);

    await spawner.close();

    expect((await task.ended).code).not.toBe(0);
    expect(task.exited).toBe(true);
  });

  it("stops a task's whole process group when the spawner itself is SIGKILLed (nothing left to stop it)", async () => {
    spawner = new Spawner(() => undefined);
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
    spawner = new Spawner(() => undefined);
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

  it('starts a new guard, told of every task running, when its guard is killed: the tasks are still stopped when the spawner is SIGKILLed', async () => {
    spawner = new Spawner(() => undefined);
    const task = spawner.spawn('/bin/sh', ['-c', `echo $$; ${UNTIL_STOPPED}`], env);
    let out = '';
    task.stdout.on('data', (chunk: string) => (out += chunk));
    const pgid = Number((await until(async () => out, (o) => o.includes('\n'))).trim());
    const spawnerPid = (spawner as unknown as { child: ChildProcess }).child.pid!;
    /** The spawner's guards: its children whose command is the guard's script. */
    const guards = () =>
      readdirSync('/proc')
        .filter((e) => /^\d+$/.test(e))
        .filter((pid) => {
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            return ppid === spawnerPid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('groups=');
          } catch {
            return false; // ended while we looked
          }
        })
        .map(Number);
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

  it("does not run the user's ~/.bashrc around a task (bash would, taking its socket stdin for rshd's)", async () => {
    spawner = new Spawner(() => undefined);
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
      spawner = new Spawner(() => undefined);

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
