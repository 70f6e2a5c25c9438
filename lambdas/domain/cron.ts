/**
 * Quartz-style cron fields of a `cron_schedule` (minutes, hours, day of month, month, day of week),
 * checked here once so that what we accept is exactly what EventBridge Scheduler's `cron()` can express:
 * `*`, `?`, values, names (`JAN`, `MON-FRI`), ranges, steps, lists, `L`, `LW`, `nW` in day of
 * month, `L`, `nL`, `n#k` in day of week. Day of week is 1–7 = SUN–SAT in both Quartz and EventBridge.
 * Exactly one of the two day fields must be `?`, as in Quartz.
 *
 * Quartz forms EventBridge does not document are refused with a 400 rather than deployed to fail:
 * `L-n` (n days before the last) and steps in day of week (`2/2`); EventBridge's wildcards are
 * `, - * ? / L W` in day of month and `, - * ? L #` in day of week.
 */
import { BadRequestError } from './errors';
import type { CronSchedule } from './models';

type FieldName = 'minutes' | 'hours' | 'day_of_month' | 'month' | 'day_of_week';

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: Record<FieldName, FieldSpec> = {
  minutes: { min: 0, max: 59 },
  hours: { min: 0, max: 23 },
  day_of_month: { min: 1, max: 31 },
  month: { min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  day_of_week: { min: 1, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
};

class CronFieldError extends Error {}

function value(token: string, spec: FieldSpec): number {
  const upper = token.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d{1,2}$/.test(token)) {
    const names = spec.names ? ` or a name (${spec.names[0]}…${spec.names[spec.names.length - 1]})` : '';
    throw new CronFieldError(`"${token}" is not a number${names}`);
  }
  const n = Number(token);
  if (n < spec.min || n > spec.max) throw new CronFieldError(`${n} is out of range ${spec.min}-${spec.max}`);
  return n;
}

function item(token: string, spec: FieldSpec): void {
  const [base = '', step, extra] = token.split('/');
  if (extra !== undefined) throw new CronFieldError(`"${token}" has more than one "/"`);
  if (step !== undefined) {
    if (!/^\d{1,2}$/.test(step) || Number(step) < 1 || Number(step) > spec.max) {
      throw new CronFieldError(`step "${step}" must be an integer from 1 to ${spec.max}`);
    }
  }
  if (base === '*') return;
  const [from = '', to, more] = base.split('-');
  if (more !== undefined) throw new CronFieldError(`"${base}" is not a range`);
  const start = value(from, spec);
  if (to !== undefined) {
    const end = value(to, spec);
    if (start > end) throw new CronFieldError(`range "${base}" starts after it ends`);
  }
}

/** Checks one field; returns it normalised (upper case, trimmed). */
function field(fieldName: FieldName, raw: string): string {
  const spec = FIELDS[fieldName];
  const expr = raw.trim().toUpperCase();
  if (expr === '' || /\s/.test(expr)) throw new CronFieldError('must be a single field without spaces');
  if (expr === '?') {
    if (fieldName !== 'day_of_month' && fieldName !== 'day_of_week') {
      throw new CronFieldError('"?" is allowed only in day_of_month or day_of_week');
    }
    return expr;
  }
  if (fieldName === 'day_of_month' && /^L-/.test(expr)) {
    throw new CronFieldError(`"${raw}" (days before the last) cannot be expressed in EventBridge Scheduler's cron(): use L, LW or nW`);
  }
  if (fieldName === 'day_of_month' && /^(L|LW|\d{1,2}W)$/.test(expr)) {
    const weekday = /^(\d+)W$/.exec(expr)?.[1];
    if (weekday !== undefined) value(weekday, spec);
    return expr;
  }
  if (fieldName === 'day_of_week' && /^(L|[A-Z0-9]+L|[A-Z0-9]+#\d+)$/.test(expr)) {
    const hash = /^([A-Z0-9]+)#(\d+)$/.exec(expr);
    if (hash) {
      value(hash[1] ?? '', spec);
      if (Number(hash[2]) < 1 || Number(hash[2]) > 5) throw new CronFieldError(`"#${hash[2]}" must be from #1 to #5`);
    } else if (expr !== 'L') {
      value(expr.slice(0, -1), spec);
    }
    return expr;
  }
  if (/[LW#]/.test(expr.replace(/[A-Z]{3}/g, (m) => (spec.names?.includes(m) ? '' : m)))) {
    throw new CronFieldError(`"${raw}" uses L, W or # where this field does not allow it, or inside a list`);
  }
  if (fieldName === 'day_of_week' && expr.includes('/')) {
    throw new CronFieldError(`"${raw}" has a step, which EventBridge Scheduler's cron() does not allow in day_of_week: list the days`);
  }
  for (const token of expr.split(',')) item(token, spec);
  return expr;
}

/** A cron schedule's fields, validated and normalised. */
export interface ValidCron {
  minutes: string;
  hours: string;
  day_of_month: string;
  month: string;
  day_of_week: string;
  time_zone: string;
}

/**
 * Validates a cron schedule; throws a `BadRequestError` naming the field (under `fieldPrefix`).
 */
export function validateCron(cron: CronSchedule, fieldPrefix = 'schedule.cron_schedule'): ValidCron {
  const out: Partial<ValidCron> = {};
  for (const f of Object.keys(FIELDS) as FieldName[]) {
    try {
      out[f] = field(f, cron[f]);
    } catch (err) {
      if (err instanceof CronFieldError) {
        throw new BadRequestError(`invalid cron ${f} "${cron[f]}": ${err.message}`, `${fieldPrefix}.${f}`, 'invalid_cron');
      }
      throw err;
    }
  }
  const domAny = out.day_of_month === '?';
  const dowAny = out.day_of_week === '?';
  if (domAny === dowAny) {
    throw new BadRequestError(
      domAny
        ? 'day_of_month and day_of_week cannot both be "?": set one of them'
        : 'day_of_month and day_of_week cannot both be set: one of them must be "?"',
      `${fieldPrefix}.${domAny ? 'day_of_month' : 'day_of_week'}`,
      'invalid_cron',
    );
  }
  const timeZone = canonicalTimeZone(cron.time_zone ?? 'UTC');
  if (!timeZone) {
    throw new BadRequestError(`unknown IANA time zone "${cron.time_zone}"`, `${fieldPrefix}.time_zone`, 'invalid_cron');
  }
  return { ...(out as Omit<ValidCron, 'time_zone'>), time_zone: timeZone };
}

/** The canonical spelling of an IANA time zone (`america/new_york` → `America/New_York`), or undefined. */
function canonicalTimeZone(tz: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The EventBridge Scheduler expression of a validated cron schedule (any year). */
export function toScheduleExpression(cron: ValidCron): string {
  return `cron(${cron.minutes} ${cron.hours} ${cron.day_of_month} ${cron.month} ${cron.day_of_week} *)`;
}
