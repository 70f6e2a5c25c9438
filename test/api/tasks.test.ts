/** GET /api/tasks: filters, order and pagination of task attempts, over a real socket. */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { logEntries } from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import { type Api, type SeededTask, type TestSundial, isoAt, listAllPages, logEntry, seedRun, startTestSundial } from '../helpers/local';

let sundial: TestSundial;
let api: Api;
/** Every seeded attempt, newest first. */
let attempts: SeededTask[];

const taskIds = (items: Array<{ task_id: string }>) => items.map((t) => t.task_id);
const newestFirst = (a: SeededTask, b: SeededTask) => b.start_time.localeCompare(a.start_time);

beforeAll(async () => {
  sundial = await startTestSundial();
  api = sundial.api;
  // Prepare (shared): two runs of gamma, one of delta; `load` of gamma's first run failed once and was retried.
  const gamma1 = await seedRun(sundial.services, {
    process_definition_name: 'gamma',
    status: 'succeeded',
    start_time: isoAt(0),
    tasks: [
      { task_definition_name: 'extract', status: 'succeeded', start_time: isoAt(0) },
      { task_definition_name: 'load', status: 'failed', start_time: isoAt(1), previous_attempt_count: 0 },
      { task_definition_name: 'load', status: 'succeeded', start_time: isoAt(3), previous_attempt_count: 1 },
    ],
  });
  const delta = await seedRun(sundial.services, {
    process_definition_name: 'delta',
    status: 'running',
    start_time: isoAt(2),
    tasks: [{ task_definition_name: 'extract', status: 'pending', start_time: isoAt(2) }],
  });
  const gamma2 = await seedRun(sundial.services, {
    process_definition_name: 'gamma',
    status: 'running',
    start_time: isoAt(10),
    tasks: [{ task_definition_name: 'extract', status: 'running', start_time: isoAt(10) }],
  });
  attempts = [...gamma1.tasks, ...delta.tasks, ...gamma2.tasks].sort(newestFirst);
  const [extract] = gamma1.tasks;
  await sundial.services.store.runs.appendLogEntries(gamma1.process_id, extract?.task_id ?? '', parseWith(logEntries, [logEntry({ message: 'extracted' })]));
});

afterAll(async () => {
  await sundial?.close();
});

describe('GET /api/tasks', () => {
  test.each(['/api/tasks', '/api/tasks/'])('lists every attempt newest first at %s', async (path) => {
    // Act
    const res = await api('GET', path);

    // Assess
    expect(res.status).toBe(200);
    expect(taskIds(res.json)).toEqual(taskIds(attempts));
  });

  it('answers attempts in the seed `task` shape, without their entries (entries_omitted; their pages have them)', async () => {
    // Act
    const res = await api('GET', `/api/tasks?process_definition_name=gamma&task_definition_name=extract&end_time=${isoAt(0)}`);

    // Assess
    expect(res.json).toHaveLength(1);
    expect(res.json[0]).toMatchObject({
      process_definition_name: 'gamma',
      task_definition_name: 'extract',
      start_time: isoAt(0),
      previous_attempt_count: 0,
      status: 'succeeded',
      log_entries: [],
      metadata_entries: [],
      entries_omitted: true,
    });
    const page = await api('GET', `/api/tasks/${res.json[0].task_id}/log_entries`);
    expect(page.json.log_entries).toMatchObject([{ message: 'extracted' }]);
  });

  test.each([
    ['process_definition_name', 'process_definition_name=gamma', (t: SeededTask) => t.process_definition_name === 'gamma'],
    ['process and task definition names', 'process_definition_name=gamma&task_definition_name=load', (t: SeededTask) => t.process_definition_name === 'gamma' && t.task_definition_name === 'load'],
    ['allowed_statuses, repeated', 'allowed_statuses=failed&allowed_statuses=pending', (t: SeededTask) => ['failed', 'pending'].includes(t.status)],
    ['allowed_statuses, comma-separated', 'allowed_statuses=succeeded,running', (t: SeededTask) => ['succeeded', 'running'].includes(t.status)],
    ['start_time', `start_time=${isoAt(2)}`, (t: SeededTask) => t.start_time >= isoAt(2)],
    ['end_time', `end_time=${isoAt(2)}`, (t: SeededTask) => t.start_time <= isoAt(2)],
    ['every filter at once', `process_definition_name=gamma&task_definition_name=load&allowed_statuses=succeeded&start_time=${isoAt(1)}&end_time=${isoAt(3)}`, (t: SeededTask) => t.task_definition_name === 'load' && t.status === 'succeeded'],
  ])('filters by %s', async (_case, query, keep) => {
    // Act
    const res = await api('GET', `/api/tasks?${query}`);

    // Assess
    expect(res.status).toBe(200);
    const expected = attempts.filter(keep);
    expect(expected.length).toBeGreaterThan(0);
    expect(taskIds(res.json)).toEqual(taskIds(expected));
  });

  it('answers at most `limit` attempts, the newest, and pages through the rest', async () => {
    // Act
    const first = await api('GET', '/api/tasks?limit=2');
    const { pages, items } = await listAllPages(api, '/api/tasks?limit=2');

    // Assess
    expect(taskIds(first.json)).toEqual(taskIds(attempts.slice(0, 2)));
    expect(first.headers.get('x-next-cursor')).not.toBeNull();
    expect(taskIds(items as Array<{ task_id: string }>)).toEqual(taskIds(attempts));
    expect(pages.length).toBeGreaterThanOrEqual(3);
  });

  it('pages through one task definition with a status filter', async () => {
    // Act
    const { items } = await listAllPages(api, '/api/tasks?process_definition_name=gamma&task_definition_name=load&allowed_statuses=failed,succeeded&limit=1');

    // Assess
    expect(taskIds(items as Array<{ task_id: string }>)).toEqual(
      taskIds(attempts.filter((t) => t.process_definition_name === 'gamma' && t.task_definition_name === 'load')),
    );
  });

  it('refuses task_definition_name without process_definition_name', async () => {
    // Act
    const res = await api('GET', '/api/tasks?task_definition_name=load');

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('process_definition_name');
    expect(res.json.error.message).toContain('task_definition_name');
  });

  test.each([
    ['allowed_statuses=bogus', 'allowed_statuses.0'],
    ['allowed_statuses=running,bogus', 'allowed_statuses.1'],
    ['limit=0', 'limit'],
    ['start_time=soon', 'start_time'],
    ['process_definition_name=gamma&task_definition_name=a%2Fb', 'task_definition_name'],
  ])('refuses the query %s with 400 naming %s', async (query, field) => {
    // Act
    const res = await api('GET', `/api/tasks?${query}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe(field);
  });

  it('refuses a cursor of the run listing with 400 on next', async () => {
    // Prepare
    const runs = await api('GET', '/api/processes?max_records=1');
    const next = runs.headers.get('x-next-cursor') ?? '';

    // Act
    const res = await api('GET', `/api/tasks?next=${next}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('next');
  });

  it('refuses a start_time after the end_time with 400 (not a 500)', async () => {
    // Act
    const res = await api('GET', `/api/tasks?start_time=${isoAt(5)}&end_time=${isoAt(1)}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('end_time');
  });
});

describe('GET /api/tasks?process_id= (one run, in the order of its attempts ids)', () => {
  /** gamma's first run: extract, and load failed once then succeeded. */
  const gamma1 = () => attempts.filter((t) => t.process_definition_name === 'gamma' && t.process_id === attempts.at(-1)?.process_id);
  const byId = (items: Array<{ task_id: string }>) => taskIds(items).sort();

  it("lists the run's attempts, and only them, in the order of their ids", async () => {
    // Act
    const res = await api('GET', `/api/tasks/?process_id=${gamma1()[0]?.process_id}`);

    // Assess
    expect(res.status).toBe(200);
    expect(gamma1()).toHaveLength(3);
    expect(taskIds(res.json)).toEqual(byId(gamma1()));
    expect(res.json[0]).toMatchObject({ log_entries: [], metadata_entries: [], entries_omitted: true });
    expect(res.headers.get('x-next-cursor')).toBeNull();
  });

  it('pages through the run one attempt at a time', async () => {
    // Act
    const { pages, items } = await listAllPages(api, `/api/tasks/?process_id=${gamma1()[0]?.process_id}&limit=1`);

    // Assess
    expect(pages.filter((p) => p.length > 0)).toHaveLength(3);
    expect(taskIds(items as Array<{ task_id: string }>)).toEqual(byId(gamma1()));
  });

  test.each([
    ['task_definition_name=load', (t: SeededTask) => t.task_definition_name === 'load'],
    ['allowed_statuses=failed', (t: SeededTask) => t.status === 'failed'],
    ['process_definition_name=gamma&task_definition_name=extract', (t: SeededTask) => t.task_definition_name === 'extract'],
    ['process_definition_name=delta', () => false],
    [`start_time=${isoAt(1)}&end_time=${isoAt(1)}`, (t: SeededTask) => t.start_time === isoAt(1)],
  ])('applies the other filters too: %s', async (query, wanted) => {
    // Act
    const { items } = await listAllPages(api, `/api/tasks/?process_id=${gamma1()[0]?.process_id}&${query}&limit=1`);

    // Assess
    expect(taskIds(items as Array<{ task_id: string }>)).toEqual(byId(gamma1().filter(wanted)));
  });

  test.each([
    ['process_id=nope', 'process_id'],
    [`process_id=${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}&start_time=${isoAt(5)}&end_time=${isoAt(1)}`, 'end_time'],
  ])('refuses %s with 400 naming %s', async (query, field) => {
    // Act
    const res = await api('GET', `/api/tasks/?${query}`);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe(field);
  });

  it("refuses another listing's cursor, or another run's, with 400 on next", async () => {
    // Prepare
    const index = (await api('GET', '/api/tasks?limit=1')).headers.get('x-next-cursor') ?? '';
    const otherRun = attempts.find((t) => t.process_definition_name === 'delta')?.process_id;
    const other = (await api('GET', `/api/tasks/?process_id=${gamma1()[0]?.process_id}&limit=1`)).headers.get('x-next-cursor') ?? '';

    // Act
    const answers = await Promise.all([index, other].map((next) => api('GET', `/api/tasks/?process_id=${otherRun}&next=${encodeURIComponent(next)}`)));

    // Assess
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(res.json.error.field).toBe('next');
    }
  });
});
