/**
 * What happens around runs: a server that stops mid-run, image tasks without a Docker engine, late
 * callbacks on finished attempts.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, dockerTask, mintTaskToken, shellScript, shellTask, startTestSundial, type TestSundial, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const servers: TestSundial[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(dataDir?: string): Promise<TestSundial> {
  const s = await startTestSundial(dataDir);
  servers.push(s);
  return s;
}


describe('run lifecycle', () => {
  it('a run in flight when the server stops ends failed with a reason, and can be retried after a restart', async () => {
    // Prepare
    const first = await start();
    await first.api('PUT', '/api/process_definitions/long', {
      process_definition_name: 'long',
      task_definitions: [shellScript('sleeper', `echo up; ${UNTIL_STOPPED}`)],
    });
    const run = (await first.api('POST', '/api/process_definitions/long/trigger')).json;
    await until(
      () => first.api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.task[0]?.log_entries.some((e: { message: string }) => e.message === 'up'),
    );

    // Act: stop the server (its process is killed with it) and start another on the same data
    await first.stop();
    const second = await start(first.dataDir);
    const after = (await second.api('GET', `/api/processes/${run.process_id}`)).json;

    // Assess
    expect(after.status).toBe('failed');
    expect(after.reason).toMatch(/server stopped/);
    expect(after.task[0].status).toBe('failed');
    expect(after.task[0].log_entries.map((e: { message: string }) => e.message)).toContain('up');
    expect((await second.api('GET', '/api/processes/?allowed_statuses=running')).json).toEqual([]);
    const retried = await second.api('POST', `/api/processes/${run.process_id}/retry`);
    expect(retried.status).toBe(201);
    expect(retried.json.status).toBe('running');
    await second.api('POST', `/api/processes/${run.process_id}/kill`);
  });

  it('an image task fails with a clear reason when no Docker engine answers', async () => {
    // Prepare
    const s = await start();
    await s.api('PUT', '/api/process_definitions/image', {
      process_definition_name: 'image',
      task_definitions: [dockerTask('in-docker', { max_attempts: 1, backoff_base_seconds: 0 })],
    });

    // Act
    const run = (await s.api('POST', '/api/process_definitions/image/trigger')).json;
    const done = await until(
      () => s.api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status !== 'running',
    );

    // Assess: what to expect depends on whether this machine runs a Docker engine
    const messages = done.json.task[0].log_entries.map((e: { message: string }) => e.message).join('\n');
    const dockerAnswers = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 }).status === 0;
    if (dockerAnswers) {
      expect(messages).not.toMatch(/no Docker engine/);
    } else {
      expect(done.json.status).toBe('failed');
      expect(messages).toMatch(/no Docker engine answers on this machine: cannot run image alpine:latest locally/);
    }
  });

  it('refuses /succeed and /fail with 409 once the attempt has ended, and changes nothing', async () => {
    // Prepare
    const s = await start();
    await s.api('PUT', '/api/process_definitions/quick', {
      process_definition_name: 'quick',
      task_definitions: [shellTask('quick')],
    });
    const run = (await s.api('POST', '/api/process_definitions/quick/trigger')).json;
    const done = await until(
      () => s.api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status !== 'running',
    );
    const task = done.json.task[0];
    const token = await mintTaskToken(s.services, task.task_id, run.process_id);

    // Act
    const late = await s.api('POST', `/api/tasks/${task.task_id}/fail`, undefined, bearer(token));
    const lateSucceed = await s.api('POST', `/api/tasks/${task.task_id}/succeed`, undefined, bearer(token));

    // Assess
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe('conflict');
    expect(lateSucceed.status).toBe(409);
    const again = (await s.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(again.status).toBe('succeeded');
    expect(again.task[0].status).toBe('succeeded');
  });

  it('refuses a callback with another task\'s token and writes nothing', async () => {
    // Prepare
    const s = await start();
    await s.api('PUT', '/api/process_definitions/two', {
      process_definition_name: 'two',
      task_definitions: [shellScript('a', UNTIL_STOPPED), shellScript('b', UNTIL_STOPPED)],
    });
    const run = (await s.api('POST', '/api/process_definitions/two/trigger')).json;
    const running = await until(
      () => s.api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.task.length === 2,
    );
    const [a, b] = running.json.task;
    const tokenOfA = await mintTaskToken(s.services, a.task_id, run.process_id);

    // Act
    const res = await s.api('POST', `/api/tasks/${b.task_id}/succeed`, undefined, bearer(tokenOfA));

    // Assess
    expect(res.status).toBe(401);
    expect((await s.api('POST', `/api/tasks/${a.task_id}/succeed`, undefined, bearer(tokenOfA))).status).toBe(201);
    await s.api('POST', `/api/processes/${run.process_id}/kill`);
    const killed = (await s.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(killed.task.map((t: { status: string }) => t.status)).toEqual(['failed', 'failed']);
  });
});
