/** Local mode keeps everything in its data dir: a new server on the same dir answers the same. */
import { afterAll, describe, expect, it } from 'vitest';
import { type SeededRun, type TestSundial, bearer, cronSchedule, isoAt, logEntry, metadataEntry, processDefinition, seedRun, startTestSundial } from '../helpers/local';

const servers: TestSundial[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop();
  await servers[0]?.close(); // removes the data dir both servers shared

});

describe('restart on the same data dir', () => {
  it('keeps definitions, runs, attempts, entries, counters and the task-token key', async () => {
    // Prepare: a first server with two definitions and a finished run with entries posted by its task
    const first = await startTestSundial();
    servers.push(first);
    await first.api('PUT', '/api/process_definitions/kept', processDefinition('kept', { schedule: cronSchedule(), paused: true }));
    await first.api('PUT', '/api/process_definitions/also-kept', processDefinition('also-kept'));
    await first.api('PUT', '/api/process_definitions/deleted', processDefinition('deleted'));
    await first.api('DELETE', '/api/process_definitions/deleted');
    // Finished runs only: a run left `running` is not what this test is about. The first attempt
    // ended just now, so that its token may still post entries (LATE_ENTRY_GRACE_SECONDS).
    const justNow = new Date().toISOString();
    const run: SeededRun = await seedRun(first.services, {
      process_definition_name: 'kept',
      status: 'failed',
      start_time: isoAt(0),
      end_time: isoAt(5),
      tasks: [
        { task_definition_name: 'first', status: 'succeeded', end_time: justNow },
        { task_definition_name: 'second', status: 'failed', end_time: isoAt(5) },
      ],
    });
    const [task] = run.tasks;
    const log = logEntry({ message: 'before the restart' });
    expect((await first.api('POST', `/api/tasks/${task?.task_id}/log_entries`, [log], bearer(task?.token ?? ''))).status).toBe(201);
    expect((await first.api('POST', `/api/tasks/${task?.task_id}/metadata`, [metadataEntry()], bearer(task?.token ?? ''))).status).toBe(201);
    const before = {
      definitions: (await first.api('GET', '/api/process_definitions')).json,
      run: (await first.api('GET', `/api/processes/${run.process_id}`)).json,
      runs: (await first.api('GET', '/api/processes')).json,
      tasks: (await first.api('GET', '/api/tasks')).json,
      metrics: (await first.api('GET', '/_internal_/metrics')).text,
    };
    await first.stop();

    // Act
    const second = await startTestSundial(first.dataDir);
    servers.push(second);
    const after = {
      definitions: (await second.api('GET', '/api/process_definitions')).json,
      run: (await second.api('GET', `/api/processes/${run.process_id}`)).json,
      runs: (await second.api('GET', '/api/processes')).json,
      tasks: (await second.api('GET', '/api/tasks')).json,
      metrics: (await second.api('GET', '/_internal_/metrics')).text,
    };
    const repost = await second.api('POST', `/api/tasks/${task?.task_id}/log_entries`, [log, logEntry({ message: 'after' })], bearer(task?.token ?? ''));

    // Assess
    expect(second.url).not.toBe(first.url);
    expect(after).toEqual(before);
    expect(after.definitions.map((d: { process_definition_name: string }) => d.process_definition_name)).toEqual(['also-kept', 'kept']);
    expect(after.definitions.find((d: { process_definition_name: string }) => d.process_definition_name === 'kept').paused).toBe(true);
    expect(after.run.task[0].log_entries).toEqual([log]);
    expect(after.metrics).toContain('sundial_process_definitions 2\n');
    expect(after.metrics).toContain('sundial_processes{status="failed"} 1\n');
    expect(repost.status).toBe(201);
    expect(repost.json).toEqual({ written: 1, received: 2 });
  });
});
