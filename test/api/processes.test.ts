/** GET /api/processes (filters, order, pagination) and GET /api/processes/:id, over a real socket. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { logEntries, metadataEntries } from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import {
  type Api,
  type SeededRun,
  type TestSundial,
  isoAt,
  listAllPages,
  logEntry,
  metadataEntry,
  seedRun,
  startTestSundial,
} from '../helpers/local';

let sundial: TestSundial;
let api: Api;
/** Every seeded run, newest first. */
let runs: SeededRun[];
let alpha: SeededRun[];

const ids = (items: Array<{ process_id: string }>) => items.map((r) => r.process_id);
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  sundial = await startTestSundial();
  api = sundial.api;
  // Prepare (shared): eight finished-or-running runs of two definitions, ten minutes apart or less.
  const spec: Array<[string, number, 'running' | 'succeeded' | 'failed']> = [
    ['alpha', 0, 'succeeded'],
    ['beta', 5, 'running'],
    ['alpha', 10, 'failed'],
    ['beta', 15, 'failed'],
    ['alpha', 20, 'running'],
    ['alpha', 30, 'succeeded'],
    ['alpha', 40, 'failed'],
    ['alpha', 50, 'succeeded'],
  ];
  runs = [];
  for (const [name, minute, status] of spec) {
    runs.push(
      await seedRun(sundial.services, {
        process_definition_name: name,
        status,
        start_time: isoAt(minute),
        tasks: [
          { task_definition_name: 'extract', status: status === 'running' ? 'running' : 'succeeded' },
          { task_definition_name: 'load', status: status === 'running' ? 'pending' : status },
        ],
      }),
    );
  }
  runs.reverse();
  alpha = runs.filter((r) => r.process_definition_name === 'alpha');
});

afterAll(async () => {
  await sundial?.close();
});

describe('GET /api/processes', () => {
  test.each(['/api/processes', '/api/processes/'])('lists every run newest first at %s', async (path) => {
    // Act
    const res = await api('GET', path);

    // Assess
    expect(res.status).toBe(200);
    expect(ids(res.json)).toEqual(ids(runs));
    expect(res.headers.get('x-next-cursor')).toBeNull();
  });

  it('answers each run in the seed `process` shape, with its task attempts and no entries (entries_omitted)', async () => {
    // Act
    const res = await api('GET', '/api/processes?process_definition_name=beta&max_records=1');

    // Assess
    const newestBeta = runs.find((r) => r.process_definition_name === 'beta');
    expect(res.json).toEqual([
      {
        process_id: newestBeta?.process_id,
        process_definition_name: 'beta',
        start_time: isoAt(15),
        status: 'failed',
        task: newestBeta?.tasks.map(({ token: _token, ...task }) => ({ ...task, log_entries: [], metadata_entries: [], entries_omitted: true })),
        // Seeded without a trigger, as runs stored before provenance was recorded: one derived from the item.
        trigger: { kind: 'manual', by: 'unknown', at: isoAt(15), scheduled_time: isoAt(15), derived: true },
        parameters: [],
      },
    ]);
  });

  it('filters by process_definition_name', async () => {
    // Act
    const res = await api('GET', '/api/processes?process_definition_name=alpha');

    // Assess
    expect(ids(res.json)).toEqual(ids(alpha));
  });

  it('answers an empty list for a definition without runs', async () => {
    // Act
    const res = await api('GET', '/api/processes?process_definition_name=nobody');

    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
  });

  test.each([
    ['start_time and end_time, both inclusive', `start_time=${isoAt(10)}&end_time=${isoAt(30)}`, [30, 20, 15, 10]],
    ['start_time only', `start_time=${isoAt(40)}`, [50, 40]],
    ['end_time only', `end_time=${isoAt(5)}`, [5, 0]],
    ['a window between runs', `start_time=${isoAt(41)}&end_time=${isoAt(49)}`, []],
    ['a time with an offset, read as UTC', `start_time=${encodeURIComponent('2026-03-01T13:40:00+01:00')}`, [50, 40]],
  ])('filters by %s', async (_case, query, minutes) => {
    // Act
    const res = await api('GET', `/api/processes?${query}`);

    // Assess
    expect(res.status).toBe(200);
    expect(res.json.map((r: { start_time: string }) => r.start_time)).toEqual(minutes.map(isoAt));
  });

  test.each([
    ['repeated', 'allowed_statuses=failed&allowed_statuses=running', ['failed', 'running']],
    ['comma-separated', 'allowed_statuses=failed,running', ['failed', 'running']],
    ['single', 'allowed_statuses=succeeded', ['succeeded']],
  ])('filters by allowed_statuses given %s', async (_case, query, statuses) => {
    // Act
    const res = await api('GET', `/api/processes?${query}`);

    // Assess
    expect(ids(res.json)).toEqual(ids(runs.filter((r) => statuses.includes(r.status))));
  });

  it('combines every filter', async () => {
    // Act
    const res = await api('GET', `/api/processes?process_definition_name=alpha&allowed_statuses=succeeded&start_time=${isoAt(1)}&end_time=${isoAt(50)}`);

    // Assess
    expect(res.json.map((r: { start_time: string }) => r.start_time)).toEqual([isoAt(50), isoAt(30)]);
  });

  test.each(['max_records', 'limit'])('answers at most %s runs, the newest, and a cursor', async (param) => {
    // Act
    const res = await api('GET', `/api/processes?${param}=3`);

    // Assess
    expect(ids(res.json)).toEqual(ids(runs.slice(0, 3)));
    expect(res.headers.get('x-next-cursor')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test.each([
    ['all runs, 3 per page', 'max_records=3', () => runs],
    ['all runs, 1 per page', 'limit=1', () => runs],
    ['one definition, 2 per page', 'process_definition_name=alpha&max_records=2', () => alpha],
    ['a status filter, 1 per page', 'allowed_statuses=succeeded&max_records=1', () => runs.filter((r) => r.status === 'succeeded')],
    ['a time window, 2 per page', `start_time=${isoAt(10)}&end_time=${isoAt(40)}&max_records=2`, () => runs.filter((r) => r.start_time >= isoAt(10) && r.start_time <= isoAt(40))],
  ])('pages through %s with x-next-cursor and next, without duplicates or gaps', async (_case, query, expected) => {
    // Act
    const { pages, items } = await listAllPages(api, `/api/processes?${query}`);

    // Assess
    const pageSize = Number(/(?:max_records|limit)=(\d+)/.exec(query)?.[1]);
    expect(ids(items as Array<{ process_id: string }>)).toEqual(ids(expected()));
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(page.length).toBeLessThanOrEqual(pageSize);
  });

  test.each([
    ['text that is no cursor', () => 'not-a-cursor'],
    ['a cursor of the task listing', async () => (await api('GET', '/api/tasks?limit=1')).headers.get('x-next-cursor') ?? ''],
    ['a cursor of another definition', async () => (await api('GET', '/api/processes?process_definition_name=beta&max_records=1')).headers.get('x-next-cursor') ?? ''],
  ])('refuses %s as next with 400 on next', async (_case, cursor) => {
    // Prepare
    const next = await cursor();
    expect(next).not.toBe('');

    // Act
    const res = await api('GET', `/api/processes?process_definition_name=alpha&next=${encodeURIComponent(next)}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('next');
  });

  test.each([
    ['that lacks the sort key', { gsi2pk: 'RUNS' }],
    ['with extra attributes', { pk: `RUN#${randomUUID()}`, sk: 'RUN', gsi2pk: 'RUNS', gsi2sk: `${isoAt(0)}#x`, owner: 'me' }],
  ])('refuses a forged cursor of the right listing %s with 400 on next (not a 500)', async (_case, key) => {
    // Act
    const res = await api('GET', `/api/processes?next=${cursorOf(key)}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('next');
  });

  it('refuses with 400 on next a cursor reused with a window that excludes it (not a 500)', async () => {
    // Prepare: the cursor after the newest two runs points at 40 minutes
    const first = await api('GET', '/api/processes?max_records=2');
    const next = first.headers.get('x-next-cursor') ?? '';

    // Act
    const res = await api('GET', `/api/processes?max_records=2&start_time=${isoAt(45)}&next=${next}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('next');
  });

  it('refuses a start_time after the end_time with 400 (not a 500)', async () => {
    // Act
    const res = await api('GET', `/api/processes?start_time=${isoAt(30)}&end_time=${isoAt(10)}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('end_time');
  });

  test.each([
    ['allowed_statuses=bogus', 'allowed_statuses.0'],
    ['allowed_statuses=failed,pending', 'allowed_statuses.1'],
    ['max_records=0', 'max_records'],
    ['max_records=abc', 'max_records'],
    ['limit=5000', 'limit'],
    ['start_time=last-tuesday', 'start_time'],
    ['end_time=2026-03-01T25:00:00Z', 'end_time'],
    ['process_definition_name=no%20spaces', 'process_definition_name'],
  ])('refuses the query %s with 400 naming %s', async (query, field) => {
    // Act
    const res = await api('GET', `/api/processes?${query}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_field');
    expect(res.json.error.field).toBe(field);
  });
});

describe('GET /api/processes/:process_id', () => {
  it('answers the run with its task attempts and their log and metadata entries, oldest entry first', async () => {
    // Prepare
    const run = await seedRun(sundial.services, {
      process_definition_name: 'detail',
      status: 'running',
      start_time: isoAt(100),
      tasks: [
        { task_definition_name: 'extract', status: 'failed', previous_attempt_count: 0, end_time: isoAt(101) },
        { task_definition_name: 'extract', status: 'running', previous_attempt_count: 1, start_time: isoAt(102) },
      ],
    });
    const [failed, retrying] = run.tasks;
    const late = logEntry({ when: isoAt(101), message: 'second' });
    const early = logEntry({ when: isoAt(100), message: 'first' });
    const meta = metadataEntry({ key: 'exit_code', value: '1' });
    await sundial.services.store.runs.appendLogEntries(run.process_id, failed?.task_id ?? '', parseWith(logEntries, [late, early]));
    await sundial.services.store.runs.appendMetadataEntries(run.process_id, failed?.task_id ?? '', parseWith(metadataEntries, [meta]));

    // Act
    const res = await api('GET', `/api/processes/${run.process_id}`);

    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ process_id: run.process_id, process_definition_name: 'detail', start_time: isoAt(100), status: 'running' });
    expect(res.json.task).toEqual([
      {
        task_id: failed?.task_id,
        process_id: run.process_id,
        process_definition_name: 'detail',
        task_definition_name: 'extract',
        start_time: isoAt(100),
        end_time: isoAt(101),
        previous_attempt_count: 0,
        status: 'failed',
        log_entries: [early, late],
        metadata_entries: [meta],
      },
      {
        task_id: retrying?.task_id,
        process_id: run.process_id,
        process_definition_name: 'detail',
        task_definition_name: 'extract',
        start_time: isoAt(102),
        previous_attempt_count: 1,
        status: 'running',
        log_entries: [],
        metadata_entries: [],
      },
    ]);
  });

  it('answers the same run as the listing does, but for the entries the listing leaves out', async () => {
    // Prepare
    const newest = runs[0];

    // Act
    const one = await api('GET', `/api/processes/${newest?.process_id}`);
    const list = await api('GET', '/api/processes?process_definition_name=alpha&max_records=1');

    // Assess
    const omitted = (run: { task: object[] }) => ({ ...run, task: run.task.map((t) => ({ ...t, log_entries: [], metadata_entries: [], entries_omitted: true })) });
    expect(list.json).toEqual([omitted(one.json)]);
  });

  it('answers 404 for an unknown id', async () => {
    // Prepare
    const unknown = randomUUID();

    // Act
    const res = await api('GET', `/api/processes/${unknown}`);

    // Assess
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
    expect(res.json.error.message).toContain(unknown);
  });

  test.each(['not-a-uuid', '12345', `${randomUUID()}x`])('answers 400 on process_id for the id %s', async (id) => {
    // Act
    const res = await api('GET', `/api/processes/${id}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('process_id');
  });
});
