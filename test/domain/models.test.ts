import { describe, expect, it, test } from 'vitest';
import { BadRequestError } from '../../lambdas/domain/errors';
import {
  LIMITS,
  logEntries,
  metadataEntries,
  processDefinition as processDefinitionSchema,
  processesQuery,
  tasksQuery,
} from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import { parseQuery } from '../../lambdas/http/route';
import { REMOVE, refusalOf, withPath } from '../helpers/assert';
import {
  type JsonObject,
  cronSchedule,
  dependsOn,
  dockerTask,
  logEntry,
  metadataEntry,
  processDefinition as manualDefinition,
  shellTask,
} from '../helpers/factories';

/** The factory's definition with a cron schedule, so that schedule fields can be varied. */
const processDefinition = (name = 'nightly-report', overrides: JsonObject = {}): JsonObject =>
  manualDefinition(name, { schedule: cronSchedule(), ...overrides });

const parseDefinition = (body: unknown) => parseWith(processDefinitionSchema, body);

/** Reads a dotted path of a parsed value. */
function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
}

const batchExecutable = (overrides: JsonObject = {}): JsonObject => ({
  batch_image_command: {
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl',
    command: ['run'],
    vCpus: 1,
    taskRoleArn: 'arn:aws:iam::123456789012:role/etl',
    ...overrides,
  },
});

const dockerExecutable = (overrides: JsonObject = {}): JsonObject => ({
  docker_image_command: { image: 'alpine', command: ['true'], ...overrides },
});

/** A definition that leaves every defaulted field of the spec out. */
const everyDefaultLeftOut = (): JsonObject =>
  processDefinition('defaults', {
    task_definitions: [
      dockerTask('docker'),
      shellTask('shell', { dependencies: [dependsOn('docker')] }),
      shellTask('batch', { executable: batchExecutable() }),
    ],
    notifications: [{ email: { name: 'Ops', email: 'ops@example.com' } }, { pagerduty: { service_key: 'service-key' } }],
  });

describe('process definition defaults', () => {
  test.each([
    ['overlap_action', 'wait'],
    ['task_definitions.0.backoff_exponent', 1],
    ['task_definitions.0.executable.docker_image_command.tag', 'latest'],
    ['task_definitions.0.executable.docker_image_command.log_paths', []],
    ['task_definitions.0.executable.docker_image_command.environment_variables', []],
    ['task_definitions.1.dependencies.0.success_required', true],
    ['task_definitions.2.executable.batch_image_command.tag', 'latest'],
    ['task_definitions.2.executable.batch_image_command.environment_variables', []],
    ['notifications.0.email.notify_when', 'on_state_change_and_failures'],
    ['notifications.1.pagerduty.num_consecutive_failures', 1],
    ['notifications.1.pagerduty.api_url', 'https://events.pagerduty.com'],
  ])('applies the spec default of %s (%j) when it is absent', (path, expected) => {
    // Prepare
    const body = everyDefaultLeftOut();

    // Act
    const def = parseDefinition(body);

    // Assess
    expect(at(def, path)).toEqual(expected);
  });

  test.each([
    ['overlap_action', 'terminate'],
    ['task_definitions.0.backoff_exponent', 2.5],
    ['task_definitions.0.executable.docker_image_command.tag', '3.20'],
    ['task_definitions.0.executable.docker_image_command.log_paths', ['/var/log/app.log']],
    ['task_definitions.1.dependencies.0.success_required', false],
    ['notifications.0.email.notify_when', 'never'],
    ['notifications.1.pagerduty.num_consecutive_failures', 3],
    ['notifications.1.pagerduty.api_url', 'https://pagerduty.example.com'],
  ])('keeps %s = %j when given', (path, given) => {
    // Prepare
    const body = withPath(everyDefaultLeftOut(), path, given);

    // Act
    const def = parseDefinition(body);

    // Assess
    expect(at(def, path)).toEqual(given);
  });

  it('gives shell_script_command.environment_variables no default (the spec has none)', () => {
    // Act
    const def = parseDefinition(processDefinition());

    // Assess
    expect(at(def, 'task_definitions.0.executable.shell_script_command')).toEqual({ script: 'echo first' });
    expect(def.paused).toBeUndefined();
  });

  it('refuses unknown fields, each one named (a typo must never drop a field silently)', () => {
    // Prepare
    const body = { ...processDefinition('extra'), created_by: 'someone', task_definitions: [shellTask('t', { colour: 'blue' })] };

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    expect(err.toJSON().errors?.map((e) => [e.code, e.field])).toEqual([
      ['unknown_field', 'task_definitions.0.colour'],
      ['unknown_field', 'created_by'],
    ]);
  });

  it('ignores and drops the read-only fields a GET answers, so a GET answer can be PUT back', () => {
    // Prepare
    const body = { ...processDefinition('read-back'), next_run_time: null, last_run: { status: 'failed' }, runs_succeeded: 3, runs_failed: 1 };

    // Act
    const def = parseDefinition(body);

    // Assess
    for (const field of ['next_run_time', 'last_run', 'runs_succeeded', 'runs_failed']) expect(def).not.toHaveProperty(field);
    expect(def.process_definition_name).toBe('read-back');
  });
});

describe('process definition refusals', () => {
  test.each([
    // missing
    ['process_definition_name', REMOVE, 'process_definition_name', 'is required'],
    ['task_definitions', REMOVE, 'task_definitions', 'is required'],
    ['task_definitions.0.task_definition_name', REMOVE, 'task_definitions.0.task_definition_name', 'is required'],
    ['task_definitions.0.dependencies', REMOVE, 'task_definitions.0.dependencies', 'is required'],
    ['task_definitions.0.executable', REMOVE, 'task_definitions.0.executable', 'is required'],
    ['task_definitions.0.max_attempts', REMOVE, 'task_definitions.0.max_attempts', 'is required'],
    ['task_definitions.0.backoff_base_seconds', REMOVE, 'task_definitions.0.backoff_base_seconds', 'is required'],
    ['task_definitions.0.require_explicit_success', REMOVE, 'task_definitions.0.require_explicit_success', 'is required'],
    ['task_definitions.0.executable.shell_script_command.script', REMOVE, 'task_definitions.0.executable.shell_script_command.script', 'is required'],
    ['task_definitions.1.dependencies.0.task_definition_name', REMOVE, 'task_definitions.1.dependencies.0.task_definition_name', 'is required'],
    ['schedule.cron_schedule.minutes', REMOVE, 'schedule.cron_schedule.minutes', 'is required'],
    ['schedule.cron_schedule.day_of_week', REMOVE, 'schedule.cron_schedule.day_of_week', 'is required'],
    // mistyped
    ['process_definition_name', 42, 'process_definition_name', 'must be a string'],
    ['paused', 'yes', 'paused', 'must be a boolean'],
    ['process_description', 7, 'process_description', 'must be a string'],
    ['task_definitions', {}, 'task_definitions', 'must be an array'],
    ['task_definitions', [], 'task_definitions', 'at least one task'],
    ['task_definitions.0', 'first', 'task_definitions.0', 'must be an object'],
    ['task_definitions.0.max_attempts', '3', 'task_definitions.0.max_attempts', 'must be a number'],
    ['task_definitions.0.max_attempts', 1.5, 'task_definitions.0.max_attempts', 'must be an integer'],
    ['task_definitions.0.max_attempts', null, 'task_definitions.0.max_attempts', 'must be a number'],
    ['task_definitions.0.max_runtime_seconds', 0, 'task_definitions.0.max_runtime_seconds', 'must be at least 1'],
    ['task_definitions.0.backoff_base_seconds', -1, 'task_definitions.0.backoff_base_seconds', 'must not be negative'],
    ['task_definitions.0.backoff_exponent', 0.5, 'task_definitions.0.backoff_exponent', 'must be at least 1'],
    ['task_definitions.0.backoff_exponent', '2', 'task_definitions.0.backoff_exponent', 'must be a number'],
    ['task_definitions.0.require_explicit_success', 'false', 'task_definitions.0.require_explicit_success', 'must be a boolean'],
    ['task_definitions.0.dependencies', 'none', 'task_definitions.0.dependencies', 'must be an array'],
    ['task_definitions.1.dependencies.0.success_required', 'yes', 'task_definitions.1.dependencies.0.success_required', 'must be a boolean'],
    ['task_definitions.0.executable.shell_script_command.script', '', 'task_definitions.0.executable.shell_script_command.script', 'must not be empty'],
    ['task_definitions.0.executable.shell_script_command.environment_variables', [{ variable_name: '1BAD', value: 'x' }], 'task_definitions.0.executable.shell_script_command.environment_variables.0.variable_name', 'environment variable name'],
    ['task_definitions.0.executable', dockerExecutable({ command: 'echo hi' }), 'task_definitions.0.executable.docker_image_command.command', 'must be an array'],
    ['task_definitions.0.executable', dockerExecutable({ cpu: 0 }), 'task_definitions.0.executable.docker_image_command.cpu', 'must be at least 1'],
    ['task_definitions.0.executable', { docker_image_command: { command: [] } }, 'task_definitions.0.executable.docker_image_command.image', 'is required'],
    ['task_definitions.0.executable', batchExecutable({ vCpus: '1' }), 'task_definitions.0.executable.batch_image_command.vCpus', 'must be a number'],
    ['task_definitions.0.executable', { batch_image_command: { image: 'x', command: [], vCpus: 1 } }, 'task_definitions.0.executable.batch_image_command.taskRoleArn', 'is required'],
    ['overlap_action', 'explode', 'overlap_action', 'must be one of "wait", "terminate"'],
    ['schedule.cron_schedule.minutes', 0, 'schedule.cron_schedule.minutes', 'must be a string'],
    ['schedule', { continuous_schedule: { buffer_seconds: -5 } }, 'schedule.continuous_schedule.buffer_seconds', 'must not be negative'],
    ['notifications', {}, 'notifications', 'must be an array'],
    ['notifications', [{ email: { name: 'Ops', email: 'not-an-email' } }], 'notifications.0.email.email', 'must be an email address'],
    ['notifications', [{ email: { name: 'Ops', email: 'ops@example.com', notify_when: 'sometimes' } }], 'notifications.0.email.notify_when', 'must be one of'],
    ['notifications', [{ pagerduty: { service_key: 'k', api_url: 'ftp://events.example.com' } }], 'notifications.0.pagerduty.api_url', 'must be an http(s) URL'],
    ['notifications', [{ pagerduty: { service_key: 'k', num_consecutive_failures: 0 } }], 'notifications.0.pagerduty.num_consecutive_failures', 'must be at least 1'],
    ['notifications', [{ pagerduty: {} }], 'notifications.0.pagerduty.service_key', 'is required'],
  ])('refuses %s = %j, naming %s', (path, value, field, message) => {
    // Prepare
    const body = withPath(processDefinition(), path, value);

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
    expect(err.message).toContain(message);
  });

  test.each([0, -1, -100])('refuses max_attempts %d (non-positive)', (maxAttempts) => {
    // Prepare
    const body = withPath(processDefinition(), 'task_definitions.0.max_attempts', maxAttempts);

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    expect(err.field).toBe('task_definitions.0.max_attempts');
    expect(err.message).toContain('must be at least 1');
  });

  test.each([[[]], ['definition'], [null], [42], [true]])('refuses a body that is not an object: %j', (body) => {
    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    expect(err.field).toBeUndefined();
    expect(err.message).toBe('body must be an object');
  });

  it('answers the wire error shape with code, message and field', () => {
    // Prepare
    const body = withPath(processDefinition(), 'task_definitions.0.max_attempts', 0);

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    const problem = { code: 'invalid_field', message: 'task_definitions.0.max_attempts must be at least 1', field: 'task_definitions.0.max_attempts' };
    expect(err.toJSON()).toEqual({ error: problem, errors: [problem] });
  });
});

describe('null is read as absent for optional fields', () => {
  test.each([
    ['paused', processDefinition()],
    ['process_description', processDefinition()],
    ['schedule', processDefinition()],
    ['notifications', processDefinition()],
    ['schedule.cron_schedule.time_zone', processDefinition()],
    ['task_definitions.0.max_runtime_seconds', processDefinition()],
    ['task_definitions.0.executable.shell_script_command.environment_variables', processDefinition()],
    ['task_definitions.0.executable.docker_image_command.memory', processDefinition('d', { task_definitions: [dockerTask('t')] })],
    ['task_definitions.0.executable.docker_image_command.cpu', processDefinition('d', { task_definitions: [dockerTask('t')] })],
    ['task_definitions.0.executable.docker_image_command.taskRoleArn', processDefinition('d', { task_definitions: [dockerTask('t')] })],
    ['task_definitions.0.executable.batch_image_command.memory', processDefinition('d', { task_definitions: [shellTask('t', { executable: batchExecutable() })] })],
    ['task_definitions.0.executable.batch_image_command.job_queue', processDefinition('d', { task_definitions: [shellTask('t', { executable: batchExecutable() })] })],
    ['schedule.continuous_schedule.buffer_seconds', processDefinition('d', { schedule: { continuous_schedule: {} } })],
  ])('accepts %s: null and reads it as absent', (path, base) => {
    // Prepare
    const body = withPath(base, path, null);

    // Act
    const def = parseDefinition(body);

    // Assess
    expect(at(def, path)).toBeUndefined();
  });
});

describe('unions are one-key wrapper objects', () => {
  test.each([
    ['executable', 'shell_script_command', { shell_script_command: { script: 'true' } }],
    ['executable', 'docker_image_command', dockerExecutable()],
    ['executable', 'batch_image_command', batchExecutable()],
  ])('accepts task_definitions.0.%s with the one key %s', (_field, key, value) => {
    // Prepare
    const body = withPath(processDefinition(), 'task_definitions.0.executable', value);

    // Act
    const def = parseDefinition(body);

    // Assess
    expect(Object.keys(def.task_definitions[0]?.executable ?? {})).toEqual([key]);
  });

  test.each([
    ['cron_schedule', { cron_schedule: { minutes: '0', hours: '3', day_of_month: '?', month: '*', day_of_week: 'MON-FRI' } }],
    ['continuous_schedule', { continuous_schedule: { buffer_seconds: 60 } }],
  ])('accepts schedule with the one key %s', (key, value) => {
    // Act
    const def = parseDefinition(withPath(processDefinition(), 'schedule', value));

    // Assess
    expect(def.schedule?.[key as 'cron_schedule' | 'continuous_schedule']).toBeDefined();
  });

  test.each([
    ['email', { email: { name: 'Ops', email: 'ops@example.com', notify_when: 'always' } }],
    ['pagerduty', { pagerduty: { service_key: 'k', num_consecutive_failures: 2 } }],
  ])('accepts a notification with the one key %s', (key, value) => {
    // Act
    const def = parseDefinition(withPath(processDefinition(), 'notifications', [value]));

    // Assess
    expect(def.notifications?.[0]?.[key as 'email' | 'pagerduty']).toBeDefined();
  });

  test.each([
    ['task_definitions.0.executable', {}, 'must have exactly one of docker_image_command, shell_script_command, batch_image_command'],
    ['task_definitions.0.executable', { lambda_command: { fn: 'x' } }, 'must have exactly one of'],
    ['task_definitions.0.executable', { shell_script_command: { script: 'true' }, ...dockerExecutable() }, '(got docker_image_command, shell_script_command)'],
    ['schedule', {}, 'must have exactly one of cron_schedule, continuous_schedule'],
    ['schedule', { cron_schedule: { minutes: '0', hours: '*', day_of_month: '*', month: '*', day_of_week: '?' }, continuous_schedule: {} }, '(got cron_schedule, continuous_schedule)'],
    ['notifications', [{}], 'must have exactly one of email, pagerduty'],
    ['notifications', [{ email: { name: 'Ops', email: 'ops@example.com' }, pagerduty: { service_key: 'k' } }], '(got email, pagerduty)'],
  ])('refuses %s = %j (zero or two keys)', (path, value, message) => {
    // Prepare
    const body = withPath(processDefinition(), path, value);

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess: an unknown variant is named first (with its own error); the union's rule is among the errors
    const field = path === 'notifications' ? 'notifications.0' : path;
    expect(err.toJSON().errors).toContainEqual(expect.objectContaining({ field, message: expect.stringContaining(message) }));
  });
});

describe('names', () => {
  test.each(['a', 'nightly-report', 'etl_v2.1', 'UPPER_lower-09', 'x'.repeat(LIMITS.nameMaxLength)])('accepts the name %j', (name) => {
    // Act
    const def = parseDefinition(processDefinition(name));

    // Assess
    expect(def.process_definition_name).toBe(name);
  });

  test.each([
    ['', 'must not be empty'],
    ['has space', 'may contain only'],
    ['slash/name', 'may contain only'],
    ['hash#name', 'may contain only'],
    ['ümlaut', 'may contain only'],
    ['semi;colon', 'may contain only'],
    ['x'.repeat(LIMITS.nameMaxLength + 1), `at most ${LIMITS.nameMaxLength} characters`],
  ])('refuses the process definition name %j', (name, message) => {
    // Act
    const err = refusalOf(() => parseDefinition(processDefinition(name)));

    // Assess
    expect(err.field).toBe('process_definition_name');
    expect(err.message).toContain(message);
  });

  test.each(['has space', 'a/b', ''])('refuses the task definition name %j', (name) => {
    // Prepare
    const body = withPath(processDefinition(), 'task_definitions.0.task_definition_name', name);

    // Act
    const err = refusalOf(() => parseDefinition(body));

    // Assess
    expect(err.field).toBe('task_definitions.0.task_definition_name');
  });
});

describe('log and metadata entries', () => {
  it('accepts valid entries, with a time-zone offset in `when`', () => {
    // Prepare
    const body = [logEntry(), logEntry({ when: '2026-03-01T13:00:00+01:00', message: '' })];

    // Act
    const entries = parseWith(logEntries, body);

    // Assess
    expect(entries).toEqual(body);
  });

  test.each([
    [{}, undefined, 'body must be an array'],
    [withPath([logEntry()], '0.log_entry_id', REMOVE), '0.log_entry_id', 'is required'],
    [[logEntry({ log_entry_id: 'not-a-uuid' })], '0.log_entry_id', 'must be a UUID'],
    [[logEntry(), logEntry({ when: 'yesterday' })], '1.when', 'must be an ISO 8601 date-time'],
    [[logEntry({ source: 7 })], '0.source', 'must be a string'],
    [[logEntry({ message: 'x'.repeat(LIMITS.entryMessageMaxLength + 1) })], '0.message', `at most ${LIMITS.entryMessageMaxLength}`],
  ])('refuses log entries %#, naming %s', (body, field, message) => {
    // Act
    const err = refusalOf(() => parseWith(logEntries, body));

    // Assess
    expect(err.field).toBe(field);
    expect(err.message).toContain(message);
  });

  it(`refuses more than ${LIMITS.entriesPerCall} entries in one call`, () => {
    // Prepare
    const body = Array.from({ length: LIMITS.entriesPerCall + 1 }, () => logEntry());

    // Act
    const err = refusalOf(() => parseWith(logEntries, body));

    // Assess
    expect(err.message).toContain(`at most ${LIMITS.entriesPerCall} entries`);
  });

  test.each([
    [[metadataEntry({ key: '' })], '0.key', 'must not be empty'],
    [[metadataEntry({ metadata_entry_id: 'abc' })], '0.metadata_entry_id', 'must be a UUID'],
    [[metadataEntry({ value: 42 })], '0.value', 'must be a string'],
  ])('refuses metadata entries %#, naming %s', (body, field, message) => {
    // Act
    const err = refusalOf(() => parseWith(metadataEntries, body));

    // Assess
    expect(err.field).toBe(field);
    expect(err.message).toContain(message);
  });
});

describe('listing queries', () => {
  test.each([
    ['allowed_statuses=running&allowed_statuses=failed', ['running', 'failed']],
    ['allowed_statuses=running,failed', ['running', 'failed']],
    ['allowed_statuses=running,failed&allowed_statuses=succeeded', ['running', 'failed', 'succeeded']],
    ['allowed_statuses=', []],
    ['', []],
  ])('reads allowed_statuses from %j', (raw, expected) => {
    // Act
    const query = parseWith(processesQuery, parseQuery(raw));

    // Assess
    expect(query.allowed_statuses).toEqual(expected);
  });

  test.each([
    ['allowed_statuses=running,bogus', 'allowed_statuses.1'],
    ['allowed_statuses=submitted', 'allowed_statuses.0'],
    ['max_records=0', 'max_records'],
    ['max_records=1001', 'max_records'],
    ['max_records=ten', 'max_records'],
    ['limit=2.5', 'limit'],
    ['start_time=yesterday', 'start_time'],
    ['end_time=2026-13-01', 'end_time'],
    ['process_definition_name=bad%20name', 'process_definition_name'],
    ['next=a&next=b', 'next'],
  ])('refuses the processes query %j, naming %s', (raw, field) => {
    // Act
    const err = refusalOf(() => parseWith(processesQuery, parseQuery(raw)));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe(field);
  });

  test.each([
    ['2026-03-01T13:00:00%2B01:00', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01T12:00:00Z', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01T12:00Z', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01', '2026-03-01T00:00:00.000Z'],
  ])('normalises start_time %s to %s', (raw, expected) => {
    // Act
    const query = parseWith(processesQuery, parseQuery(`start_time=${raw}`));

    // Assess
    expect(query.start_time).toBe(expected);
  });

  it('reads task statuses, not process statuses, in the tasks query', () => {
    // Act
    const query = parseWith(tasksQuery, parseQuery('allowed_statuses=submitted,pending&allowed_statuses=succeeded&limit=5'));

    // Assess
    expect(query).toMatchObject({ allowed_statuses: ['submitted', 'pending', 'succeeded'], limit: 5 });
  });
});
