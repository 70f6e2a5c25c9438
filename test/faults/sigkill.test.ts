/**
 * The local server killed with SIGKILL in the middle of a run (no shutdown hook runs), then started again
 * on the same data dir: the run is ended with a reason (never left running), nothing written before the
 * kill is lost, the task's process is stopped by the spawner (it does not outlive the server), the
 * orphaned attempt's late callbacks are handled by the rules of ended attempts, and a retry finishes the run.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signTaskToken } from '../../lambdas/domain/task-token';
import { loadOrCreateTokenKey } from '../../local/token-key';
import { apiClient, bearer, logEntry, metadataEntry, shellTask, tempDataDir, UNTIL_STOPPED } from '../helpers/local';
import { type ChildSundial, killGroup, startChild } from './support';
import { until } from '../helpers/until';

const dataDir = tempDataDir();

/** True while a process with this pid exists (signal 0 checks without signalling). */
function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
const children: ChildSundial[] = [];
let orphanPid: number | undefined;

afterAll(async () => {
  for (const c of children) {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  killGroup(orphanPid);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('SIGKILL of the local server during a run', () => {
  it('ends the run with a reason on restart, loses no entry, metadata or definition, and a retry finishes it', async () => {
    // Prepare: a run whose first task is running (its shell waits) and has written output and entries
    const first = await startChild(dataDir);
    children.push(first);
    const api = apiClient(first.url);
    const pidFile = join(dataDir, 'task.pid');
    const marker = join(dataDir, 'ran-once');
    // The first attempt records its pid and hangs; any later attempt (the retry) succeeds at once.
    const script = `if [ -f '${marker}' ]; then echo second attempt; exit 0; fi; touch '${marker}'; echo $$ > '${pidFile}'; echo started; ${UNTIL_STOPPED}`;
    const definition = {
      process_definition_name: 'crashy',
      task_definitions: [shellTask('work', { executable: { shell_script_command: { script } }, max_attempts: 1 }), shellTask('after', { dependencies: [{ task_definition_name: 'work' }] })],
    };
    expect((await api('PUT', '/api/process_definitions/crashy', definition)).status).toBe(201);
    const run = (await api('POST', '/api/process_definitions/crashy/trigger')).json;
    const running = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.task[0]?.log_entries.some((e: { message: string }) => e.message === 'started'),
    );
    const task = running.json.task[0];
    const token = signTaskToken(loadOrCreateTokenKey(dataDir), { tid: task.task_id, pid: run.process_id });
    const entries = Array.from({ length: 20 }, (_, i) => logEntry({ message: `line ${i}` }));
    const metadata = [metadataEntry({ key: 'rows', value: '42' })];
    expect((await api('POST', `/api/tasks/${task.task_id}/log_entries`, entries, bearer(token))).status).toBe(201);
    expect((await api('POST', `/api/tasks/${task.task_id}/metadata`, metadata, bearer(token))).status).toBe(201);
    // The definition as stored (its run statistics move with the run, by design).
    const stored = async (a: typeof api) => {
      const { last_run: _l, runs_failed: _f, runs_succeeded: _s, next_run_time: _n, ...rest } = (await a('GET', '/api/process_definitions/crashy')).json;
      return rest;
    };
    const definitionBefore = await stored(api);
    orphanPid = Number(readFileSync(pidFile, 'utf8').trim());

    // Act: SIGKILL (no shutdown hook), then a new server on the same data dir
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startChild(dataDir);
    children.push(second);
    const api2 = apiClient(second.url);

    // Assess: the run is not left running, and says why
    const after = (await api2('GET', `/api/processes/${run.process_id}`)).json;
    expect(after.status).toBe('failed');
    expect(after.reason).toMatch(/local server stopped/);
    expect(after.end_time).toBeDefined();
    expect(after.progress).toEqual({ total: 2, succeeded: 0, failed: 2, running: 0, waiting: 0 });
    const attempt = after.task.find((t: { task_id: string }) => t.task_id === task.task_id);
    expect(attempt.status).toBe('failed');
    expect((await api2('GET', '/api/processes?allowed_statuses=running')).json).toEqual([]);
    // Nothing written before the kill is lost (the run embeds the last entries only: all of them are paged)
    const logs = (await api2('GET', `/api/tasks/${task.task_id}/log_entries?limit=1000`)).json.log_entries;
    const messages = logs.map((e: { message: string }) => e.message);
    expect(messages).toContain('started');
    for (const e of entries) expect(logs).toContainEqual(e);
    expect(attempt.metadata_entries).toEqual(metadata);
    expect(await stored(api2)).toEqual(definitionBefore);

    // Assess: the orphaned attempt calls back late (as a task that had not yet heard it was stopped would):
    // its outcome is refused, its last lines (within the grace) kept
    expect((await api2('POST', `/api/tasks/${task.task_id}/succeed`, undefined, bearer(token))).status).toBe(409);
    const lateLine = logEntry({ message: 'late line' });
    expect((await api2('POST', `/api/tasks/${task.task_id}/log_entries`, [lateLine], bearer(token))).status).toBe(201);
    expect((await api2('GET', `/api/processes/${run.process_id}`)).json.status).toBe('failed');

    // Assess: the task's process did not outlive the server: the spawner saw its channel close and stopped it
    await until(
      async () => isAlive(orphanPid),
      (alive) => !alive,
    );

    // Act + Assess: a retry runs the failed task again, then what it had blocked
    expect((await api2('POST', `/api/processes/${run.process_id}/retry`)).status).toBe(201);
    const done = await until(
      () => api2('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status !== 'running',
    );
    expect(done.json.status).toBe('succeeded');
    expect(done.json.task.map((t: { task_definition_name: string; status: string }) => `${t.task_definition_name}:${t.status}`)).toEqual(['work:failed', 'work:succeeded', 'after:succeeded']);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 90_000);
});
