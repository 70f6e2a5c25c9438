/**
 * Schedules as EventBridge Scheduler sees them, and when they fire. Pure: no I/O, the time is given.
 *
 * - `toScheduleSpec` turns a validated `process_schedule` into one EventBridge schedule (`cron(...)`,
 *   `rate(...)` or `at(...)` with its time zone and start/end dates), or refuses with a 400 what
 *   EventBridge cannot express. A `continuous_schedule` has no recurring schedule (`undefined`): the
 *   engine arranges each next run when the previous one ends.
 * - `nextFireTime` evaluates such a spec — the *translated* expression, not the definition — so that
 *   the local scheduler fires when EventBridge would. Cron goes through croner (never a hand-written
 *   parser); rates and one-off times are arithmetic.
 *
 * docs/SCHEDULES.md explains the choices (sub-minute intervals locally, DST gaps, counts).
 */
import { Cron } from 'croner';
import { toScheduleExpression, validateCron } from './cron';
import { BadRequestError } from './errors';
import type { ProcessSchedule } from './models';

// ---- interval schedules (Kala's ISO 8601 form) -------------------------------------------------

/** An ISO 8601 duration, by component (`P1Y2M10DT2H30M15S`, or weeks alone: `P2W`). */
export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

/** A parsed `interval_schedule.repeat`. */
export interface Interval {
  /** Runs in all; undefined repeats for ever. */
  count?: number;
  /** The first tick. */
  start: Date;
  every: IsoDuration;
}

const INTERVAL_FIELD = 'schedule.interval_schedule.repeat';
const MAX_COUNT = 1_000_000_000;

const refuse = (message: string, field = INTERVAL_FIELD) => new BadRequestError(message, field, 'invalid_schedule');

const DURATION = /^P(?:(\d{1,9})W|(?:(\d{1,9})Y)?(?:(\d{1,9})M)?(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?)$/;
const START = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses an ISO 8601 duration; throws a 400 naming `field`. */
export function parseDuration(text: string, field = INTERVAL_FIELD): IsoDuration {
  const m = DURATION.exec(text.toUpperCase());
  if (!m || text.toUpperCase() === 'P' || /T$/.test(text.toUpperCase())) {
    throw refuse(`"${text}" is not an ISO 8601 duration (e.g. PT10M, P1DT1M, P2W)`, field);
  }
  const n = (i: number) => Number(m[i] ?? 0);
  const d: IsoDuration = { weeks: n(1), years: n(2), months: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
  if (Object.values(d).every((v) => v === 0)) throw refuse(`duration "${text}" must not be zero`, field);
  return d;
}

/** `R[n]/<start>/<duration>`; throws a 400 naming the field. Kala: `R` alone repeats for ever. */
export function parseInterval(repeat: string, field = INTERVAL_FIELD): Interval {
  const parts = repeat.trim().split('/');
  if (parts.length !== 3) {
    throw refuse(`"${repeat}" must be R[n]/<start>/<duration>, e.g. R5/2026-12-01T00:00:00Z/PT10M`, field);
  }
  const [r = '', startText = '', durationText = ''] = parts;
  const rm = /^R(\d{0,10})$/i.exec(r);
  if (!rm) throw refuse(`repeat "${r}" must be R (for ever) or Rn (n runs in all)`, field);
  const count = rm[1] === '' ? undefined : Number(rm[1]);
  if (count !== undefined && (count < 1 || count > MAX_COUNT)) throw refuse(`repeat count ${count} must be from 1 to ${MAX_COUNT}`, field);
  const sm = START.exec(startText);
  // Without an offset the start is read in UTC (Kala advises giving one). Fractions beyond ms are cut.
  const iso = sm ? `${sm[1]}${(sm[2] ?? '').slice(0, 4)}${sm[3] ?? 'Z'}` : '';
  const start = new Date(iso);
  if (!sm || Number.isNaN(start.getTime())) {
    throw refuse(`start "${startText}" must be an ISO 8601 date-time, e.g. 2026-12-01T00:00:00Z`, field);
  }
  return { count, start, every: parseDuration(durationText, field) };
}

/** Seconds of a duration without years or months (a week is 7 days, a day 24 hours); else undefined. */
export function fixedSeconds(d: IsoDuration): number | undefined {
  if (d.years !== 0 || d.months !== 0) return undefined;
  return ((d.weeks * 7 + d.days) * 24 + d.hours) * 3600 + d.minutes * 60 + d.seconds;
}

/** Tick `k` (0 = the start): calendar arithmetic in UTC, `start + k × every`, as Kala does. */
export function intervalTick(iv: Interval, k: number): Date {
  const fixed = fixedSeconds(iv.every);
  if (fixed !== undefined) return new Date(iv.start.getTime() + k * fixed * 1000);
  const t = new Date(iv.start);
  t.setUTCMonth(t.getUTCMonth() + k * (iv.every.years * 12 + iv.every.months));
  const rest = ((iv.every.weeks * 7 + iv.every.days) * 24 + iv.every.hours) * 3600 + iv.every.minutes * 60 + iv.every.seconds;
  return new Date(t.getTime() + k * rest * 1000);
}

/** The last tick of a counted interval. */
export function lastIntervalTick(iv: Interval): Date | undefined {
  return iv.count === undefined ? undefined : intervalTick(iv, iv.count - 1);
}

/**
 * How many ticks of `iv` fall at or before `time` (plus `slackMs`, by default half an interval up to
 * 30 s, for deliveries that carry a rounded scheduled time). A tick whose index reaches `count` is one too many.
 */
export function ticksUpTo(iv: Interval, time: Date, slackMs?: number): number {
  const fixed = fixedSeconds(iv.every);
  // Half an interval at most, so that the slack never reaches the next tick.
  const t = time.getTime() + (slackMs ?? Math.min(30_000, ((fixed ?? 60) * 1000) / 2));
  if (t < iv.start.getTime()) return 0;
  if (fixed !== undefined) return Math.floor((t - iv.start.getTime()) / (fixed * 1000)) + 1;
  let k = 0;
  while (intervalTick(iv, k + 1).getTime() <= t && k < MAX_COUNT) k++;
  return k + 1;
}

// ---- EventBridge Scheduler specs ---------------------------------------------------------------

/** One EventBridge Scheduler schedule (expression, its time zone, its active window). */
export interface ScheduleSpec {
  /** `cron(...)`, `rate(...)` or `at(...)`; locally also `rate(n seconds)` (see `minIntervalSeconds`). */
  expression: string;
  /** IANA name (`ScheduleExpressionTimezone`). */
  timeZone: string;
  /** No tick before it (`StartDate`). */
  startDate?: Date;
  /** No tick at or after it (`EndDate`). */
  endDate?: Date;
}

export interface ScheduleRules {
  now: Date;
  /** The shortest interval the scheduler can fire: 60 for EventBridge (rate minimum), 1 locally. */
  minIntervalSeconds: number;
  /** Accept an interval whose start has passed (a definition PUT back unchanged). @default false */
  allowPastStart?: boolean;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `at()`'s form: `yyyy-mm-ddThh:mm:ss`, read in the schedule's time zone (UTC here). */
export function atExpression(time: Date): string {
  return `at(${time.toISOString().slice(0, 19)})`;
}

function rateExpression(seconds: number, minIntervalSeconds: number): string {
  if (seconds % 60 !== 0) {
    if (minIntervalSeconds >= 60) {
      throw refuse(`an interval of ${seconds} s cannot be expressed in EventBridge Scheduler, whose rate() counts whole minutes`);
    }
    return `rate(${seconds} ${seconds === 1 ? 'second' : 'seconds'})`;
  }
  const minutes = seconds / 60;
  const [value, unit] = minutes % 1440 === 0 ? [minutes / 1440, 'day'] : minutes % 60 === 0 ? [minutes / 60, 'hour'] : [minutes, 'minute'];
  return `rate(${value} ${unit}${value === 1 ? '' : 's'})`;
}

/** Years and months only (`P1M`, `P3M`, `P1Y`, `P2Y6M`): a cron at the start's day and time. */
function calendarCron(iv: Interval): string {
  const e = iv.every;
  if (e.weeks || e.days || e.hours || e.minutes || e.seconds) {
    throw refuse('an interval mixing years or months with days or a time cannot be expressed in EventBridge Scheduler: use one or the other');
  }
  const s = iv.start;
  if (s.getUTCSeconds() !== 0 || s.getUTCMilliseconds() !== 0) {
    throw refuse('an interval of years or months needs a start on a whole minute (it becomes a cron schedule)');
  }
  if (s.getUTCDate() > 28) {
    throw refuse('an interval of years or months needs a start on day 1-28 of the month (later days do not exist every month)');
  }
  const months = e.years * 12 + e.months;
  const head = `${s.getUTCMinutes()} ${s.getUTCHours()} ${s.getUTCDate()}`;
  if (months % 12 === 0) {
    const years = months / 12;
    return `cron(${head} ${s.getUTCMonth() + 1} ? ${years === 1 ? '*' : `${s.getUTCFullYear()}/${years}`})`;
  }
  if (12 % months !== 0) {
    throw refuse(`an interval of ${months} months cannot be expressed in EventBridge Scheduler: use a divisor of 12 months or whole years`);
  }
  if (months === 1) return `cron(${head} * ? *)`;
  const list = Array.from({ length: 12 / months }, (_, i) => ((s.getUTCMonth() + i * months) % 12) + 1).sort((a, b) => a - b);
  return `cron(${head} ${list.join(',')} ? *)`;
}

/**
 * The EventBridge schedule of a definition's schedule, or undefined when it has none (no schedule, or
 * continuous). Throws a 400 (`BadRequestError` naming the field) for what EventBridge cannot express.
 */
export function toScheduleSpec(schedule: ProcessSchedule | undefined, rules: ScheduleRules): ScheduleSpec | undefined {
  if (schedule?.cron_schedule) {
    const valid = validateCron(schedule.cron_schedule);
    return { expression: toScheduleExpression(valid), timeZone: valid.time_zone };
  }
  if (!schedule?.interval_schedule) return undefined;
  const iv = parseInterval(schedule.interval_schedule.repeat);
  if (iv.start.getTime() <= rules.now.getTime() && !rules.allowPastStart) {
    throw refuse(`start ${iv.start.toISOString()} is in the past: give a start in the future`);
  }
  const fixed = fixedSeconds(iv.every);
  if (fixed !== undefined && fixed < rules.minIntervalSeconds) {
    throw refuse(`an interval of ${fixed} s is shorter than the scheduler's minimum of ${rules.minIntervalSeconds} s`);
  }
  const last = lastIntervalTick(iv);
  // EndDate is exclusive: just after the last tick, well before the one after it.
  const endDate = last ? new Date(last.getTime() + Math.min(30_000, ((fixed ?? 60) * 1000) / 2)) : undefined;
  if (iv.count === 1) return { expression: atExpression(iv.start), timeZone: 'UTC', endDate };
  const expression = fixed !== undefined ? rateExpression(fixed, rules.minIntervalSeconds) : calendarCron(iv);
  // A start that has passed (an unchanged definition PUT again) moves to the next tick: same phase.
  const k = iv.start.getTime() > rules.now.getTime() ? 0 : ticksUpTo(iv, rules.now, 0);
  return { expression, timeZone: 'UTC', startDate: intervalTick(iv, k), ...(endDate ? { endDate } : {}) };
}

// ---- next fire times ---------------------------------------------------------------------------

const MAX_FIELD: Record<number, number> = { 1: 59, 2: 23, 3: 31, 4: 12, 5: 7 };

/**
 * croner's 7-part form (seconds … year) of an EventBridge cron: seconds 0, Quartz weekdays, and the
 * two spellings croner reads differently: `a/s` → `a-max/s`, and `L` alone in day of week → `7` (SAT).
 */
export function cronerPattern(expression: string): string {
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1]?.trim().split(/\s+/);
  if (!fields || fields.length !== 6) throw new Error(`not a cron() expression: ${expression}`);
  const out = fields.map((f, i) => {
    if (i === 4 && f === 'L') return '7';
    return f
      .split(',')
      .map((item) => {
        const step = /^(\d+)\/(\d+)$/.exec(item);
        if (!step) return item;
        const max = MAX_FIELD[i + 1] ?? 2199;
        return `${step[1]}-${max}/${step[2]}`;
      })
      .join(',');
  });
  return `0 ${out.join(' ')}`;
}

/** Each spec's croner object, built once: enumerating a backfill's window calls it once per occurrence. */
const crons = new WeakMap<ScheduleSpec, Cron>();

function cronOf(spec: ScheduleSpec): Cron {
  let cron = crons.get(spec);
  if (!cron) {
    cron = new Cron(cronerPattern(spec.expression), { mode: '7-part', alternativeWeekdays: true, timezone: spec.timeZone, paused: true });
    crons.set(spec, cron);
  }
  return cron;
}

const RATE_UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };

/**
 * The first time strictly after `after` at which the schedule fires, or undefined when it never does
 * again. Cron: croner in the schedule's time zone; a wall-clock time that a spring-forward gap skips
 * does not fire (EventBridge skips it; croner alone would fire at the first valid time after it).
 */
export function nextFireTime(spec: ScheduleSpec, after: Date): Date | undefined {
  const end = spec.endDate?.getTime() ?? Number.POSITIVE_INFINITY;
  let from = after.getTime();
  if (spec.startDate && spec.startDate.getTime() > from) from = spec.startDate.getTime() - 1;
  let next: number | undefined;
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(spec.expression);
  const rate = /^rate\((\d+) (second|minute|hour|day)s?\)$/.exec(spec.expression);
  if (at) {
    const t = Date.parse(`${at[1]}Z`);
    next = t > from ? t : undefined;
  } else if (rate) {
    const period = Number(rate[1]) * (RATE_UNITS[rate[2] ?? ''] ?? 60) * 1000;
    const origin = spec.startDate?.getTime() ?? 0;
    const k = Math.max(0, Math.floor((from - origin) / period) + 1);
    next = origin + k * period;
    if (origin > from) next = origin;
  } else {
    const cron = cronOf(spec);
    let cursor = new Date(from);
    for (let i = 0; i < 1000; i++) {
      const candidate = cron.nextRun(cursor);
      if (!candidate) break;
      if (cron.match(candidate)) {
        next = candidate.getTime();
        break;
      }
      cursor = candidate; // moved by a DST gap: not a time the expression names
    }
  }
  return next !== undefined && next < end ? new Date(next) : undefined;
}

/**
 * The fire times in `[from, to]` (both inclusive), oldest first, by the same rules as {@link nextFireTime}
 * (the scheduler's), at most `limit + 1` of them: one more than `limit` tells a caller that there are
 * more (a backfill refuses the window then), without enumerating a window of years minute by minute.
 */
export function fireTimesWithin(spec: ScheduleSpec, from: Date, to: Date, limit: number): Date[] {
  const out: Date[] = [];
  let t: Date | undefined = new Date(from.getTime() - 1);
  while (out.length <= limit) {
    t = nextFireTime(spec, t);
    if (!t || t.getTime() > to.getTime()) break;
    out.push(t);
  }
  return out;
}

/** The next `n` fire times after `after` (tests, docs). */
export function nextFireTimes(spec: ScheduleSpec, after: Date, n: number): Date[] {
  const out: Date[] = [];
  let t: Date | undefined = after;
  while (out.length < n && t) {
    t = nextFireTime(spec, t);
    if (t) out.push(t);
  }
  return out;
}
