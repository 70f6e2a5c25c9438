/**
 * Every DynamoDB call each function's code makes while the local mode runs end to end — definitions
 * with schedules and notifications, runs, callbacks, kill, retry, ticks, the reaper — evaluated against
 * that function's role in the synthesized template, with the table and index ARNs AWS authorizes.
 * The local store is the one AWS client that really sends locally; the other services are driven by
 * ./deployed-calls.test.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, type Api, bearer, mintTaskToken, shellScript, shellTask, startTestSundial, type TestSundial, UNTIL_STOPPED } from '../helpers/local';
import { cronSchedule, dependsOn, logEntry, metadataEntry } from '../helpers/factories';
import type { RecordedCall } from './actions';
import { evaluateCalls, summary } from './harness';
import { recordStoreCalls } from './recorder';
import { type ResolvedTemplate, sundialTemplate } from './template';
import { until } from '../helpers/until';
import { keys } from '../../lambdas/store/keys';

let template: ResolvedTemplate;
let sundial: TestSundial;
let api: Api;
const calls: RecordedCall[] = [];

beforeAll(async () => {
  template = await sundialTemplate();
  sundial = await startTestSundial();
  recordStoreCalls(sundial.services.store.db, calls);
  api = apiClient(sundial.url);
}, 120_000);

afterAll(async () => {
  await sundial?.close();
});


const ended = (r: { json: { status: string } }) => r.json.status !== 'running';

describe('the local mode, end to end, as each function', () => {
  test('every DynamoDB call is allowed by the role of the function that makes it', async () => {
    // Prepare: a scheduled definition with an email notification, and one whose task runs until killed
    const put = await api('PUT', '/api/process_definitions/iam-nightly', {
      process_definition_name: 'iam-nightly',
      schedule: cronSchedule(),
      notifications: [{ email: { name: 'Ops', email: 'ops@example.com', notify_when: 'always' } }],
      task_definitions: [shellTask('first'), shellTask('second', { dependencies: [dependsOn('first')] })],
    });
    expect(put.status, put.text).toBe(201);
    await api('PUT', '/api/process_definitions/iam-waiter', {
      process_definition_name: 'iam-waiter',
      task_definitions: [shellScript('waiter', UNTIL_STOPPED, { require_explicit_success: true })],
    });

    // Act: a run to its end (engine: Prepare, Record; notify), read back by every listing (api)
    const run = (await api('POST', '/api/process_definitions/iam-nightly/trigger')).json;
    await until(() => api('GET', `/api/processes/${run.process_id}`), ended);
    // The notify function's work is done when its email is in the outbox.
    await until(async () => (existsSync(join(sundial.dataDir, 'outbox')) ? readdirSync(join(sundial.dataDir, 'outbox')).length : 0), (n) => n > 0);
    for (const path of [
      '/api/process_definitions',
      '/api/process_definitions/iam-nightly',
      '/api/processes/?process_definition_name=iam-nightly',
      '/api/processes/?allowed_statuses=succeeded&allowed_statuses=failed',
      '/api/tasks/?process_definition_name=iam-nightly',
      '/api/tasks/?process_definition_name=iam-nightly&task_definition_name=first',
      '/api/tasks/',
      '/api/processes/',
      '/_internal_/metrics',
    ]) {
      expect((await api('GET', path)).status, path).toBe(200);
    }
    const done = (await api('GET', `/api/processes/${run.process_id}`)).json;
    expect((await api('GET', `/api/tasks/${done.task[0].task_id}/output`)).status).toBe(200);
    await api('POST', '/api/process_definitions/iam-nightly/pause');
    await api('POST', '/api/process_definitions/iam-nightly/resume');

    // Act: a task calling back (callbacks), killed, retried, killed (api), and swept (engine: the reaper)
    const waiting = (await api('POST', '/api/process_definitions/iam-waiter/trigger')).json;
    const running = await until(
      () => api('GET', `/api/processes/${waiting.process_id}`),
      (r) => r.json.task[0]?.status === 'running',
    );
    const task = running.json.task[0];
    const token = bearer(await mintTaskToken(sundial.services, task.task_id, waiting.process_id));
    const callbacks = [
      await api('POST', `/api/tasks/${task.task_id}/log_entries`, [logEntry()], token),
      await api('POST', `/api/tasks/${task.task_id}/metadata`, [metadataEntry()], token),
      await api('POST', `/api/tasks/${task.task_id}/progress`, { percent: 50, message: 'half' }, token),
      await api('POST', `/api/tasks/${task.task_id}/progress`, { percent: 10 }, token), // kept: the read after a failed condition
      await api('POST', `/api/tasks/${task.task_id}/succeed`, undefined, token),
    ];
    expect(callbacks.map((r) => r.status), callbacks.map((r) => r.text).join('\n')).toEqual([201, 201, 201, 201, 201]);
    await sundial.sundial.sweeper.sweep();
    expect((await api('POST', `/api/processes/${waiting.process_id}/kill`)).status).toBe(201);
    expect((await api('POST', `/api/processes/${waiting.process_id}/retry`)).status).toBe(201);
    await until(
      () => api('GET', `/api/processes/${waiting.process_id}`),
      (r) => r.json.task.some((t: { status: string; previous_attempt_count: number }) => t.previous_attempt_count === 1 && t.status === 'running'),
    );
    await api('POST', `/api/processes/${waiting.process_id}/kill`);

    // Act: a downstream definition (api: the upstream version, the downstream index) started by a backfilled run's end
    // (api: the backfill; engine: its drain and the upstream listener)
    expect((await api('PUT', '/api/process_definitions/iam-downstream', {
      process_definition_name: 'iam-downstream',
      upstream: [{ process_definition_name: 'iam-nightly', when: 'finished' }],
      task_definitions: [shellTask('only')],
    })).status).toBe(201);
    const backfill = await api('POST', '/api/process_definitions/iam-nightly/backfill', { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-02T00:00:00Z' });
    expect(backfill.status, backfill.text).toBe(201);
    await until(() => api('GET', `/api/processes/${backfill.json.occurrences[0].process_id}`), (r) => r.status === 200 && ended(r));
    await until(() => api('GET', '/api/processes/?process_definition_name=iam-downstream'), (r) => r.json.length === 1 && r.json[0].status !== 'running');

    // Act: a continuous schedule ticks (engine: tick), then definitions are deleted (api)
    await api('PUT', '/api/process_definitions/iam-continuous', {
      process_definition_name: 'iam-continuous',
      schedule: { continuous_schedule: { buffer_seconds: 0 } },
      task_definitions: [shellTask('only')],
    });
    await until(
      () => api('GET', '/api/processes/?process_definition_name=iam-continuous&allowed_statuses=succeeded'),
      (r) => r.json.length >= 1,
    );
    for (const name of ['iam-continuous', 'iam-nightly', 'iam-waiter', 'iam-downstream']) await api('DELETE', `/api/process_definitions/${name}`);

    const report = await evaluateCalls(template, calls);

    // Assess
    expect(report.failures).toEqual([]);
    // The PUT listing an upstream claimed the upstream version and released it: both writes were evaluated.
    const upstreamVersionWrites = calls.filter((c) => c.function === 'api' && c.command === 'UpdateItem' && c.input.Key?.pk === keys.upstreamVersion.pk);
    expect(upstreamVersionWrites.map((c) => String(c.input.UpdateExpression).split(' ')[0])).toEqual(['SET', 'REMOVE']);
    const functions = new Set(report.evaluated.map((e) => e.function));
    expect([...functions].sort()).toEqual(['api', 'callbacks', 'engine', 'notify']);
    console.info(`IAM harness, local mode: ${calls.length} calls, ${report.localOnly} local-only\n${summary(report.evaluated).join('\n')}`);
  });

  test('a call no table entry maps, or made outside any function, fails the suite, naming it', async () => {
    // Prepare
    const strays: RecordedCall[] = [
      { function: 'engine', service: 'SFN', command: 'SendTaskSuccess', input: { taskToken: 't', output: '{}' } },
      { function: undefined, service: 'DynamoDB', command: 'GetItem', input: { TableName: 'sundial', Key: {} } },
    ];

    // Act
    const report = await evaluateCalls(template, strays);

    // Assess
    expect(report.failures).toEqual([
      expect.stringMatching(/^engine called SFN\.SendTaskSuccess, which test\/iam\/actions\.ts does not map/),
      expect.stringMatching(/^DynamoDB\.GetItem was called outside any function/),
    ]);
  });
});
