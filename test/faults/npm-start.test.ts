/**
 * `npm start` as a user runs it: it stops on a SIGINT sent to npm's own process (npm forwards it to its
 * script, and the script must be the server, not a shell waiting for it), its log lines carry a timestamp,
 * and a data directory it cannot write fails at start, naming the directory and the system's reason, as
 * does a store whose table an interrupted first start left CREATING (what to remove, and no stack trace),
 * and a data directory another server is using (which process, and no stack trace).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/local';
import { createLocalTable } from '../helpers/local-table';
import { killGroup } from './support';
import { until } from '../helpers/until';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  // Each in a process group of its own: should a test fail, npm's shell and server go with it.
  for (const c of children) killGroup(c.pid);
  for (const d of dirs) {
    chmodSync(d, 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function start(command: string, args: string[], env: Record<string, string>): Started {
  const child = spawn(command, args, { cwd: process.cwd(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** Settles with the exit code, or fails after `ms` with what the process printed. */
async function exitWithin(s: Started, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${s.output()}`)), ms);
  });
  try {
    return await Promise.race([s.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const ISO = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`;

describe('npm start', () => {
  it('stamps each log line with the time, and stops on a SIGINT to npm itself', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const npm = start('npm', ['start', '--silent'], { PORT: '0', SUNDIAL_DATA_DIR: dataDir });
    const url = (await until(async () => npm.output(), (o) => /listening on http:\/\/\S+/.test(o) || npm.child.exitCode !== null, 60_000)).match(/listening on (http:\/\/[^\s]+)/)?.[1];
    expect(url, npm.output()).toBeDefined();
    expect((await fetch(`${url}/api/process_definitions`)).status).toBe(200);

    // The request's log line: `<ISO time> GET /api/process_definitions 200 1.2ms`
    const requestLine = await until(async () => npm.output().split('\n').find((l) => l.includes('GET /api/process_definitions')), (l) => l !== undefined);
    expect(requestLine).toMatch(new RegExp(`^${ISO} GET /api/process_definitions 200 `));
    const stamp = Date.parse(requestLine!.slice(0, 24));
    expect(Math.abs(Date.now() - stamp)).toBeLessThan(60_000);
    expect(npm.output()).toMatch(new RegExp(`^${ISO} sundial listening on `, 'm'));

    npm.child.kill('SIGINT');

    expect(await exitWithin(npm, 20_000)).toBe(0);
    await expect(fetch(`${url}/api/process_definitions`)).rejects.toThrow();
  }, 90_000);

  /** `npm start`'s program, run directly (npm adds nothing to how it fails), as `user` when given. */
  const server = (env: Record<string, string>, user?: number) =>
    user === undefined
      ? start(process.execPath, ['--import', 'tsx', 'local/main.ts'], env)
      : start('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--clear-groups', process.execPath, '--import', 'tsx', 'local/main.ts'], { ...env, HOME: '/tmp' });

  it('fails at start, naming the directory and ENOTDIR, when the data directory lies under a file', async () => {
    const parent = tempDataDir();
    dirs.push(parent);
    writeFileSync(join(parent, 'file'), '');
    const dataDir = join(parent, 'file', 'data');

    const s = server({ PORT: '0', SUNDIAL_DATA_DIR: dataDir });

    expect(await exitWithin(s, 30_000)).toBe(1);
    expect(s.output()).toMatch(new RegExp(`^${ISO} could not start: the data directory ${dataDir} cannot be used \\(ENOTDIR: not a directory`, 'm'));
    expect(s.output()).not.toMatch(/Database is closed/);
  }, 40_000);

  it('fails at start, naming the directory and EACCES, when the store is in a directory the user cannot write', async (ctx) => {
    // Root writes anywhere: as root, the server runs as `nobody` (setpriv, util-linux).
    const asRoot = process.getuid?.() === 0;
    if (asRoot && !existsSync('/usr/bin/setpriv') && !existsSync('/bin/setpriv')) {
      console.warn('skipped: running as root, and no setpriv to run the server as an unprivileged user (root ignores permissions)');
      ctx.skip();
    }
    const readable = ['local/main.ts', 'node_modules/tsx/package.json'].map((f) => `test -r ${f}`).join(' && ');
    if (asRoot && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', readable]).status !== 0) {
      console.warn('skipped: running as root, and the checkout is not readable by the unprivileged user (65534) the server would run as');
      ctx.skip();
    }
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    // As a store from an earlier run, left read-only: LevelDB's open failure surfaced as "Database is closed".
    mkdirSync(join(dataDir, 'dynamodb'));
    chmodSync(join(dataDir, 'dynamodb'), 0o555);
    chmodSync(dataDir, 0o555);

    const s = server({ PORT: '0', SUNDIAL_DATA_DIR: dataDir }, asRoot ? 65534 : undefined);

    expect(await exitWithin(s, 30_000)).toBe(1);
    expect(s.output()).toMatch(new RegExp(`^${ISO} could not start: the data directory ${dataDir} cannot be used \\(EACCES: permission denied`, 'm'));
    expect(s.output()).not.toMatch(/Database is closed/);
  }, 40_000);

  it('fails at start, naming what to remove and without a stack trace, when a first start left its table CREATING', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const store = await createLocalTable(dataDir, { indexes: [], active: false, createTableMs: 2_000 });

    const s = server({ PORT: '0', SUNDIAL_DATA_DIR: dataDir });

    expect(await exitWithin(s, 30_000)).toBe(1);
    expect(s.output()).toMatch(new RegExp(`^${ISO} could not start: the local store's table sundial in ${store} was left CREATING .*: remove ${store} and start again$`, 'm'));
    expect(s.output()).not.toMatch(/^\s+at /m);
  }, 40_000);
  it('fails at start, naming the server that holds it and without a stack trace, when the data directory is in use', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const first = server({ PORT: '0', SUNDIAL_DATA_DIR: dataDir });
    await until(async () => first.output(), (o) => /listening on http:\/\/\S+/.test(o) || first.child.exitCode !== null, 60_000);
    expect(first.output()).toMatch(/listening on/);

    try {
      const second = server({ PORT: '0', SUNDIAL_DATA_DIR: dataDir });

      expect(await exitWithin(second, 30_000)).toBe(1);
      expect(second.output()).toMatch(
        new RegExp(`^${ISO} could not start: the data directory ${dataDir} is in use by another Sundial server \\(process ${first.child.pid}\\); stop it first, or set SUNDIAL_DATA_DIR to another directory$`, 'm'),
      );
      expect(second.output()).not.toMatch(/^\s+at /m);
      expect(second.output()).not.toMatch(/Database is closed/);
    } finally {
      first.child.kill('SIGINT');
      await exitWithin(first, 20_000);
    }
  }, 90_000);
});
