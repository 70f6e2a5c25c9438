/**
 * Declared run parameters (issue #16 item 1, Spin Cycle's request arguments; docs/TRIGGERS.md): the rules
 * of a definition's declarations that its schema cannot express, and the resolution of a run's values
 * against them. Pure: the engine resolves (Engine.check), validateDefinition checks declarations.
 */
import { BadRequestError, type FieldError } from './errors';
import type { EnvironmentVariable, ParameterDeclaration, ProcessSchedule, RunParameter } from './models';
import { nearestName } from './validate';

/**
 * A definition's declarations, past their schema: names unique, a `default` for `optional` and `static`,
 * and, when the definition has a schedule, a `default` for `required` too (a scheduled run has nobody to
 * give it). Every problem names its field.
 */
export function declarationProblems(declared: readonly ParameterDeclaration[] | undefined, schedule: ProcessSchedule | undefined): FieldError[] {
  const problems: FieldError[] = [];
  const seen = new Set<string>();
  (declared ?? []).forEach((p, i) => {
    if (seen.has(p.name)) {
      problems.push({ code: 'duplicate_parameter', field: `parameters.${i}.name`, message: `parameters.${i}.name "${p.name}" is declared more than once` });
    }
    seen.add(p.name);
    if (p.default === undefined && p.kind !== 'required') {
      problems.push({ code: 'invalid_field', field: `parameters.${i}.default`, message: `parameters.${i}.default is required for a ${p.kind} parameter` });
    } else if (p.default === undefined && schedule) {
      problems.push({
        code: 'invalid_field',
        field: `parameters.${i}.default`,
        message: `parameters.${i}.default is required: "${p.name}" is required and the definition has a schedule, whose runs take the defaults`,
      });
    }
  });
  return problems;
}

/** What a run's parameter values come from beside the declarations. */
export interface ParameterInputs {
  /**
   * Values the caller gave (a trigger body's `parameters`): each must name a declared parameter that is
   * not `static`, and with `requireGiven`, every `required` one must be there.
   */
  given?: Readonly<Record<string, string>>;
  /**
   * The trigger's `environment_variables`, which tasks get over the parameters: one naming a declared
   * parameter gives it (so that the run answers the value its tasks see), unless it is `static` (a 400),
   * or also in `given` (a 400: which one was meant?).
   */
  environment?: readonly EnvironmentVariable[];
  /**
   * Values passed on from another run (an upstream run's parameters): taken where a declared parameter
   * that is not `static` has the same name and nothing was given; the others are ignored.
   */
  passedOn?: Readonly<Record<string, string>>;
  /** A manual trigger: a `required` parameter must be given. Otherwise (schedule, backfill, upstream) its default is taken. */
  requireGiven: boolean;
}

/**
 * The run's parameters, in the order declared, with their source; a 400 listing every problem, each
 * naming its field: a required one missing, an unknown one, a static one given (`parameters.<name>`), a
 * variable in both `environment_variables` and `parameters`, or a static one in `environment_variables`
 * (`environment_variables.<i>.variable_name`).
 */
export function resolveParameters(declared: readonly ParameterDeclaration[] | undefined, inputs: ParameterInputs): RunParameter[] {
  const declarations = declared ?? [];
  const problems: FieldError[] = [];
  // No prototype: a name such as __proto__ is a key like any other.
  const given: Record<string, string> = Object.create(null);
  (inputs.environment ?? []).forEach((v, i) => {
    const field = `environment_variables.${i}.variable_name`;
    const p = declarations.find((d) => d.name === v.variable_name);
    if (inputs.given && Object.hasOwn(inputs.given, v.variable_name)) {
      problems.push({ code: 'duplicate_variable', field, message: `${field} "${v.variable_name}" is also given in parameters: give it in one of them` });
    } else if (p?.kind === 'static') {
      problems.push({ code: 'static_parameter', field, message: `${field} "${v.variable_name}" is a static parameter: its value is always ${JSON.stringify(p.default)}` });
    } else if (p) given[p.name] = v.value;
  });
  Object.assign(given, inputs.given);
  const names = declarations.map((p) => p.name);
  for (const name of Object.keys(inputs.given ?? {})) {
    const p = declarations.find((d) => d.name === name);
    if (!p) {
      const nearest = nearestName(name, names);
      const hint = nearest ? `did you mean ${nearest}?` : names.length > 0 ? `declared: ${names.join(', ')}` : 'the definition declares none';
      problems.push({ code: 'unknown_parameter', field: `parameters.${name}`, message: `parameters.${name} is not a parameter of this definition (${hint})` });
    } else if (p.kind === 'static') {
      problems.push({ code: 'static_parameter', field: `parameters.${name}`, message: `parameters.${name} is static: its value is always ${JSON.stringify(p.default)}` });
    }
  }
  const resolved: RunParameter[] = [];
  for (const p of declarations) {
    const value = Object.hasOwn(given, p.name) ? given[p.name] : undefined;
    const passed = inputs.passedOn && Object.hasOwn(inputs.passedOn, p.name) ? inputs.passedOn[p.name] : undefined;
    if (p.kind === 'static') resolved.push({ name: p.name, value: p.default ?? '', source: 'static' });
    else if (value !== undefined) resolved.push({ name: p.name, value, source: 'given' });
    else if (passed !== undefined) resolved.push({ name: p.name, value: passed, source: 'upstream' });
    else if (p.default !== undefined && !(p.kind === 'required' && inputs.requireGiven)) resolved.push({ name: p.name, value: p.default, source: 'default' });
    else {
      const why = inputs.requireGiven ? 'a manual trigger must give it' : 'it has no default';
      problems.push({ code: 'missing_parameter', field: `parameters.${p.name}`, message: `parameters.${p.name} is required: ${why}${p.description ? ` (${p.description})` : ''}` });
    }
  }
  if (problems.length > 0) throw BadRequestError.of(problems);
  return resolved;
}

/** The run's parameters as environment variables, in the order they are declared. */
export function parameterVariables(parameters: readonly RunParameter[] | undefined): EnvironmentVariable[] {
  return (parameters ?? []).map((p) => ({ variable_name: p.name, value: p.value }));
}

/** The declared defaults as environment variables (the environment of a scheduled run), for the request-size checks at PUT. */
export function defaultVariables(declared: readonly ParameterDeclaration[] | undefined): EnvironmentVariable[] {
  return (declared ?? []).flatMap((p) => (p.default === undefined ? [] : [{ variable_name: p.name, value: p.default }]));
}
