/**
 * The engine function starts runs of its own (a downstream run at its upstream's end, a tick, a drain's
 * queued or catch-up run, a backfill) and reads each back as a trigger answers it. Its role may Query one
 * index only (gsi3, lib/engine.ts): the answer must not read the attempts' entries, which live in gsi1.
 * That read happened only when the new run's first attempt was written before the answer was read, so
 * test/iam/local-calls.test.ts saw it denied about once in a few loaded runs; here the interleaving is
 * forced: the engine's read of a run's attempts waits until the run has one.
 */
import { QueryCommand } from '../../lambdas/store/sdk';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { currentFunction, runAs } from '../../local/function-context';
import { apiClient, type Api, shellTask, startTestSundial, type TestSundial } from '../helpers/local';
import { dependsOn } from '../helpers/factories';
import { until } from '../helpers/until';
import type { RecordedCall } from './actions';
import { evaluateCalls } from './harness';
import { recordStoreCalls } from './recorder';
import { type ResolvedTemplate, sundialTemplate } from './template';

let template: ResolvedTemplate;
let sundial: TestSundial;
let api: Api;
const calls: RecordedCall[] = [];
let held = 0;

beforeAll(async () => {
  template = await sundialTemplate();
  sundial = await startTestSundial();
  const db = sundial.services.store.db;
  // The engine's Query of a run's attempts waits until one is written (the race, made certain).
  db.doc.observe(async (call, next) => {
    const input = call.input;
    const values = input.ExpressionAttributeValues as Record<string, unknown> | undefined;
    const attemptsOf = call.name === 'QueryCommand' && !input.IndexName && String(input.KeyConditionExpression).includes('begins_with') ? values?.[':pk'] : undefined;
    if (currentFunction() === 'engine' && typeof attemptsOf === 'string' && attemptsOf.startsWith('RUN#') && values?.[':prefix'] === 'TASK#') {
      const attempts = () =>
        runAs('local', () => db.doc.send(new QueryCommand({ TableName: db.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': attemptsOf, ':p': 'TASK#' } })));
      await until(attempts, (out) => (out.Items?.length ?? 0) > 0, 30_000).then(() => held++, () => undefined);
    }
    return next();
  });
  recordStoreCalls(db, calls);
  api = apiClient(sundial.url);
}, 120_000);

afterAll(async () => {
  await sundial?.close();
});

test("a downstream run the engine starts is answered without reading its attempts' entries, within the engine's role", async () => {
  // Prepare: an upstream definition and one that runs when it finishes
  expect((await api('PUT', '/api/process_definitions/iam-up', { process_definition_name: 'iam-up', task_definitions: [shellTask('first')] })).status).toBe(201);
  const down = await api('PUT', '/api/process_definitions/iam-down', {
    process_definition_name: 'iam-down',
    upstream: [{ process_definition_name: 'iam-up', when: 'finished' }],
    task_definitions: [shellTask('one'), shellTask('two', { dependencies: [dependsOn('one')] })],
  });
  expect(down.status, down.text).toBe(201);

  // Act: the upstream run ends; the engine starts the downstream one and reads it back
  await api('POST', '/api/process_definitions/iam-up/trigger');
  const runs = await until(() => api('GET', '/api/processes/?process_definition_name=iam-down'), (r) => r.json.length === 1 && r.json[0].status !== 'running');

  // Assess: the downstream run ran, the engine read a run's attempts after one existed, and every call was allowed
  expect(runs.json[0].status).toBe('succeeded');
  expect(held).toBeGreaterThan(0);
  const report = await evaluateCalls(template, calls);
  expect(report.failures).toEqual([]);
  expect(calls.filter((c) => c.function === 'engine' && c.command === 'Query' && c.input.IndexName === 'gsi1')).toEqual([]);
});
