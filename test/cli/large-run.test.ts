/**
 * The `sundial` CLI on a run too large for one answer (lambdas/domain/response-size.ts): it reads the
 * attempts the answer holds and pages through the rest (`attempts_next`), so that `logs` shows them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLargeRun } from '../helpers/large-run';
import { cliRunner } from '../helpers/cli';
import { startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(async () => {
  await t.close();
});

const sundial = cliRunner(() => t.url, { timeoutMs: 240_000, maxBuffer: 64 * 1024 * 1024 });

describe('sundial CLI on a run whose attempts do not fit one answer', () => {
  it('logs RUN_ID shows every attempt of the run, those past the answer too', async () => {
    // Prepare: 1,000 tasks, each attempt with the costliest progress (≈ 4.7 MB of attempts: past the run's budget)
    const run = await seedLargeRun(t.services, { process_definition_name: 'wide', tasks: 1000, retriedEvery: 0, longProgressEvery: 1 });
    const answer = await t.api('GET', `/api/processes/${run.process_id}`);
    expect(answer.json.attempts_next).toBeDefined();
    expect(answer.json.task.length).toBeLessThan(1000);

    // Act
    const res = await sundial('logs', run.process_id);

    // Assess
    expect(res.code, res.stderr).toBe(0);
    const headers = res.stdout.split('\n').filter((line) => / attempt 1: succeeded$/.test(line));
    expect(headers.map((line) => line.split(' ')[0]).sort()).toEqual([...run.names].sort());
  }, 300_000);
});
