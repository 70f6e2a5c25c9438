/**
 * `max_attempts` is bounded so that all attempts of a task fit in one Standard execution's history
 * (25,000 events, lambdas/domain/aws-limits.ts): the bound and its arithmetic are beside MAX_ATTEMPTS in
 * lambdas/domain/models.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SFN_HISTORY_MAX_EVENTS } from '../../lambdas/domain/aws-limits';
import { MAX_ATTEMPTS } from '../../lambdas/domain/models';
import { processDefinition, shellTask, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(async () => {
  await t?.close();
});

/** Events of one attempt on the costlier (ECS) path of the synthesized machine, as models.ts counts them. */
const EVENTS_PER_ATTEMPT = 30;

describe('max_attempts', () => {
  it('is bounded well inside one execution history', () => {
    expect(MAX_ATTEMPTS * EVENTS_PER_ATTEMPT).toBeLessThanOrEqual(SFN_HISTORY_MAX_EVENTS * 0.6);
  });

  it.each([
    [MAX_ATTEMPTS + 1, 400],
    [1_000_000_000, 400],
    [MAX_ATTEMPTS, 201],
  ])('PUT with max_attempts %d answers %d', async (maxAttempts, status) => {
    // Prepare
    const name = `attempts-${maxAttempts}`;
    const body = processDefinition(name, { task_definitions: [shellTask('a'), shellTask('b', { max_attempts: maxAttempts })] });

    // Act
    const res = await t.api('PUT', `/api/process_definitions/${name}`, body);

    // Assess
    expect(res.status, res.text).toBe(status);
    if (status === 400) expect(res.json.error).toMatchObject({ field: 'task_definitions.1.max_attempts' });
  });
});
