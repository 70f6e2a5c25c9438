/**
 * No answer passes Lambda's 6 MB response limit, however many entries a run's attempts posted, and a
 * list never reads entries (lambdas/domain/response-size.ts). Entries go in through the real callbacks
 * route; the local HTTP adapter answers 500 past 6 MB, as API Gateway would (local/http-adapter.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { LIMITS, PAGE_SIZE_MAX, progressReport } from '../../lambdas/domain/models';
import {
  ATTEMPTS_BUDGET_BYTES,
  ENTRIES_PER_ATTEMPT,
  ENTRY_MAX_PAYLOAD_BYTES,
  payloadBytes,
  PROGRESS_MAX_PAYLOAD_BYTES,
  RESPONSE_MARGIN_BYTES,
  RUN_RESPONSE_BUDGET_BYTES,
} from '../../lambdas/domain/response-size';
import { BatchWriteCommand } from '../../lambdas/store/sdk';
import { keys } from '../../lambdas/store/keys';
import { bearer, isoAt, seedRun, type SeededRun, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(() => t?.close());

/** The largest entry the callbacks accept, of control characters (7 payload bytes each). */
const LARGEST = '\u001f'.repeat(LIMITS.entryMessageMaxLength);
const SOURCE = '\u001f'.repeat(256);
const largeLog = (i: number) => ({ log_entry_id: randomUUID(), when: isoAt(100 + i), source: SOURCE, message: LARGEST });
const largeMeta = (i: number) => ({ metadata_entry_id: randomUUID(), when: isoAt(100 + i), key: SOURCE, value: LARGEST });

/** Bytes of an answer as Lambda counts them: the JSON returned to API Gateway, body as a string. */
const lambdaBytes = (text: string) => Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: text }));

async function post(taskId: string, token: string, route: 'log_entries' | 'metadata', entries: object[]): Promise<void> {
  const res = await t.api('POST', `/api/tasks/${taskId}/${route}`, entries, bearer(token));
  expect(res.status, res.text).toBe(201);
}

/** Every entry of an attempt, through its pages; checks each page fits. */
async function allPages(taskId: string, route: 'log_entries' | 'metadata'): Promise<{ entries: Array<Record<string, string>>; pages: number }> {
  const entries: Array<Record<string, string>> = [];
  let next: string | undefined;
  let pages = 0;
  do {
    const res = await t.api('GET', `/api/tasks/${taskId}/${route}?limit=1000${next ? `&next=${encodeURIComponent(next)}` : ''}`);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    entries.push(...(route === 'log_entries' ? res.json.log_entries : res.json.metadata_entries));
    next = res.json.next;
    pages++;
  } while (next && pages < 50);
  return { entries, pages };
}

describe('the budget arithmetic', () => {
  it('counts the largest entry as the payload it makes, and leaves a margin under 6 MB', () => {
    expect(payloadBytes(largeLog(0))).toBeLessThanOrEqual(ENTRY_MAX_PAYLOAD_BYTES);
    expect(payloadBytes(largeMeta(0))).toBeLessThanOrEqual(ENTRY_MAX_PAYLOAD_BYTES);
    expect(RESPONSE_MARGIN_BYTES).toBeGreaterThan(256 * 1024);
  });

  it('counts the largest progress the schema takes, and a page of attempts carrying it fits a run', () => {
    // Prepare: the costliest message the schema accepts (`"` is 4 payload bytes; control characters are refused)
    const report = progressReport.parse({ percent: 100 / 3, message: '"'.repeat(LIMITS.progressMessageMaxLength) });
    const progress = { ...report, when: isoAt(0) };
    const name = 'n'.repeat(LIMITS.nameMaxLength);
    const attempt = {
      task_id: randomUUID(), process_id: randomUUID(), process_definition_name: name, task_definition_name: name, start_time: isoAt(0),
      end_time: isoAt(1), previous_attempt_count: 499, status: 'succeeded', log_entries: [], metadata_entries: [], entries_omitted: true, progress,
    };

    // Assess: the largest page of attempts stays within the run budget, and a run's attempt budget holds many
    expect(payloadBytes(progress)).toBeLessThanOrEqual(PROGRESS_MAX_PAYLOAD_BYTES);
    expect(PAGE_SIZE_MAX * (payloadBytes(attempt) + 1)).toBeLessThan(RUN_RESPONSE_BUDGET_BYTES);
    expect(ATTEMPTS_BUDGET_BYTES / (payloadBytes(attempt) + 1)).toBeGreaterThan(800);
  });
});

describe('GET /api/processes/{id} with attempts full of the largest entries', () => {
  const PER_KIND = 24; // 24 × 231 KB ≈ 5.5 MB of each kind on the first attempt alone
  let run: SeededRun;

  beforeAll(async () => {
    // Prepare: four attempts; the first has 24 of each kind (more than one page), the others 11 (one more than embedded)
    run = await seedRun(t.services, {
      process_definition_name: 'big-entries',
      tasks: ['a', 'b', 'c', 'd'].map((name) => ({ task_definition_name: name })),
    });
    for (const [i, task] of run.tasks.entries()) {
      const n = i === 0 ? PER_KIND : ENTRIES_PER_ATTEMPT + 1;
      const logs = Array.from({ length: n }, (_, k) => largeLog(k));
      const metas = Array.from({ length: n }, (_, k) => largeMeta(k));
      // One per call: a request body is at most 256 KB (lambdas/http/route.ts), the largest entry ~197 KB of JSON.
      for (let k = 0; k < n; k++) {
        await post(task.task_id, task.token, 'log_entries', [logs[k]!]);
        await post(task.task_id, task.token, 'metadata', [metas[k]!]);
      }
    }
  }, 120_000);

  it('answers under 6 MB, embedding at most the last ENTRIES_PER_ATTEMPT of each kind and saying what it left out', async () => {
    // Act
    const res = await t.api('GET', `/api/processes/${run.process_id}`);

    // Assess
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    const tasks: Array<Record<string, any>> = res.json.task;
    expect(tasks).toHaveLength(4);
    for (const task of tasks) {
      expect(task.log_entries.length).toBeLessThanOrEqual(ENTRIES_PER_ATTEMPT);
      expect(task.metadata_entries.length).toBeLessThanOrEqual(ENTRIES_PER_ATTEMPT);
      // Every attempt has more than it embeds: each says so, one way or the other.
      expect(task.entries_omitted === true || (task.log_entries_truncated === true && task.metadata_entries_truncated === true)).toBe(true);
    }
    const embedded = tasks.filter((x) => x.log_entries.length > 0);
    expect(embedded.length).toBeGreaterThan(0);
    // The embedded ones are the last by time, oldest first.
    for (const task of embedded) {
      const whens = task.log_entries.map((e: { when: string }) => e.when);
      expect(whens).toEqual([...whens].sort());
      expect(whens.at(-1)).toBe(isoAt(100 + (task.task_definition_name === 'a' ? PER_KIND : ENTRIES_PER_ATTEMPT + 1) - 1));
    }
  });

  it('pages through every entry of an attempt, in time order, each page under 6 MB', async () => {
    // Act
    const [logs, metas] = await Promise.all([allPages(run.tasks[0]!.task_id, 'log_entries'), allPages(run.tasks[0]!.task_id, 'metadata')]);

    // Assess
    expect(logs.pages).toBeGreaterThan(1); // 5.5 MB does not fit one page
    expect(logs.entries.map((e) => e.when)).toEqual(Array.from({ length: PER_KIND }, (_, k) => isoAt(100 + k)));
    expect(new Set(logs.entries.map((e) => e.log_entry_id)).size).toBe(PER_KIND);
    expect(metas.entries).toHaveLength(PER_KIND);
  });

  it('answers 404 for the entries of an unknown attempt', async () => {
    // Act
    const res = await t.api('GET', `/api/tasks/${randomUUID()}/log_entries`);

    // Assess
    expect(res.status).toBe(404);
  });
});

describe('lists do not read entries', () => {
  it('GET /api/processes?max_records=5 reads the same items whether a listed run has 3,000 entries or none', async () => {
    // Prepare: count what DynamoDB answers the store, by an observer of its client
    const counted = { calls: 0, items: 0 };
    const stop = t.services.store.db.doc.observe(async (_call, next) => {
      const out = await next();
      counted.calls++;
      counted.items += ((out as { Items?: unknown[] }).Items ?? []).length;
      return out;
    });
    const runs = [];
    for (let i = 0; i < 5; i++) {
      runs.push(await seedRun(t.services, { process_definition_name: 'busy', start_time: isoAt(i), tasks: [{ task_definition_name: 'work' }] }));
    }
    const list = async () => {
      counted.calls = 0;
      counted.items = 0;
      const res = await t.api('GET', '/api/processes/?process_definition_name=busy&max_records=5');
      expect(res.status).toBe(200);
      return { ...counted, body: res.json };
    };
    const before = await list();
    const busy = runs.at(-1)!.tasks[0]!;
    for (let k = 0; k < 3000; k += 500) {
      const entries = Array.from({ length: 500 }, (_, j) => ({ log_entry_id: randomUUID(), when: isoAt(200 + k + j), source: 'app', message: `line ${k + j}` }));
      await post(busy.task_id, busy.token, 'log_entries', entries);
    }

    // Act
    const after = await list();

    // Assess
    expect(after.body).toHaveLength(5);
    expect(after.calls).toBe(before.calls);
    expect(after.items).toBe(before.items);
    expect(after.items).toBeLessThan(20);
    stop();
  }, 120_000);
});

describe('GET /api/processes/{id} of a run whose attempts alone pass the budget', () => {
  it('answers the attempts that fit, and where the rest are: GET /api/tasks/?process_id= pages every other one', async () => {
    // Prepare: 18,000 attempts of two tasks (retries of a 500-attempt task, retried again and again),
    // written straight to the table as the engine writes them: ~6.5 MB of attempts on the wire
    // Ended: a running run would be killed by the server's close, which renders all 18,000 attempts into its notification.
    const run = await seedRun(t.services, { process_definition_name: 'many-attempts', status: 'failed', end_time: isoAt(1), tasks: [] });
    const ATTEMPTS = 18_000;
    const { db } = t.services.store;
    const items = Array.from({ length: ATTEMPTS }, (_, i) => {
      const task = {
        task_id: randomUUID(),
        process_id: run.process_id,
        process_definition_name: 'many-attempts',
        task_definition_name: i % 2 === 0 ? 'even' : 'odd',
        start_time: new Date(Date.parse(isoAt(0)) + i * 1000).toISOString(),
        end_time: new Date(Date.parse(isoAt(0)) + i * 1000 + 500).toISOString(),
        previous_attempt_count: Math.floor(i / 2),
        status: 'failed',
      };
      return { ...keys.task(run.process_id, task.task_id), ...task };
    });
    for (let i = 0; i < items.length; i += 25) {
      await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }

    // Act
    const res = await t.api('GET', `/api/processes/${run.process_id}`);

    // Assess: the attempts that fit the budget, by start time, and a cursor
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(lambdaBytes(res.text)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    const answered: Array<{ task_id: string; start_time: string }> = res.json.task;
    expect(payloadBytes(answered)).toBeLessThanOrEqual(ATTEMPTS_BUDGET_BYTES);
    expect(answered.length).toBeGreaterThan(ATTEMPTS / 4);
    expect(answered.map((x) => x.start_time)).toEqual(answered.map((x) => x.start_time).sort());
    expect(typeof res.json.attempts_next).toBe('string');

    // Assess: the pages after the cursor hold every other attempt, once
    const rest: string[] = [];
    let next: string | null = res.json.attempts_next;
    while (next !== null) {
      const page = await t.api('GET', `/api/tasks/?process_id=${run.process_id}&limit=1000&next=${encodeURIComponent(next)}`);
      expect(page.status, page.text.slice(0, 300)).toBe(200);
      rest.push(...page.json.map((x: { task_id: string }) => x.task_id));
      next = page.headers.get('x-next-cursor');
    }
    const all = [...answered.map((x) => x.task_id), ...rest];
    expect(all).toHaveLength(ATTEMPTS);
    expect(new Set(all)).toEqual(new Set(items.map((i) => i.task_id)));
  }, 120_000);
});
