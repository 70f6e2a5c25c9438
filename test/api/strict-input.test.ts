/**
 * Input that must never be silently dropped or wrongly accepted, over a real socket against the local
 * mode: unknown fields at any depth (with a suggestion), every problem in one answer, NUL characters in
 * what a process receives, entry ids compared case-insensitively, forged cursors.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, test } from 'vitest';
import { SundialClient } from '../../cli/client';
import { withPath } from '../helpers/assert';
import {
  type JsonObject,
  bearer,
  cronSchedule,
  isoAt,
  logEntry,
  metadataEntry,
  processDefinition,
  seedRun,
  shellTask,
  sundialPerFile,
} from '../helpers/local';

const { current, api } = sundialPerFile();

const path = (name: string) => `/api/process_definitions/${name}`;

describe('unknown fields are refused with 400, each named, with the nearest known name', () => {
  test.each([
    ['a top-level typo', 'process_descripton', 'process_description'],
    ['a task field', 'task_definitions.0.max_runtime_secs', 'max_runtime_seconds'],
    ['a dependency field', 'task_definitions.1.dependencies.0.succes_required', 'success_required'],
    ['an executable variant', 'task_definitions.0.executable.shell_script_comand', 'shell_script_command'],
    ['an executable field', 'task_definitions.0.executable.shell_script_command.scrpt', 'script'],
    ['an environment variable field', 'task_definitions.0.executable.shell_script_command.environment_variables.0.valeu', 'value'],
    ['a schedule variant', 'schedule.cron_schedul', 'cron_schedule'],
    ['an abbreviated schedule variant', 'schedule.cron', 'cron_schedule'],
    ['a cron field', 'schedule.cron_schedule.minute', 'minutes'],
    ['a notification variant', 'notifications.0.emial', 'email'],
    ['a notification field', 'notifications.0.email.notify_wen', 'notify_when'],
  ])('%s: %s → did you mean %s?', async (_case, field, suggestion) => {
    // Prepare: a valid body with every object the path crosses, then the unknown field added
    const valid = processDefinition(`unknown-${_case.replaceAll(' ', '-')}`, {
      schedule: cronSchedule(),
      notifications: [{ email: { name: 'ops', email: 'ops@example.com' } }],
      task_definitions: [
        shellTask('first', { executable: { shell_script_command: { script: 'true', environment_variables: [{ variable_name: 'A', value: 'b' }] } } }),
        shellTask('second', { dependencies: [{ task_definition_name: 'first' }] }),
      ],
    });
    const body = withPath(valid, field, 'x');

    // Act
    const res = await api('PUT', path(valid.process_definition_name as string), body);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field });
    expect(res.json.error.message).toContain(`did you mean ${suggestion}?`);
    expect(res.json.errors[0]).toEqual(res.json.error);
  });

  it('a misspelt schedule never removes the stored cron schedule', async () => {
    // Prepare
    const name = 'keeps-its-schedule';
    await api('PUT', path(name), processDefinition(name, { schedule: cronSchedule() }));
    const { schedule: _dropped, ...rest } = processDefinition(name);
    void _dropped;

    // Act
    const res = await api('PUT', path(name), { ...rest, schedul: cronSchedule() });
    const after = await api('GET', path(name));

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field: 'schedul' });
    expect(res.json.error.message).toContain('did you mean schedule?');
    expect(after.json.schedule).toEqual(cronSchedule());
  });

  it('a definition read with GET, edited and PUT back is accepted: its read-only fields are ignored', async () => {
    // Prepare
    const name = 'round-trip';
    await api('PUT', path(name), processDefinition(name, { schedule: cronSchedule() }));
    const read = (await api('GET', path(name))).json;
    expect(Object.keys(read)).toEqual(expect.arrayContaining(['paused', 'next_run_time', 'last_run', 'runs_succeeded', 'runs_failed']));

    // Act
    const res = await api('PUT', path(name), { ...read, process_description: 'edited' });

    // Assess
    expect(res.status).toBe(200);
    expect(res.json.process_description).toBe('edited');
    expect(res.json.runs_succeeded).toBe(0);
  });

  it('the body of a trigger', async () => {
    // Prepare
    await api('PUT', path('trigger-body'), processDefinition('trigger-body'));

    // Act
    const res = await api('POST', `${path('trigger-body')}/trigger`, { environment_variable: [] });

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field: 'environment_variable' });
    expect(res.json.error.message).toContain('did you mean environment_variables?');
  });

  test.each([
    ['log_entries', () => ({ ...logEntry(), mesage: 'x' }), '0.mesage', 'message'],
    ['metadata', () => ({ ...metadataEntry(), vaule: 'x' }), '0.vaule', 'value'],
  ])('the body of a %s callback', async (route, entry, field, suggestion) => {
    // Prepare
    const run = await seedRun(current().services, { process_definition_name: 'strict-callbacks', start_time: isoAt(1) });
    const task = run.tasks[0]!;

    // Act
    const res = await api('POST', `/api/tasks/${task.task_id}/${route}`, [entry()], bearer(task.token));

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field });
    expect(res.json.error.message).toContain(`did you mean ${suggestion}?`);
  });

  test.each([
    ['/api/processes?limt=5', 'limt', 'did you mean limit?'],
    ['/api/tasks?process_definition=x', 'process_definition', 'did you mean process_definition_name?'],
    ['/api/process_definitions?verbose=1', 'verbose', 'no query parameter is expected here'],
  ])('a query parameter: %s', async (url, field, hint) => {
    // Act
    const res = await api('GET', url);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field });
    expect(res.json.error.message).toContain(hint);
  });
});

describe('every problem of a request in one answer', () => {
  it('a body with three mistakes answers all three, the first as error', async () => {
    // Prepare
    let body = processDefinition('three-mistakes');
    body = withPath(body, 'task_definitions.0.max_attempts', 0);
    body = withPath(body, 'task_definitions.1.max_runtime_secs', 10);
    body = withPath(body, 'overlap_action', 'queue');

    // Act
    const res = await api('PUT', path('three-mistakes'), body);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: JsonObject) => [e.code, e.field])).toEqual([
      ['invalid_field', 'task_definitions.0.max_attempts'],
      ['unknown_field', 'task_definitions.1.max_runtime_secs'],
      ['invalid_field', 'overlap_action'],
    ]);
    expect(res.json.error).toEqual(res.json.errors[0]);
  });

  it('rules past the schema too: name, DAG and cron problems in one answer', async () => {
    // Prepare: the body's name differs from the path's, two tasks depend on unknown tasks, the cron has
    // both day fields set
    const body = processDefinition('other-name', {
      task_definitions: [shellTask('a', { dependencies: [{ task_definition_name: 'nope' }] }), shellTask('b', { dependencies: [{ task_definition_name: 'gone' }] })],
      schedule: cronSchedule({ day_of_month: '1', day_of_week: 'MON' }),
    });

    // Act
    const res = await api('PUT', path('dag-mistakes'), body);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: JsonObject) => [e.code, e.field])).toEqual([
      ['name_mismatch', 'process_definition_name'],
      ['unknown_dependency', 'task_definitions.0.dependencies.0.task_definition_name'],
      ['unknown_dependency', 'task_definitions.1.dependencies.0.task_definition_name'],
      [expect.any(String), expect.stringMatching(/^schedule\.cron_schedule/)],
    ]);
    expect((await api('GET', path('dag-mistakes'))).status).toBe(404);
  });

  it('and the scheduler, PagerDuty api_url and masked key rules, nothing stored', async () => {
    // Prepare: an interval start that has passed, a key sent to a host that is not PagerDuty's, a masked
    // key with no stored definition to restore it from
    const body = processDefinition('late-and-leaky', {
      schedule: { interval_schedule: { repeat: 'R/2020-01-01T00:00:00Z/PT1H' } },
      notifications: [{ pagerduty: { service_key: 'a-routing-key-of-32-characters00', api_url: 'https://attacker.example.com' } }, { pagerduty: { service_key: '****0000' } }],
    });

    // Act
    const res = await api('PUT', path('late-and-leaky'), body);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: JsonObject) => [e.code, e.field])).toEqual([
      ['invalid_schedule', 'schedule.interval_schedule.repeat'],
      ['invalid_field', 'notifications.0.pagerduty.api_url'],
      ['invalid_field', 'notifications.1.pagerduty.service_key'],
    ]);
    expect((await api('GET', path('late-and-leaky'))).status).toBe(404);
  });

  it('the CLI shows every problem, not only the first', async () => {
    // Prepare
    const client = new SundialClient({ url: current().url });
    const body = withPath(withPath(processDefinition('cli-mistakes'), 'task_definitions.0.max_attempts', 0), 'overlap_action', 'queue');

    // Act
    const refused = client.request('PUT', path('cli-mistakes'), { body });

    // Assess
    await expect(refused).rejects.toThrow(/task_definitions\.0\.max_attempts must be at least 1; overlap_action must be one of/);
  });

  it('query problems are answered together', async () => {
    // Act
    const res = await api('GET', '/api/processes?limit=0&allowed_statuses=sleeping&sort=asc');

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: JsonObject) => e.field).sort()).toEqual(['allowed_statuses.0', 'limit', 'sort']);
  });
});

describe('NUL characters in what a process receives are refused at the request', () => {
  const withEnv = (env: JsonObject) =>
    processDefinition('nul', { task_definitions: [shellTask('first', { executable: { shell_script_command: { script: 'true', environment_variables: [env] } } })] });
  test.each([
    ['a script', withPath(processDefinition('nul'), 'task_definitions.0.executable.shell_script_command.script', 'echo a\u0000b'), 'task_definitions.0.executable.shell_script_command.script'],
    ['an environment value', withEnv({ variable_name: 'A', value: 'x\u0000y' }), 'task_definitions.0.executable.shell_script_command.environment_variables.0.value'],
    ['an environment name', withEnv({ variable_name: 'A\u0000B', value: 'x' }), 'task_definitions.0.executable.shell_script_command.environment_variables.0.variable_name'],
    [
      'a command',
      processDefinition('nul', { task_definitions: [shellTask('first', { executable: { docker_image_command: { image: 'alpine', command: ['echo', 'a\u0000'] } } })] }),
      'task_definitions.0.executable.docker_image_command.command.1',
    ],
  ])('in %s (PUT)', async (_case, body, field) => {
    // Act
    const res = await api('PUT', path('nul'), body);

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe(field);
  });

  it('in a trigger body, and no run starts', async () => {
    // Prepare
    await api('PUT', path('nul-trigger'), processDefinition('nul-trigger'));

    // Act
    const res = await api('POST', `${path('nul-trigger')}/trigger`, { environment_variables: [{ variable_name: 'A', value: '\u0000' }] });
    const runs = await api('GET', '/api/processes?process_definition_name=nul-trigger');

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('environment_variables.0.value');
    expect(res.json.error.message).toMatch(/NUL/);
    expect(runs.json).toEqual([]);
  });
});

describe('entry ids are UUIDs compared case-insensitively', () => {
  test.each([
    ['log_entries', 'log_entries', 'log_entry_id', logEntry],
    ['metadata', 'metadata_entries', 'metadata_entry_id', metadataEntry],
  ] as const)('the same %s id in lower then upper case is stored once', async (route, field, idKey, entry) => {
    // Prepare
    const run = await seedRun(current().services, { process_definition_name: 'entry-case', start_time: isoAt(2) });
    const task = run.tasks[0]!;
    const id = randomUUID();

    // Act
    const first = await api('POST', `/api/tasks/${task.task_id}/${route}`, [entry({ [idKey]: id })], bearer(task.token));
    const second = await api('POST', `/api/tasks/${task.task_id}/${route}`, [entry({ [idKey]: id.toUpperCase() })], bearer(task.token));
    const read = (await api('GET', `/api/processes/${run.process_id}`)).json.task[0][field];

    // Assess
    expect([first.json.written, second.json.written]).toEqual([1, 0]);
    expect(read.map((e: JsonObject) => e[idKey])).toEqual([id]);
  });
});
