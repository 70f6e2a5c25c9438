/**
 * `allowed_statuses` may be repeated (Sundial's clients send one per status); repeats must not build a
 * DynamoDB `IN` past its 100 operands (lambdas/domain/aws-limits.ts), which the local store refuses as
 * DynamoDB does (local/dynalite-worker.mjs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DYNAMODB_IN_MAX_OPERANDS } from '../../lambdas/domain/aws-limits';
import { seedRun, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;
let failed: string;

beforeAll(async () => {
  t = await startTestSundial();
  failed = (await seedRun(t.services, { process_definition_name: 'statuses', status: 'failed', tasks: [{ task_definition_name: 'a', status: 'failed' }] })).process_id;
  await seedRun(t.services, { process_definition_name: 'statuses', status: 'succeeded', tasks: [{ task_definition_name: 'a', status: 'succeeded' }] });
});

afterAll(async () => {
  await t?.close();
});

describe('allowed_statuses repeated 500 times', () => {
  it.each(['/api/processes', '/api/tasks'])('%s answers the failed ones only, as for one allowed_statuses=failed', async (path) => {
    // Prepare
    const query = Array.from({ length: 500 }, () => 'allowed_statuses=failed').join('&');
    expect(500).toBeGreaterThan(DYNAMODB_IN_MAX_OPERANDS);

    // Act
    const res = await t.api('GET', `${path}?${query}&process_definition_name=statuses`);

    // Assess
    expect(res.status).toBe(200);
    const items: Array<{ process_id: string; status: string }> = Array.isArray(res.json) ? res.json : (res.json.items ?? res.json.processes ?? res.json.tasks);
    expect(items.map((i) => [i.process_id, i.status])).toEqual([[failed, 'failed']]);
  });
});
