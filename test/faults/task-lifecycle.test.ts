/**
 * No task process outlives its local server, however the server dies: `npm start` in a terminal of its
 * own (its own process group), five long tasks running, then the terminal closes (SIGHUP to the group),
 * the group is SIGKILLed, the server alone is SIGKILLed (its spawner survives it), or it is stopped
 * (SIGTERM, SIGINT). Every process of every task (the task's shell and its `sleep`) must be gone soon after.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient, shellScript, tempDataDir, UNTIL_STOPPED } from '../helpers/local';
import { type ChildSundial, groupMembers, killGroup, startChild } from './support';
import { until } from '../helpers/until';

const TASKS = 5;
/**
 * Deadlines, not waits: five servers start side by side in this file, and on a machine at ten times its
 * cores a start took over 30 s. A case starts up to two servers and waits for the guard's 5 s grace.
 */
const SERVER_START_MS = 90_000;
const CASE_MS = 240_000;
/** Per case: its server, its tasks' process groups and its data dir, cleaned up whatever the outcome. */
interface Case {
  server?: ChildSundial;
  groups: number[];
  dataDir: string;
}
const cases: Case[] = [];

afterAll(async () => {
  for (const c of cases) {
    if (c.server && c.server.child.exitCode === null && c.server.child.signalCode === null) {
      killGroup(c.server.child.pid);
      await c.server.exited;
    }
    for (const pgid of c.groups) killGroup(pgid);
    rmSync(c.dataDir, { recursive: true, force: true });
  }
});

/** A server in a process group of its own running a run of TASKS tasks that run until stopped (and `extra`), once all of them run. */
async function serverWithRunningTasks(extra: Record<string, string> = {}): Promise<Required<Case>> {
  const c: Case = { groups: [], dataDir: tempDataDir() };
  cases.push(c);
  const server = await startChild(c.dataDir, SERVER_START_MS, { detached: true });
  c.server = server;
  const api = apiClient(server.url);
  const scripts: Record<string, string> = {};
  for (let i = 0; i < TASKS; i++) scripts[`sleeper-${i}`] = UNTIL_STOPPED;
  Object.assign(scripts, extra);
  // Each task records its shell's pid: it leads the task's process group (the spawner starts it detached).
  const task_definitions = Object.entries(scripts).map(([name, script]) => shellScript(name, `echo $$ > '${join(c.dataDir, `${name}.pid`)}'; ${script}`));
  expect((await api('PUT', '/api/process_definitions/long', { process_definition_name: 'long', task_definitions })).status).toBe(201);
  expect((await api('POST', '/api/process_definitions/long/trigger')).status).toBeLessThan(300);
  const files = Object.keys(scripts).map((name) => join(c.dataDir, `${name}.pid`));
  c.groups = await until(
    async () => files.map((f) => (existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0)),
    (pids) => pids.every((p) => p > 0),
  );
  for (const pgid of c.groups) expect(groupMembers(pgid).length).toBeGreaterThan(0);
  return c as Required<Case>;
}

/** Waits until no process of any of `groups` is left; fails naming the survivors. */
async function allGone(groups: number[], timeoutMs = 30_000): Promise<void> {
  await until(
    async () => groups.flatMap((g) => groupMembers(g)),
    (survivors) => survivors.length === 0,
    timeoutMs,
  );
}

// Concurrent: each case has its own server, data dir and tasks; one after the other they took over a minute.
describe.concurrent('task processes and the death of their local server', () => {
  it.each([
    ['SIGHUP', 'the process group (the terminal closes)'],
    ['SIGKILL', 'the process group'],
    ['SIGTERM', 'the process group'],
  ] as const)('%s to %s stops every task process', async (signal, _target) => {
    // A task that ignores SIGTERM must be stopped too (SIGKILL after the grace) when the group is SIGKILLed.
    const { server, groups } = await serverWithRunningTasks(signal === 'SIGKILL' ? { stubborn: `trap '' TERM; ${UNTIL_STOPPED}` } : {});

    process.kill(-server.child.pid!, signal);

    await server.exited;
    await allGone(groups);
  }, CASE_MS);

  it('SIGKILL to the server alone stops every task process', async () => {
    const { server, groups } = await serverWithRunningTasks();

    server.child.kill('SIGKILL');

    await server.exited;
    await allGone(groups);
  }, CASE_MS);

  it('a server restarted at once on the same data dir starts once the tasks of the dead one are gone, and only then reports the run failed', async () => {
    // The stubborn task outlives SIGTERM: only the guard's SIGKILL, 5 s after the group died, ends it.
    // Whether that is longer than a restart takes depends on the machine's load, so the test also holds
    // the data dir's tasks FIFO open, as the guard stopping the tasks does, until the new server says it waits.
    const c = await serverWithRunningTasks({ stubborn: `trap '' TERM; ${UNTIL_STOPPED}` });
    const run = (await apiClient(c.server.url)('GET', '/api/processes?allowed_statuses=running')).json[0];

    process.kill(-c.server.child.pid!, 'SIGKILL');
    await c.server.exited;
    const holder = openSync(join(c.dataDir, 'tasks.fifo'), constants.O_RDONLY | constants.O_NONBLOCK);
    let printed = '';
    let released = false;
    const starting = startChild(c.dataDir, SERVER_START_MS, {
      detached: true,
      onOutput: (out) => {
        printed = out;
        if (!released && /waiting for the tasks of an earlier server/.test(out)) {
          released = true;
          closeSync(holder);
        }
      },
    });
    void starting.then((s) => (c.server = s), () => undefined); // stopped by afterAll should an expectation below fail
    // While the FIFO is held the server does not listen: the moment it says it waits is before it could.
    await until(async () => printed, (out) => /waiting for the tasks of an earlier server|sundial listening on/.test(out), SERVER_START_MS);
    expect(printed).toMatch(/waiting for the tasks of an earlier server/);
    expect(printed).not.toMatch(/sundial listening on/);
    const second = await starting;

    // By the time it answers, nothing of the earlier server's tasks runs, and the run is ended (retryable).
    expect(c.groups.flatMap((g) => groupMembers(g))).toEqual([]);
    expect(second.output()).not.toMatch(/starting anyway/);
    expect((await apiClient(second.url)('GET', `/api/processes/${run.process_id}`)).json.status).toBe('failed');
    second.child.kill('SIGTERM');
    await second.exited;
  }, CASE_MS);
});
