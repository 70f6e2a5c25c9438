/** POST /api/tasks/:id/log_entries and /metadata: task tokens, idempotence, validation, over a real socket. */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it, test } from 'vitest';
import { signTaskToken } from '../../lambdas/domain/task-token';
import {
  type JsonObject,
  type SeededRun,
  type SeededTask,
  bearer,
  isoAt,
  logEntry,
  metadataEntry,
  mintTaskToken,
  seedRun,
  sundialPerFile,
} from '../helpers/local';

const sundial = sundialPerFile();
const { api } = sundial;

let runsSeeded = 0;

/** A fresh run (each a minute after the last) with two running attempts, A and B, without entries. */
async function twoTasks(): Promise<{ run: SeededRun; a: SeededTask; b: SeededTask }> {
  const run = await seedRun(sundial.current().services, {
    process_definition_name: 'callbacks',
    start_time: isoAt(runsSeeded++),
    tasks: [{ task_definition_name: 'a' }, { task_definition_name: 'b' }],
  });
  const [a, b] = run.tasks;
  if (!a || !b) throw new Error('seedRun answered fewer tasks than asked');
  return { run, a, b };
}

/** The attempt as GET /api/processes/:id answers it. */
async function storedTask(processId: string, taskId: string): Promise<{ log_entries: JsonObject[]; metadata_entries: JsonObject[] }> {
  const res = await api('GET', `/api/processes/${processId}`);
  expect(res.status).toBe(200);
  return res.json.task.find((t: { task_id: string }) => t.task_id === taskId);
}

/** [route, entry factory, field of the wire task, id attribute] */
const kinds = [
  ['log_entries', logEntry, 'log_entries', 'log_entry_id'],
  ['metadata', metadataEntry, 'metadata_entries', 'metadata_entry_id'],
] as const;

describe.each(kinds)('POST /api/tasks/:task_id/%s', (route, entry, field, idKey) => {
  const url = (taskId: string) => `/api/tasks/${taskId}/${route}`;

  it('stores the entries (201) and GET /api/processes/:id shows them, oldest first', async () => {
    // Prepare
    const { run, a } = await twoTasks();
    const later = entry({ when: isoAt(2) });
    const earlier = entry({ when: isoAt(1) });

    // Act
    const res = await api('POST', url(a.task_id), [later, earlier], bearer(a.token));

    // Assess
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ written: 2, received: 2 });
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([earlier, later]);
  });

  it('is idempotent on entry ids: posting twice stores once', async () => {
    // Prepare
    const { run, a } = await twoTasks();
    const entries = [entry(), entry()];
    await api('POST', url(a.task_id), entries, bearer(a.token));

    // Act
    const again = await api('POST', url(a.task_id), entries, bearer(a.token));

    // Assess
    expect(again.status).toBe(201);
    expect(again.json).toEqual({ written: 0, received: 2 });
    expect((await storedTask(run.process_id, a.task_id))[field]).toHaveLength(2);
  });

  it('keeps the first write of an id: a later post with the same id and other content changes nothing', async () => {
    // Prepare
    const { run, a } = await twoTasks();
    const id = randomUUID();
    const first = entry({ [idKey]: id, when: isoAt(1) });
    await api('POST', url(a.task_id), [first], bearer(a.token));

    // Act
    const res = await api('POST', url(a.task_id), [entry({ [idKey]: id, when: isoAt(9) })], bearer(a.token));

    // Assess
    expect(res.json.written).toBe(0);
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([first]);
  });

  it('keeps the first of two entries with the same id in one call, as it does across calls', async () => {
    // Prepare
    const { run, a } = await twoTasks();
    const id = randomUUID();
    const first = entry({ [idKey]: id, when: isoAt(1) });
    const second = entry({ [idKey]: id, when: isoAt(2) });

    // Act
    const res = await api('POST', url(a.task_id), [first, second], bearer(a.token));

    // Assess
    expect(res.json).toEqual({ written: 1, received: 2 });
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([first]);
  });

  it('accepts an empty list', async () => {
    // Prepare
    const { a } = await twoTasks();

    // Act
    const res = await api('POST', url(a.task_id), [], bearer(a.token));

    // Assess
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ written: 0, received: 0 });
  });

  test.each([
    ['no Authorization header', () => ({})],
    ['an empty bearer', () => ({ authorization: 'Bearer ' })],
    ['another scheme', (t: SeededTask) => ({ authorization: `Basic ${t.token}` })],
    ['a malformed token', () => ({ authorization: 'Bearer v1.not.valid' })],
    ['a token signed with another key', (t: SeededTask) => bearer(signTaskToken(randomBytes(32), { tid: t.task_id, pid: t.process_id }))],
    ['a token with its signature cut short', (t: SeededTask) => bearer(t.token.slice(0, -4))],
  ])('refuses %s with 401 and writes nothing', async (_case, headers) => {
    // Prepare
    const { run, a } = await twoTasks();

    // Act
    const res = await api('POST', url(a.task_id), [entry()], headers(a));

    // Assess
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([]);
  });

  it('refuses the token of task A on task B with 401 and writes nothing to either', async () => {
    // Prepare
    const { run, a, b } = await twoTasks();

    // Act
    const res = await api('POST', url(b.task_id), [entry()], bearer(a.token));

    // Assess
    expect(res.status).toBe(401);
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([]);
    expect((await storedTask(run.process_id, b.task_id))[field]).toEqual([]);
  });

  it('checks the token before the body: no token and a bad body is 401', async () => {
    // Prepare
    const { a } = await twoTasks();

    // Act
    const res = await api('POST', url(a.task_id), '{not json');

    // Assess
    expect(res.status).toBe(401);
  });

  test.each([
    ['a body that is not a list', () => ({}), undefined],
    ['an entry without its id', () => [{ ...entry(), [idKey]: undefined }], `0.${idKey}`],
    ['an id that is not a UUID', () => [entry({ [idKey]: '42' })], `0.${idKey}`],
    ['a `when` that is not a date-time', () => [entry(), entry({ when: 'noon' })], '1.when'],
  ])('refuses %s with 400 naming the field, and writes none of the entries', async (_case, body, errorField) => {
    // Prepare
    const { run, a } = await twoTasks();

    // Act
    const res = await api('POST', url(a.task_id), body(), bearer(a.token));

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe(errorField);
    expect((await storedTask(run.process_id, a.task_id))[field]).toEqual([]);
  });

  test.each([
    ['malformed JSON', '[{', {}, 400, 'body'],
    ['an empty body', '', {}, 400, 'body'],
    ['a non-JSON content type', '[]', { 'content-type': 'text/plain' }, 415, 'content-type'],
  ])('refuses %s', async (_case, body, headers, status, errorField) => {
    // Prepare
    const { a } = await twoTasks();

    // Act
    const res = await api('POST', url(a.task_id), body, { ...bearer(a.token), ...headers });

    // Assess
    expect(res.status).toBe(status);
    expect(res.json.error.field).toBe(errorField);
  });

  it('answers 404 for a valid token of an attempt that does not exist', async () => {
    // Prepare
    const taskId = randomUUID();
    const token = await mintTaskToken(sundial.current().services, taskId, randomUUID());

    // Act
    const res = await api('POST', url(taskId), [entry()], bearer(token));

    // Assess
    expect(res.status).toBe(404);
  });

  it('answers 400 on task_id for an id that is not a UUID', async () => {
    // Act
    const res = await api('POST', url('task-one'), [entry()], bearer('v1.a.b'));

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('task_id');
  });
});

describe('log and metadata entries together', () => {
  it('keeps each kind apart on the same attempt', async () => {
    // Prepare
    const { run, a } = await twoTasks();
    const log = logEntry();
    const meta = metadataEntry();

    // Act
    await api('POST', `/api/tasks/${a.task_id}/log_entries`, [log], bearer(a.token));
    await api('POST', `/api/tasks/${a.task_id}/metadata`, [meta], bearer(a.token));

    // Assess
    const task = await storedTask(run.process_id, a.task_id);
    expect(task.log_entries).toEqual([log]);
    expect(task.metadata_entries).toEqual([meta]);
  });

  it('pages entries at GET /api/tasks/{id}/log_entries (GET /api/tasks lists attempts without them)', async () => {
    // Prepare
    const { a } = await twoTasks();
    const log = logEntry({ message: 'visible in the task listing' });
    await api('POST', `/api/tasks/${a.task_id}/log_entries`, [log], bearer(a.token));

    // Act
    const res = await api('GET', '/api/tasks?process_definition_name=callbacks&task_definition_name=a&limit=1');

    // Assess
    expect(res.json[0].task_id).toBe(a.task_id);
    expect(res.json[0]).toMatchObject({ log_entries: [], entries_omitted: true });
    expect((await api('GET', `/api/tasks/${a.task_id}/log_entries`)).json.log_entries).toEqual([log]);
  });
});
