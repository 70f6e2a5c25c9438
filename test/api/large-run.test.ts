/**
 * A run of 10,000 tasks over HTTP in the local mode: its answer fits Lambda's 6 MB response whatever its
 * attempts hold, says that it is partial, and every attempt is reachable through
 * `GET /api/tasks/?process_id=` (lambdas/domain/response-size.ts); reading it reads no more attempts than
 * it answers. Running 10,000 real tasks is too slow for a test: the run is written straight into the
 * store, slots through the slot store and attempts as the engine writes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { ATTEMPTS_BUDGET_BYTES, payloadBytes, RUN_RESPONSE_BUDGET_BYTES } from '../../lambdas/domain/response-size';
import { seedLargeRun, type SeededLargeRun } from '../helpers/large-run';
import { isoAt, seedRun, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

/** Bytes of an answer as Lambda counts them: the JSON returned to API Gateway, body as a string. */
const lambdaBytes = (text: string) => Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: text }));

const TASKS = 10_000;

/** Every page of `GET /api/tasks/?process_id=` from cursor `next`; checks each page fits. */
async function pagesFrom(processId: string, next: string | undefined): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let cursor = next;
  do {
    const res = await t.api('GET', `/api/tasks/?process_id=${processId}&limit=1000${cursor ? `&next=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    for (const task of res.json) {
      expect(task.process_id).toBe(processId);
      ids.push(task.task_id);
    }
    cursor = res.headers.get('x-next-cursor') ?? undefined;
    pages++;
  } while (cursor && pages < 100);
  expect(cursor).toBeUndefined();
  return { ids, pages };
}

/** Counts what DynamoDB answers the store during `act`: items by the prefix of their sort key. */
async function countingReads<T>(act: () => Promise<T>): Promise<{ result: T; items: Record<string, number> }> {
  const items: Record<string, number> = {};
  const stop = t.services.store.db.doc.observe(async (_call, next) => {
    const out = await next();
    for (const item of (out as { Items?: Array<{ sk?: string }> }).Items ?? []) {
      const prefix = (item.sk ?? 'projected').split('#')[0] ?? '?';
      items[prefix] = (items[prefix] ?? 0) + 1;
    }
    return out;
  });
  try {
    return { result: await act(), items };
  } finally {
    stop();
  }
}

let large: SeededLargeRun;

beforeAll(async () => {
  t = await startTestSundial();
  const t0 = performance.now();
  // Every 20th task retried once, every 4th attempt with the costliest progress: ≈ 16 MB of attempts on the wire.
  large = await seedLargeRun(t.services, { process_definition_name: 'huge', tasks: TASKS, retriedEvery: 20, longProgressEvery: 4 });
  console.log(`seeded a run of ${TASKS} tasks, ${large.attempts.size} attempts, in ${Math.round(performance.now() - t0)} ms`);
}, 300_000);
afterAll(() => t?.close());

describe('GET /api/processes/{id} of a 10,000-task run', () => {
  it('answers within the budget, says the answer is partial, and pages every other attempt through GET /api/tasks/?process_id=', async () => {
    // Act
    const t0 = performance.now();
    const { result: res, items } = await countingReads(() => t.api('GET', `/api/processes/${large.process_id}`));
    console.log(`GET /api/processes/{id} of ${TASKS} tasks: ${Math.round(performance.now() - t0)} ms, ${res.json?.task?.length} attempts answered, items read by prefix ${JSON.stringify(items)}`);

    // Assess: under the budgets, with the run's own fields and progress whole
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    expect(payloadBytes(res.json)).toBeLessThanOrEqual(RUN_RESPONSE_BUDGET_BYTES);
    const answered: Array<Record<string, any>> = res.json.task;
    expect(payloadBytes(answered)).toBeLessThanOrEqual(ATTEMPTS_BUDGET_BYTES);
    expect(res.json).toMatchObject({ process_id: large.process_id, status: 'succeeded', progress: { total: TASKS, succeeded: TASKS, failed: 0, running: 0, waiting: 0 } });
    expect(answered.length).toBeGreaterThan(500);
    expect(answered.map((x) => x.start_time)).toEqual(answered.map((x) => x.start_time).sort());
    expect(typeof res.json.attempts_next).toBe('string');
    // Reading: the attempts it answers and at most one read page more (never all of them), no entry.
    expect(items.TASK ?? 0).toBeLessThanOrEqual(answered.length + 1000);
    expect(items.ENTRY ?? 0).toBe(0);

    // Assess: the answer and the pages after its cursor hold every attempt exactly once
    const rest = await pagesFrom(large.process_id, res.json.attempts_next);
    const all = [...answered.map((x) => x.task_id as string), ...rest.ids];
    expect(all).toHaveLength(large.attempts.size);
    expect(new Set(all)).toEqual(large.attempts);
    expect(rest.pages).toBeGreaterThan(1);
  }, 120_000);

  it('lists every attempt of the run from the start of GET /api/tasks/?process_id=, a page at a time', async () => {
    // Act
    const { ids, pages } = await pagesFrom(large.process_id, undefined);

    // Assess
    expect(ids).toHaveLength(large.attempts.size);
    expect(new Set(ids)).toEqual(large.attempts);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(large.attempts.size / 1000));
  }, 120_000);
});

describe('GET /api/processes with a 10,000-task run among small ones', () => {
  it('answers under the budget: the small runs whole, the large one partial with its cursor', async () => {
    // Prepare: three small runs of the same definition, newer than the large one
    const small = [];
    for (let i = 1; i <= 3; i++) {
      small.push(await seedRun(t.services, { process_definition_name: 'huge', status: 'succeeded', start_time: isoAt(100 + i), end_time: isoAt(101 + i), tasks: [{ task_definition_name: 'a' }, { task_definition_name: 'b' }] }));
    }

    // Act
    const { result: res, items } = await countingReads(() => t.api('GET', '/api/processes?process_definition_name=huge&limit=10'));

    // Assess
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    expect(payloadBytes(res.json)).toBeLessThanOrEqual(RUN_RESPONSE_BUDGET_BYTES);
    const runs: Array<Record<string, any>> = res.json;
    expect(runs.map((r) => r.process_id)).toEqual([...small.reverse().map((r) => r.process_id), large.process_id]);
    for (const run of runs.slice(0, 3)) {
      expect(run.task).toHaveLength(2);
      expect(run.attempts_next).toBeUndefined();
    }
    const big = runs[3] as Record<string, any>;
    expect(typeof big.attempts_next).toBe('string');
    expect(items.TASK ?? 0).toBeLessThanOrEqual(6 + big.task.length + 1000);
    const rest = await pagesFrom(large.process_id, big.attempts_next);
    expect(new Set([...big.task.map((x: { task_id: string }) => x.task_id), ...rest.ids])).toEqual(large.attempts);
    expect(big.task.length + rest.ids.length).toBe(large.attempts.size);
  }, 120_000);
});
