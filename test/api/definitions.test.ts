/** PUT/GET/DELETE and list of process definitions, over a real socket against the local mode. */
import { describe, expect, it, test } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambdas/http/route';
import { REMOVE, withPath } from '../helpers/assert';
import { type JsonObject, cronSchedule, processDefinition, shellTask, sundialPerFile } from '../helpers/local';

const { api } = sundialPerFile();

const path = (name: string) => `/api/process_definitions/${name}`;

describe('PUT /api/process_definitions/:name', () => {
  it('creates a definition (201) and answers exactly what GET then answers, defaults applied', async () => {
    // Prepare
    const body = processDefinition('create-me');

    // Act
    const put = await api('PUT', path('create-me'), body);
    const get = await api('GET', path('create-me'));

    // Assess
    expect(put.status).toBe(201);
    expect(put.headers.get('content-type')).toMatch(/^application\/json/);
    expect(get.status).toBe(200);
    expect(put.json).toEqual(get.json);
    expect(get.json).toMatchObject({
      process_definition_name: 'create-me',
      paused: false,
      overlap_action: 'wait',
      task_definitions: [
        { task_definition_name: 'first', backoff_exponent: 1 },
        { task_definition_name: 'second', dependencies: [{ task_definition_name: 'first', success_required: true }] },
      ],
    });
  });

  it('replaces a definition (200), and GET answers the new one', async () => {
    // Prepare
    await api('PUT', path('replace-me'), processDefinition('replace-me'));
    const replacement = processDefinition('replace-me', {
      process_description: 'now with three tasks',
      overlap_action: 'terminate',
      task_definitions: [shellTask('one'), shellTask('two'), shellTask('three')],
    });

    // Act
    const put = await api('PUT', path('replace-me'), replacement);
    const get = await api('GET', path('replace-me'));

    // Assess
    expect(put.status).toBe(200);
    expect(put.json).toEqual(get.json);
    expect(get.json.process_description).toBe('now with three tasks');
    expect(get.json.overlap_action).toBe('terminate');
    expect(get.json.task_definitions.map((t: { task_definition_name: string }) => t.task_definition_name)).toEqual(['one', 'two', 'three']);
  });

  it('accepts back, unchanged, the body GET answered', async () => {
    // Prepare
    await api('PUT', path('round-trip'), processDefinition('round-trip', {
        schedule: cronSchedule({ time_zone: 'Europe/Paris' }),
        notifications: [{ pagerduty: { service_key: 'k' } }, { email: { name: 'Ops', email: 'ops@example.com' } }],
      }));
    const first = await api('GET', path('round-trip'));

    // Act
    const put = await api('PUT', path('round-trip'), first.json);
    const second = await api('GET', path('round-trip'));

    // Assess
    expect(put.status).toBe(200);
    expect(second.json).toEqual(first.json);
  });

  test.each([
    ['omitted', undefined, true],
    ['null', null, true],
    ['false', false, false],
  ])('keeps paused: true when a later PUT has paused %s', async (_case, paused, expected) => {
    // Prepare
    const name = `paused-${_case}`;
    await api('PUT', path(name), processDefinition(name, { paused: true }));
    const later = processDefinition(name, { process_description: 'edited' });
    if (paused !== undefined) later.paused = paused;

    // Act
    const put = await api('PUT', path(name), later);
    const get = await api('GET', path(name));

    // Assess
    expect(put.status).toBe(200);
    expect(put.json.paused).toBe(expected);
    expect(get.json.paused).toBe(expected);
    expect(get.json.process_description).toBe('edited');
  });
});

describe('refused PUTs write nothing', () => {
  const valid = (name: string) => processDefinition(name);
  const cases: Array<[string, (name: string) => { body: unknown; headers?: Record<string, string> }, number, string, string | undefined]> = [
    ['malformed JSON', () => ({ body: '{"process_definition_name": ' }), 400, 'invalid_json', 'body'],
    ['an empty body', () => ({ body: '' }), 400, 'invalid_json', 'body'],
    ['a body that is an array', (n) => ({ body: [valid(n)] }), 400, 'invalid_field', undefined],
    ['a missing field', (n) => ({ body: { process_definition_name: n } }), 400, 'invalid_field', 'task_definitions'],
    ['a missing nested field', (n) => ({ body: withPath(valid(n), 'task_definitions.1.require_explicit_success', REMOVE) }), 400, 'invalid_field', 'task_definitions.1.require_explicit_success'],
    ['a mistyped field', (n) => ({ body: withPath(valid(n), 'task_definitions.0.max_attempts', '3') }), 400, 'invalid_field', 'task_definitions.0.max_attempts'],
    ['a path/body name mismatch', () => ({ body: valid('some-other-name') }), 400, 'name_mismatch', 'process_definition_name'],
    ['duplicate task names', (n) => ({ body: processDefinition(n, { task_definitions: [shellTask('a'), shellTask('a')] }) }), 400, 'duplicate_task', 'task_definitions.1.task_definition_name'],
    ['an unknown dependency', (n) => ({ body: processDefinition(n, { task_definitions: [shellTask('a', { dependencies: [{ task_definition_name: 'ghost' }] })] }) }), 400, 'unknown_dependency', 'task_definitions.0.dependencies.0.task_definition_name'],
    ['a dependency cycle', (n) => ({ body: processDefinition(n, { task_definitions: [shellTask('a', { dependencies: [{ task_definition_name: 'b' }] }), shellTask('b', { dependencies: [{ task_definition_name: 'a' }] })] }) }), 400, 'dependency_cycle', 'task_definitions.0.dependencies'],
    ['a cron field out of range', (n) => ({ body: processDefinition(n, { schedule: cronSchedule({ minutes: '75' }) }) }), 400, 'invalid_cron', 'schedule.cron_schedule.minutes'],
    ['both cron day fields set', (n) => ({ body: processDefinition(n, { schedule: cronSchedule({ day_of_month: '1', day_of_week: 'MON' }) }) }), 400, 'invalid_cron', 'schedule.cron_schedule.day_of_week'],
    ['zero max_attempts', (n) => ({ body: withPath(valid(n), 'task_definitions.0.max_attempts', 0) }), 400, 'invalid_field', 'task_definitions.0.max_attempts'],
    ['negative max_attempts', (n) => ({ body: withPath(valid(n), 'task_definitions.0.max_attempts', -2) }), 400, 'invalid_field', 'task_definitions.0.max_attempts'],
    ['a body over 256 KiB', (n) => ({ body: processDefinition(n, { process_description: 'x'.repeat(MAX_BODY_BYTES) }) }), 413, 'payload_too_large', 'body'],
    ['a non-JSON content type', (n) => ({ body: JSON.stringify(valid(n)), headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type', 'content-type'],
  ];

  test.each(cases)('refuses %s', async (label, request, status, code, field) => {
    // Prepare
    const name = `refused-${label.replace(/[^a-z0-9]+/gi, '-')}`;
    const { body, headers } = request(name);

    // Act
    const res = await api('PUT', path(name), body, headers);
    const after = await api('GET', path(name));

    // Assess
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.json).filter((k) => k !== 'errors')).toEqual(['error']);
    expect(res.json.error.code).toBe(code);
    expect(typeof res.json.error.message).toBe('string');
    expect(res.json.error.field).toBe(field);
    expect(after.status).toBe(404);
  });

  it('keeps the stored definition when a replacement is refused', async () => {
    // Prepare
    await api('PUT', path('keep-me'), processDefinition('keep-me'));
    const before = await api('GET', path('keep-me'));

    // Act
    const res = await api('PUT', path('keep-me'), withPath(processDefinition('keep-me'), 'task_definitions.0.max_attempts', 0));
    const after = await api('GET', path('keep-me'));

    // Assess
    expect(res.status).toBe(400);
    expect(after.json).toEqual(before.json);
  });

  it('refuses a name in the path that is not a valid name, naming it', async () => {
    // Act
    const res = await api('PUT', path('bad%20name'), processDefinition('bad name'));

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('process_definition_name');
  });
});

describe('GET and DELETE /api/process_definitions/:name', () => {
  it('answers 404 with the error shape for an unknown definition', async () => {
    // Act
    const res = await api('GET', path('never-created'));

    // Assess
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
    expect(res.json.error.message).toContain('never-created');
  });

  it('deletes (204, empty body), then GET and a second DELETE answer 404', async () => {
    // Prepare
    await api('PUT', path('delete-me'), processDefinition('delete-me'));

    // Act
    const del = await api('DELETE', path('delete-me'));
    const get = await api('GET', path('delete-me'));
    const again = await api('DELETE', path('delete-me'));

    // Assess
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(get.status).toBe(404);
    expect(again.status).toBe(404);
  });

  it('creates anew (201, not paused) after a delete', async () => {
    // Prepare
    await api('PUT', path('reborn'), processDefinition('reborn', { paused: true }));
    await api('DELETE', path('reborn'));

    // Act
    const put = await api('PUT', path('reborn'), processDefinition('reborn'));

    // Assess
    expect(put.status).toBe(201);
    expect(put.json.paused).toBe(false);
  });
});

describe('GET /api/process_definitions', () => {
  test.each(['/api/process_definitions', '/api/process_definitions/'])('lists every definition by name at %s, each as GET answers it', async (listPath) => {
    // Prepare
    const names = ['list-b', 'list-a', 'list-c'];
    for (const n of names) await api('PUT', path(n), processDefinition(n));

    // Act
    const res = await api('GET', listPath);

    // Assess
    expect(res.status).toBe(200);
    const listed = res.json as JsonObject[];
    const listedNames = listed.map((d) => d.process_definition_name as string);
    expect(listedNames).toEqual([...listedNames].sort());
    expect(listedNames).toEqual(expect.arrayContaining(names));
    for (const n of names) {
      const get = await api('GET', path(n));
      expect(listed.find((d) => d.process_definition_name === n)).toEqual(get.json);
    }
  });

  it('leaves a deleted definition out', async () => {
    // Prepare
    await api('PUT', path('list-gone'), processDefinition('list-gone'));
    await api('DELETE', path('list-gone'));

    // Act
    const res = await api('GET', '/api/process_definitions');

    // Assess
    expect(res.json.map((d: JsonObject) => d.process_definition_name)).not.toContain('list-gone');
  });
});
