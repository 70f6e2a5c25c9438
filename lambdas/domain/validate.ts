/**
 * Turning untrusted input into domain values: parsing with the zod schemas of `models.ts`, every problem
 * a `FieldError` naming its field (with "did you mean" for unknown fields). A trigger's environment is
 * checked against AWS's request limits in lambdas/engine/request-limits.ts. The rules of a whole process definition past its
 * schema (name, DAG, schedule, limits, PagerDuty) are applied in one place, lambdas/engine/definitions.ts.
 */
import type { z } from 'zod';
import { BadRequestError, type FieldError } from './errors';
import { DEFINITION_READ_ONLY_FIELDS } from './models';

const ARTICLE: Record<string, string> = { int: 'an integer', integer: 'an integer', array: 'an array', object: 'an object' };

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    if ((issue as { input?: unknown }).input === undefined) return 'is required';
    const expected = String(issue.expected);
    return `must be ${ARTICLE[expected] ?? `a ${expected}`}`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message;
}

/** `['task_definitions', 0, 'max_attempts']` → `task_definitions.0.max_attempts`. */
export function fieldPath(prefix: string | undefined, path: readonly PropertyKey[]): string | undefined {
  const parts = [...(prefix ? [prefix] : []), ...path.map(String)];
  return parts.length > 0 ? parts.join('.') : undefined;
}

/** At most this many problems in one answer: a 10,000-task body wrong in every task stays readable. */
export const MAX_PROBLEMS = 100;

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known name closest to `key`: within a third of its letters (at least 2) of edits, a typo; else the
 * one known name containing it (`cron` → `cron_schedule`), an abbreviation.
 */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(k, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (best && best.distance <= Math.max(2, Math.ceil(key.length / 3))) return best.name;
  const containing = k.length >= 3 ? known.filter((name) => name.toLowerCase().includes(k)) : [];
  return containing.length === 1 ? containing[0] : undefined;
}

/** The problem of a field no schema knows, suggesting the nearest known one. */
export function unknownField(field: string, key: string, known: readonly string[], noun = 'field'): FieldError {
  const hidden = new Set<string>(DEFINITION_READ_ONLY_FIELDS);
  const candidates = known.filter((k) => !hidden.has(k));
  const nearest = nearestName(key, candidates);
  const hint = nearest ? `did you mean ${nearest}?` : candidates.length > 0 ? `known: ${candidates.join(', ')}` : `no ${noun} is expected here`;
  return { code: 'unknown_field', message: `${field} is not a known ${noun} (${hint})`, field };
}

type Def = { type: string; [k: string]: unknown };
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** The schema under its wrappers (optional, default, pipes and transforms, …). */
function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const def = defOf(s);
    if (!def) return undefined;
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe') s = defOf(def.in)?.type === 'transform' ? def.out : def.in;
    else if (def.type === 'lazy') s = (def.getter as () => unknown)();
    else return s;
  }
  return undefined;
}

/** The field names an object schema knows at `path` inside `schema` (none when it is not an object there). */
export function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let s = unwrap(schema);
  for (const segment of path) {
    const def = defOf(s);
    if (def?.type === 'object') s = unwrap((def.shape as Record<string, unknown>)[String(segment)]);
    else if (def?.type === 'array') s = unwrap(def.element);
    else if (def?.type === 'record') s = unwrap(def.valueType);
    else return [];
  }
  const def = defOf(s);
  return def?.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
}

/** Every problem zod found, unknown fields one by one (each with a suggestion), in order, at most {@link MAX_PROBLEMS}. */
export function problemsOf(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], prefix?: string): FieldError[] {
  const problems: FieldError[] = [];
  for (const issue of issues) {
    if (problems.length >= MAX_PROBLEMS) break;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) problems.push(unknownField(fieldPath(prefix, [...issue.path, key])!, key, known));
      continue;
    }
    const field = fieldPath(prefix, issue.path);
    const reason = describeIssue(issue);
    problems.push({ code: 'invalid_field', message: field ? `${field} ${reason}` : `body ${reason}`, ...(field === undefined ? {} : { field }) });
  }
  return problems.slice(0, MAX_PROBLEMS);
}

/**
 * Parses `value` with `schema` or throws a `BadRequestError` listing every problem (`errors`), the
 * first as `error`, each naming its field.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw BadRequestError.of(problemsOf(schema, result.error.issues, prefix));
}

