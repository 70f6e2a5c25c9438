/** Declared run parameters (docs/TRIGGERS.md): their schema, the rules past it, and a run's resolution. */
import { describe, expect, it, test } from 'vitest';
import { BadRequestError } from '../../lambdas/domain/errors';
import { type ParameterDeclaration, parameterDeclaration, processesQuery, triggerBody } from '../../lambdas/domain/models';
import { declarationProblems, defaultVariables, parameterVariables, resolveParameters } from '../../lambdas/domain/parameters';
import { parseWith } from '../../lambdas/domain/validate';
import { refusalOf } from '../helpers/assert';
import { cronSchedule } from '../helpers/factories';

const DECLARED: ParameterDeclaration[] = [
  { name: 'REGION', kind: 'required', description: 'where to load' },
  { name: 'DAY', kind: 'optional', default: 'today' },
  { name: 'MODE', kind: 'static', default: 'full' },
];

const problems = (fn: () => unknown) => {
  const err = refusalOf(fn);
  expect(err).toBeInstanceOf(BadRequestError);
  return ((err as BadRequestError).problems ?? []).map((p) => ({ code: p.code, field: p.field }));
};

describe('the parameter schema', () => {
  it('reads a declaration, null as absent', () => {
    expect(parseWith(parameterDeclaration, { name: 'DAY', kind: 'optional', default: 'today', description: null })).toEqual({ name: 'DAY', kind: 'optional', default: 'today' });
  });

  test.each([
    ['a name starting with SUNDIAL_', { name: 'SUNDIAL_DAY', kind: 'optional', default: 'x' }, 'name'],
    ['a name that is no variable name', { name: '1DAY', kind: 'optional', default: 'x' }, 'name'],
    ['an unknown kind', { name: 'DAY', kind: 'mandatory' }, 'kind'],
    ['a default with a NUL', { name: 'DAY', kind: 'optional', default: 'a\u0000b' }, 'default'],
    ['a default that is no string', { name: 'DAY', kind: 'optional', default: 3 }, 'default'],
    ['an unknown field', { name: 'DAY', kind: 'optional', defualt: 'x' }, 'defualt'],
  ])('refuses %s, naming the field', (_case, body, field) => {
    expect(problems(() => parseWith(parameterDeclaration, body))).toContainEqual(expect.objectContaining({ field }));
  });

  it('a trigger body takes parameters as a map of strings; a value that is no string is refused by name', () => {
    expect(parseWith(triggerBody, { parameters: { REGION: 'eu' } })).toEqual({ parameters: { REGION: 'eu' } });
    expect(problems(() => parseWith(triggerBody, { parameters: { REGION: 1, DAY: 'x' } }))).toEqual([{ code: 'invalid_field', field: 'parameters.REGION' }]);
    expect(problems(() => parseWith(triggerBody, { parameters: ['REGION'] }))).toEqual([{ code: 'invalid_field', field: 'parameters' }]);
  });

  it('the runs query filters by trigger_kind, repeated or comma-separated, and refuses an unknown kind by position', () => {
    expect(parseWith(processesQuery, { trigger_kind: ['manual,schedule', 'retry'] }).trigger_kind).toEqual(['manual', 'schedule', 'retry']);
    expect(parseWith(processesQuery, {}).trigger_kind).toEqual([]);
    expect(problems(() => parseWith(processesQuery, { trigger_kind: 'manual,cron' }))).toEqual([{ code: 'invalid_field', field: 'trigger_kind.1' }]);
  });
});

describe('declarationProblems', () => {
  it('accepts declarations with the defaults their kinds need', () => {
    expect(declarationProblems(DECLARED, undefined)).toEqual([]);
    expect(declarationProblems(undefined, cronSchedule() as never)).toEqual([]);
  });

  it('names every problem at once: a missing default, a name declared twice', () => {
    const declared: ParameterDeclaration[] = [
      { name: 'A', kind: 'optional' },
      { name: 'B', kind: 'static' },
      { name: 'A', kind: 'required' },
    ];
    expect(declarationProblems(declared, undefined).map((p) => [p.code, p.field])).toEqual([
      ['invalid_field', 'parameters.0.default'],
      ['invalid_field', 'parameters.1.default'],
      ['duplicate_parameter', 'parameters.2.name'],
    ]);
  });

  it('a required parameter needs a default when the definition has a schedule (its runs take the defaults)', () => {
    const [problem] = declarationProblems(DECLARED, cronSchedule() as never);
    expect(problem).toMatchObject({ field: 'parameters.0.default' });
    expect(problem?.message).toContain('"REGION" is required and the definition has a schedule');
    expect(declarationProblems([{ name: 'REGION', kind: 'required', default: 'eu' }], cronSchedule() as never)).toEqual([]);
  });
});

describe('resolveParameters', () => {
  it('a manual run: given values, then defaults and statics, in the order declared, each with its source', () => {
    expect(resolveParameters(DECLARED, { given: { REGION: 'eu' }, requireGiven: true })).toEqual([
      { name: 'REGION', value: 'eu', source: 'given' },
      { name: 'DAY', value: 'today', source: 'default' },
      { name: 'MODE', value: 'full', source: 'static' },
    ]);
  });

  it('a definition without parameters: none, and nothing may be given', () => {
    expect(resolveParameters(undefined, { requireGiven: true })).toEqual([]);
    expect(problems(() => resolveParameters(undefined, { given: { X: '1' }, requireGiven: true }))).toEqual([{ code: 'unknown_parameter', field: 'parameters.X' }]);
  });

  it('refuses, all at once, a required one missing, an unknown one (with the nearest name) and a static one given', () => {
    const err = refusalOf(() => resolveParameters(DECLARED, { given: { REGOIN: 'eu', MODE: 'partial' }, requireGiven: true })) as BadRequestError;
    expect(err.problems?.map((p) => [p.code, p.field])).toEqual([
      ['unknown_parameter', 'parameters.REGOIN'],
      ['static_parameter', 'parameters.MODE'],
      ['missing_parameter', 'parameters.REGION'],
    ]);
    expect(err.problems?.[0]?.message).toContain('did you mean REGION?');
    expect(err.problems?.[2]?.message).toContain('a manual trigger must give it (where to load)');
  });

  it('a run that is not manual takes a required parameter\'s default, and fails without one', () => {
    const withDefault: ParameterDeclaration[] = [{ name: 'REGION', kind: 'required', default: 'us' }];
    expect(resolveParameters(withDefault, { requireGiven: false })).toEqual([{ name: 'REGION', value: 'us', source: 'default' }]);
    expect(problems(() => resolveParameters(withDefault, { requireGiven: true }))).toEqual([{ code: 'missing_parameter', field: 'parameters.REGION' }]);
    expect(problems(() => resolveParameters(DECLARED, { requireGiven: false }))).toEqual([{ code: 'missing_parameter', field: 'parameters.REGION' }]);
  });

  it("takes values passed on from an upstream run where the names match (never a static's), after given ones", () => {
    const resolved = resolveParameters(DECLARED, { given: { DAY: 'monday' }, passedOn: { REGION: 'eu', DAY: 'sunday', MODE: 'partial', OTHER: 'x' }, requireGiven: false });
    expect(resolved).toEqual([
      { name: 'REGION', value: 'eu', source: 'upstream' },
      { name: 'DAY', value: 'monday', source: 'given' },
      { name: 'MODE', value: 'full', source: 'static' },
    ]);
  });

  it("the trigger's environment_variables give a declared parameter (the value the tasks see), not a static one, and not one also in parameters", () => {
    const environment = [
      { variable_name: 'REGION', value: 'eu' },
      { variable_name: 'OTHER', value: 'x' },
    ];
    expect(resolveParameters(DECLARED, { environment, requireGiven: true })[0]).toEqual({ name: 'REGION', value: 'eu', source: 'given' });
    expect(problems(() => resolveParameters(DECLARED, { given: { REGION: 'us' }, environment, requireGiven: true }))).toEqual([
      { code: 'duplicate_variable', field: 'environment_variables.0.variable_name' },
    ]);
    expect(problems(() => resolveParameters(DECLARED, { given: { REGION: 'us' }, environment: [{ variable_name: 'MODE', value: 'partial' }], requireGiven: true }))).toEqual([
      { code: 'static_parameter', field: 'environment_variables.0.variable_name' },
    ]);
  });

  it('a name such as __proto__ is a name like any other', () => {
    const declared: ParameterDeclaration[] = [{ name: '__proto__', kind: 'optional', default: 'd' }];
    const given = JSON.parse('{"__proto__": "g"}') as Record<string, string>;
    expect(resolveParameters(declared, { given, requireGiven: true })).toEqual([{ name: '__proto__', value: 'g', source: 'given' }]);
  });
});

describe('as environment variables', () => {
  it('a run\'s parameters in their order; a definition\'s defaults, for those that have one', () => {
    expect(parameterVariables([{ name: 'A', value: '1', source: 'given' }])).toEqual([{ variable_name: 'A', value: '1' }]);
    expect(defaultVariables(DECLARED)).toEqual([
      { variable_name: 'DAY', value: 'today' },
      { variable_name: 'MODE', value: 'full' },
    ]);
  });
});
