/**
 * Turning untrusted input into domain values, in one place: zod schemas of `models.ts` plus the checks a
 * schema cannot express (DAG structure, cron fields, path/body agreement). Every refusal is a
 * `BadRequestError` naming the field.
 */
import type { z } from 'zod';
import { validateCron } from './cron';
import { validateDag } from './dag';
import { parseInterval } from './schedule';
import { BadRequestError, PayloadTooLargeError } from './errors';
import { type ProcessDefinition, processDefinition } from './models';

/** The largest definition we store: DynamoDB items hold at most 400 KB. */
const MAX_DEFINITION_BYTES = 350_000;

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

/** Parses `value` with `schema` or throws a `BadRequestError` for the first issue, naming its field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldPath(prefix, issue.path);
  const reason = describeIssue(issue);
  throw new BadRequestError(field ? `${field} ${reason}` : `body ${reason}`, field, 'invalid_field');
}

/**
 * A process definition from a PUT body: schema, path/body name agreement, DAG and cron checks, size.
 */
export function parseProcessDefinition(body: unknown, pathName: string): ProcessDefinition {
  const def = parseWith(processDefinition, body);
  if (def.process_definition_name !== pathName) {
    throw new BadRequestError(
      `process_definition_name "${def.process_definition_name}" differs from the name in the path "${pathName}"`,
      'process_definition_name',
      'name_mismatch',
    );
  }
  validateDag(def.task_definitions);
  if (def.schedule?.cron_schedule) validateCron(def.schedule.cron_schedule);
  // The grammar here; what depends on the time and the scheduler (start in the past, minimum interval)
  // is checked by Schedules.spec before the definition is stored.
  if (def.schedule?.interval_schedule) parseInterval(def.schedule.interval_schedule.repeat);
  if (Buffer.byteLength(JSON.stringify(def)) > MAX_DEFINITION_BYTES) {
    throw new PayloadTooLargeError(`process definition is larger than ${MAX_DEFINITION_BYTES} bytes once stored`, 'task_definitions');
  }
  return def;
}
