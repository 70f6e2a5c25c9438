/**
 * Declared run parameters over HTTP in the local mode (issue 16 item 1, docs/TRIGGERS.md): declared at
 * PUT, given at trigger, checked against the declarations, handed to every task as environment
 * variables, answered with their source; scheduled runs take the defaults; a queued trigger keeps them.
 */
import { describe, expect, it, test } from 'vitest';
import { stableUuid } from '../../lambdas/domain/ids';
import { cronSchedule, dockerTask, type JsonObject, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

const DECLARED: JsonObject[] = [
  { name: 'REGION', kind: 'required', description: 'where to load' },
  { name: 'DAY', kind: 'optional', default: 'today' },
  { name: 'MODE', kind: 'static', default: 'full' },
];

/** Prints what it was given; its own REGION is overridden by the run's parameter. */
const printer = (name = 'print') =>
  shellScript(name, 'echo "REGION=$REGION DAY=$DAY MODE=$MODE"', {
    executable: { shell_script_command: { script: 'echo "REGION=$REGION DAY=$DAY MODE=$MODE"', environment_variables: [{ variable_name: 'REGION', value: 'own' }] } },
  });

const define = (name: string, rest: JsonObject = {}) => sundial.define(name, { parameters: DECLARED, task_definitions: [printer()], ...rest });
const trigger = (name: string, body?: unknown) => api('POST', `/api/process_definitions/${name}/trigger`, body);
/** The lines a run's tasks printed. */
const printed = (run: { task: Array<{ log_entries: Array<{ message: string }> }> }) => run.task.flatMap((t) => t.log_entries.map((e) => e.message));
const runsOf = async (name: string) => (await api('GET', `/api/processes?process_definition_name=${name}`)).json as unknown[];

describe('declaring parameters (PUT)', () => {
  it('stores the declarations and answers them as declared', async () => {
    // Act
    const def = await define('declared');
    // Assess
    expect(def.parameters).toEqual(DECLARED);
    expect((await api('GET', '/api/process_definitions/declared')).json.parameters).toEqual(DECLARED);
  });

  test.each([
    ['optional without a default', [{ name: 'DAY', kind: 'optional' }], 'parameters.0.default', 'invalid_field'],
    ['static without a default', [{ name: 'MODE', kind: 'static' }], 'parameters.0.default', 'invalid_field'],
    ['a name declared twice', [{ name: 'DAY', kind: 'required' }, { name: 'DAY', kind: 'optional', default: 'x' }], 'parameters.1.name', 'duplicate_parameter'],
    ['a SUNDIAL_ name', [{ name: 'SUNDIAL_DAY', kind: 'required' }], 'parameters.0.name', 'invalid_field'],
    ['a name that is no variable name', [{ name: 'the-day', kind: 'required' }], 'parameters.0.name', 'invalid_field'],
    ['an unknown kind', [{ name: 'DAY', kind: 'mandatory' }], 'parameters.0.kind', 'invalid_field'],
    ['an unknown field', [{ name: 'DAY', kind: 'optional', defualt: 'x' }], 'parameters.0.defualt', 'unknown_field'],
  ])('refuses %s: 400 naming the field, nothing stored', async (_case, parameters, field, code) => {
    // Act
    const res = await api('PUT', '/api/process_definitions/refused', { process_definition_name: 'refused', parameters, task_definitions: [printer()] });
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors).toContainEqual(expect.objectContaining({ code, field }));
    expect((await api('GET', '/api/process_definitions/refused')).status).toBe(404);
  });

  it('a required parameter without a default makes a schedule invalid (its runs take the defaults); with one, 201', async () => {
    // Act
    const refused = await api('PUT', '/api/process_definitions/scheduled-required', {
      process_definition_name: 'scheduled-required',
      schedule: cronSchedule(),
      parameters: DECLARED,
      task_definitions: [printer()],
    });
    const accepted = await api('PUT', '/api/process_definitions/scheduled-required', {
      process_definition_name: 'scheduled-required',
      schedule: cronSchedule(),
      parameters: [{ ...DECLARED[0], default: 'us' }, ...DECLARED.slice(1)],
      task_definitions: [printer()],
    });
    // Assess
    expect(refused.status, refused.text).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'invalid_field', field: 'parameters.0.default' });
    expect(refused.json.error.message).toContain('"REGION" is required and the definition has a schedule');
    expect(accepted.status, accepted.text).toBe(201);
  });

  it("refuses defaults that would push a task's ECS request past its limit, naming parameters", async () => {
    // Prepare: a docker task whose own request fits, and a default of 9,000 characters
    const big = { name: 'PAYLOAD', kind: 'optional', default: 'p'.repeat(4000) };
    const parameters = [big, { ...big, name: 'PAYLOAD2' }, { ...big, name: 'PAYLOAD3', default: 'p'.repeat(1000) }];
    // Act
    const res = await api('PUT', '/api/process_definitions/big-defaults', { process_definition_name: 'big-defaults', parameters, task_definitions: [dockerTask('big')] });
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'exceeds_aws_limit', field: 'parameters' });
    expect(res.json.error.message).toMatch(/task "big" would be 9,\d{3} characters with the parameters' defaults, over ECS's limit of 8,192/);
  });
});

describe('giving parameters (trigger)', () => {
  it('every task gets each parameter as a variable (over its own), and the run answers the values and their sources', async () => {
    // Prepare
    await define('given', { task_definitions: [printer('a'), printer('b')] });
    // Act
    const started = await trigger('given', { parameters: { REGION: 'eu' } });
    const run = await sundial.finished(started.json.process_id);
    // Assess
    expect(started.status, started.text).toBe(201);
    const answered = [
      { name: 'REGION', value: 'eu', source: 'given' },
      { name: 'DAY', value: 'today', source: 'default' },
      { name: 'MODE', value: 'full', source: 'static' },
    ];
    expect(started.json.parameters).toEqual(answered);
    expect(run.status).toBe('succeeded');
    expect(run.parameters).toEqual(answered);
    expect(printed(run)).toEqual(['REGION=eu DAY=today MODE=full', 'REGION=eu DAY=today MODE=full']);
    const listed = (await api('GET', '/api/processes?process_definition_name=given')).json;
    expect(listed[0].parameters).toEqual(answered);
  });

  it("the trigger's environment_variables go over the parameters and give a declared one (answered as given)", async () => {
    // Prepare
    await define('env-over');
    // Act
    const started = await trigger('env-over', { environment_variables: [{ variable_name: 'REGION', value: 'ap' }, { variable_name: 'DAY', value: 'monday' }] });
    const run = await sundial.finished(started.json.process_id);
    // Assess
    expect(started.status, started.text).toBe(201);
    expect(run.parameters).toEqual([
      { name: 'REGION', value: 'ap', source: 'given' },
      { name: 'DAY', value: 'monday', source: 'given' },
      { name: 'MODE', value: 'full', source: 'static' },
    ]);
    expect(printed(run)).toEqual(['REGION=ap DAY=monday MODE=full']);
  });

  it('a definition without parameters answers parameters: [] and takes none', async () => {
    // Prepare
    await sundial.define('no-parameters', [printer()]);
    // Act
    const run = await sundial.finished((await sundial.trigger('no-parameters')).process_id);
    const refused = await trigger('no-parameters', { parameters: { REGION: 'eu' } });
    // Assess
    expect(run.parameters).toEqual([]);
    expect(printed(run)[0]).toMatch(/^REGION=own DAY= /); // (MODE: whatever the server's own environment holds)
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'unknown_parameter', field: 'parameters.REGION' });
    expect(refused.json.error.message).toContain('the definition declares none');
  });

  test.each([
    ['a required one missing', {}, [['missing_parameter', 'parameters.REGION']]],
    ['an unknown one (with the nearest name)', { parameters: { REGION: 'eu', DYA: 'x' } }, [['unknown_parameter', 'parameters.DYA']]],
    ['a static one given', { parameters: { REGION: 'eu', MODE: 'partial' } }, [['static_parameter', 'parameters.MODE']]],
    ['a static one in environment_variables', { parameters: { REGION: 'eu' }, environment_variables: [{ variable_name: 'MODE', value: 'x' }] }, [['static_parameter', 'environment_variables.0.variable_name']]],
    ['a name in both environment_variables and parameters', { parameters: { REGION: 'eu' }, environment_variables: [{ variable_name: 'REGION', value: 'us' }] }, [['duplicate_variable', 'environment_variables.0.variable_name']]],
    ['a value that is no string', { parameters: { REGION: 42 } }, [['invalid_field', 'parameters.REGION']]],
    ['every problem at once', { parameters: { DYA: 'x', MODE: 'y' } }, [['unknown_parameter', 'parameters.DYA'], ['static_parameter', 'parameters.MODE'], ['missing_parameter', 'parameters.REGION']]],
  ])('refuses %s: 400 naming it, and no run starts', async (_case, body, expected) => {
    // Prepare
    await define('refusals');
    // Act
    const res = await trigger('refusals', body);
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors.map((e: { code: string; field: string }) => [e.code, e.field])).toEqual(expected);
    expect(await runsOf('refusals')).toEqual([]);
  });

  it('names the nearest declared parameter of an unknown one, and what a missing one is for', async () => {
    // Prepare
    await define('hints');
    // Act
    const unknown = await trigger('hints', { parameters: { REGION: 'eu', DYA: 'x' } });
    const missing = await trigger('hints');
    // Assess
    expect(unknown.json.error.message).toBe('parameters.DYA is not a parameter of this definition (did you mean DAY?)');
    expect(missing.json.error.message).toBe('parameters.REGION is required: a manual trigger must give it (where to load)');
  });

  it("refuses a value that would push a task's ECS request past its limit, naming parameters", async () => {
    // Prepare
    await define('big-values', { parameters: [{ name: 'PAYLOAD', kind: 'required' }], task_definitions: [dockerTask('big', { executable: { docker_image_command: { image: 'alpine', command: ['true'], environment_variables: [{ variable_name: 'OWN', value: 'o'.repeat(4000) }, { variable_name: 'OWN2', value: 'o'.repeat(3000) }] } } })] });
    // Act
    const res = await trigger('big-values', { parameters: { PAYLOAD: 'p'.repeat(2000) } });
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'exceeds_aws_limit', field: 'parameters' });
    expect(res.json.error.message).toMatch(/task "big" would be 9,\d{3} characters with the run's parameters/);
    expect(await runsOf('big-values')).toEqual([]);
  });
});

describe('scheduled and queued runs', () => {
  it('a scheduled run takes the defaults (a required one too, which a manual trigger must still give)', async () => {
    // Prepare
    await define('scheduled', { schedule: cronSchedule(), parameters: [{ ...DECLARED[0], default: 'us' }, ...DECLARED.slice(1)] });
    const tick = '2026-12-03T10:00:00.000Z';
    // Act
    expect(await sundial.current().services.schedules.tick('scheduled', tick)).toBe('started');
    const run = await sundial.finished(stableUuid('scheduled', 'tick', tick));
    const manual = await trigger('scheduled');
    // Assess
    expect(manual.status).toBe(400);
    expect(manual.json.error).toMatchObject({ code: 'missing_parameter', field: 'parameters.REGION' });
    expect(run.parameters).toEqual([
      { name: 'REGION', value: 'us', source: 'default' },
      { name: 'DAY', value: 'today', source: 'default' },
      { name: 'MODE', value: 'full', source: 'static' },
    ]);
    expect(printed(run)).toEqual(['REGION=us DAY=today MODE=full']);
  });

  it('a trigger queued behind the run in progress (overlap wait) is checked at once and keeps its parameters', async () => {
    // Prepare: the first run holds until killed
    await define('queued', {
      overlap_action: 'wait',
      task_definitions: [shellScript('print', `if [ "$DAY" = hold ]; then echo up; ${UNTIL_STOPPED}; fi; echo "REGION=$REGION DAY=$DAY MODE=$MODE"`)],
    });
    const first = (await trigger('queued', { parameters: { REGION: 'eu', DAY: 'hold' } })).json.process_id;
    await until(() => api('GET', `/api/processes/${first}`), (r) => printed(r.json).includes('up'));
    // Act
    const refused = await trigger('queued', { parameters: { DAY: 'x' } });
    const queued = await trigger('queued', { parameters: { REGION: 'ap', DAY: 'friday' } });
    await api('POST', `/api/processes/${first}/kill`);
    const run = await sundial.finished(queued.json.process_id);
    // Assess
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'missing_parameter', field: 'parameters.REGION' });
    expect(queued.status, queued.text).toBe(201);
    expect(queued.json).toMatchObject({ queued: true, parameters: [{ name: 'REGION', value: 'ap', source: 'given' }, { name: 'DAY', value: 'friday', source: 'given' }, { name: 'MODE', value: 'full', source: 'static' }] });
    expect(run.status).toBe('succeeded');
    expect(run.parameters).toEqual(queued.json.parameters);
    expect(printed(run)).toEqual(['REGION=ap DAY=friday MODE=full']);
  }, 60_000);
});
