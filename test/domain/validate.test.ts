import { describe, expect, it, test } from 'vitest';
import { BadRequestError, PayloadTooLargeError } from '../../lambdas/domain/errors';
import { LIMITS, processDefinition as processDefinitionSchema, taskIdParams } from '../../lambdas/domain/models';
import { fieldPath, MAX_PROBLEMS, parseWith } from '../../lambdas/domain/validate';
import { type DefinitionRules, MAX_DEFINITION_BYTES, validateDefinition } from '../../lambdas/engine/definitions';
import { Schedules, type SchedulesDeps } from '../../lambdas/engine/schedules';
import { DEPLOYED_PAGERDUTY_URLS } from '../../lambdas/domain/pagerduty-url';
import type { DefinitionBody } from '../../lambdas/store/definitions';
import { refusalOf, withPath } from '../helpers/assert';
import { processDefinition, shellTask } from '../helpers/factories';
import { fullFieldDefinition } from '../helpers/large-definition';

/** The rules the deployed API applies: PagerDuty's hosts, EventBridge Scheduler's one-minute minimum. */
const schedules = new Schedules({ scheduler: { minIntervalSeconds: 60 }, now: () => new Date() } as unknown as SchedulesDeps);
const RULES: DefinitionRules = { pagerDutyUrls: DEPLOYED_PAGERDUTY_URLS, schedule: (def, previous) => schedules.spec(def, previous) };

const validate = (body: unknown, pathName: string, previous?: DefinitionBody) => validateDefinition(body, pathName, previous, RULES);

describe('validateDefinition', () => {
  it('answers the definition with defaults applied when path and body agree', () => {
    // Prepare
    const body = processDefinition('nightly-report');

    // Act
    const def = validate(body, 'nightly-report');

    // Assess
    expect(def.process_definition_name).toBe('nightly-report');
    expect(def.overlap_action).toBe('wait');
    expect(def.task_definitions.map((t) => t.task_definition_name)).toEqual(['first', 'second']);
  });

  it('refuses a body whose name differs from the path, naming both', () => {
    // Prepare
    const body = processDefinition('in-body');

    // Act
    const err = refusalOf(() => validate(body, 'in-path'));

    // Assess
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.field).toBe('process_definition_name');
    expect(err.code).toBe('name_mismatch');
    expect(err.message).toContain('"in-body"');
    expect(err.message).toContain('"in-path"');
  });

  it('checks the schema before the path/body agreement', () => {
    // Prepare
    const body = withPath(processDefinition('in-body'), 'task_definitions.0.max_attempts', 0);

    // Act
    const err = refusalOf(() => validate(body, 'in-path'));

    // Assess
    expect(err.field).toBe('task_definitions.0.max_attempts');
  });

  test.each([
    ['duplicate task names', { task_definitions: [shellTask('a'), shellTask('a')] }, 'task_definitions.1.task_definition_name', 'duplicate_task'],
    ['an unknown dependency', { task_definitions: [shellTask('a', { dependencies: [{ task_definition_name: 'ghost' }] })] }, 'task_definitions.0.dependencies.0.task_definition_name', 'unknown_dependency'],
    ['an invalid cron field', { schedule: { cron_schedule: { minutes: '61', hours: '*', day_of_month: '*', month: '*', day_of_week: '?' } } }, 'schedule.cron_schedule.minutes', 'invalid_cron'],
    ['both cron day fields set', { schedule: { cron_schedule: { minutes: '0', hours: '*', day_of_month: '1', month: '*', day_of_week: 'MON' } } }, 'schedule.cron_schedule.day_of_week', 'invalid_cron'],
  ])('refuses %s with the DAG and cron rules', (_case, overrides, field, code) => {
    // Prepare
    const body = processDefinition('rules', overrides);

    // Act
    const err = refusalOf(() => validate(body, 'rules'));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe(field);
    expect(err.code).toBe(code);
  });

  it(`refuses a definition larger than MAX_DEFINITION_BYTES (${MAX_DEFINITION_BYTES}) as compact JSON (413)`, () => {
    // Prepare: 270 scripts of 60 000 characters are ~16.2 MB
    const tasks = Array.from({ length: 270 }, (_, i) =>
      shellTask(`t${i}`, { executable: { shell_script_command: { script: 'x'.repeat(60_000) } } }),
    );
    const body = processDefinition('huge', { task_definitions: tasks });

    // Act
    const err = refusalOf(() => validate(body, 'huge'));

    // Assess
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.statusCode).toBe(413);
    expect(err.field).toBe('task_definitions');
  });

  it('answers every rule past the schema in one 400: name, scheduler, PagerDuty api_url, masked key', () => {
    // Prepare: a name differing from the path, an interval start that has passed, a key sent to another
    // host, and a masked key that matches no stored one
    const body = processDefinition('in-body', {
      schedule: { interval_schedule: { repeat: 'R/2020-01-01T00:00:00Z/PT1H' } },
      notifications: [
        { pagerduty: { service_key: 'a-routing-key-of-32-characters00', api_url: 'https://attacker.example.com' } },
        { pagerduty: { service_key: '****0000' } },
      ],
    });

    // Act
    const err = refusalOf(() => validate(body, 'in-path'));

    // Assess
    expect(err.statusCode).toBe(400);
    expect((err as BadRequestError).problems?.map((p) => [p.code, p.field])).toEqual([
      ['name_mismatch', 'process_definition_name'],
      ['invalid_schedule', 'schedule.interval_schedule.repeat'],
      ['invalid_field', 'notifications.0.pagerduty.api_url'],
      ['invalid_field', 'notifications.1.pagerduty.service_key'],
    ]);
  });

  it('accepts an interval start that has passed when the definition it replaces has the same one', () => {
    // Prepare
    const body = processDefinition('replaced', { schedule: { interval_schedule: { repeat: 'R/2020-01-01T00:00:00Z/PT1H' } } });
    const previous = parseWith(processDefinitionSchema, body);

    // Act / Assess
    expect(refusalOf(() => validate(body, 'replaced')).code).toBe('invalid_schedule');
    expect(validate(body, 'replaced', previous).schedule).toEqual(previous.schedule);
  });
});

describe('validateDefinition at 10,000 tasks', () => {
  it('checks every rule of a definition written out in full (timing logged, not asserted)', () => {
    // Prepare
    const body = fullFieldDefinition('etl');

    // Act
    const started = performance.now();
    const def = validate(body, 'etl');
    console.log(`validateDefinition of 10,000 tasks written out in full: ${(performance.now() - started).toFixed(0)} ms`);

    // Assess
    expect(def.task_definitions).toHaveLength(LIMITS.taskDefinitionsPerProcess);
  });

  it(`answers the first ${MAX_PROBLEMS} problems of a body wrong in every task`, () => {
    // Prepare: every task depends on a task that does not exist and passes Batch's request limit
    const body = fullFieldDefinition('etl') as { task_definitions: Array<Record<string, unknown>> };
    for (const task of body.task_definitions) task.dependencies = [{ task_definition_name: 'ghost', success_required: true }];

    // Act
    const err = refusalOf(() => validate(body, 'etl'));

    // Assess
    expect(err.statusCode).toBe(400);
    expect((err as BadRequestError).problems).toHaveLength(MAX_PROBLEMS);
    expect((err as BadRequestError).problems?.every((p) => p.code === 'unknown_dependency')).toBe(true);
  });
});

describe('fieldPath', () => {
  test.each([
    [undefined, [], undefined],
    [undefined, ['task_definitions', 0, 'max_attempts'], 'task_definitions.0.max_attempts'],
    ['body', [], 'body'],
    ['body', [1, 'when'], 'body.1.when'],
  ] as const)('joins prefix %j and path %j as %j', (prefix, path, expected) => {
    // Act
    const field = fieldPath(prefix, path);

    // Assess
    expect(field).toBe(expected);
  });
});

describe('parseWith', () => {
  it('names the field under the given prefix', () => {
    // Act
    const err = refusalOf(() => parseWith(taskIdParams, { task_id: 'nope' }, 'path'));

    // Assess
    expect(err.field).toBe('path.task_id');
    expect(err.message).toBe('path.task_id must be a UUID');
    expect(err.code).toBe('invalid_field');
  });
});
