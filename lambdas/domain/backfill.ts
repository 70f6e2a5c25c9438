/**
 * Which runs a backfill starts (Airflow's backfill, Temporal's): the occurrences of a definition's cron
 * schedule in a window, computed by the rules the scheduler fires by (schedule.ts `nextFireTime`: the
 * translated `cron()` expression in its time zone, DST gaps skipped), so that a backfilled occurrence is
 * one a tick would have been. Pure: the window is given. docs/TRIGGERS.md.
 */
import { toScheduleExpression, validateCron } from './cron';
import { BadRequestError } from './errors';
import { type BackfillRequest, LIMITS, type ProcessSchedule } from './models';
import { fireTimesWithin } from './schedule';

/**
 * How far a window too large is counted, to say how many occurrences it holds: beyond this it says
 * "more than" (a window of years of a per-minute cron is not enumerated to the end: croner takes some
 * 0.1–0.2 ms an occurrence, so this bounds a refusal to a fraction of a second).
 */
export const BACKFILL_COUNT_LIMIT = 2 * LIMITS.backfillRuns;

/**
 * The cron occurrences in `[start_time, end_time]` (both inclusive), oldest first. A 400 when the
 * schedule is not a cron (field `schedule`: interval and continuous schedules are refused, as Airflow
 * refuses a DAG without a time-based schedule), when the window does not end after it starts (field
 * `end_time`), or when it holds more than `max_runs` (default and cap {@link LIMITS.backfillRuns};
 * field `end_time`, saying how many and the last occurrence that would fit).
 */
export function backfillOccurrences(schedule: ProcessSchedule | undefined, request: BackfillRequest): Date[] {
  const cron = schedule?.cron_schedule;
  if (!cron) {
    throw new BadRequestError(
      `a backfill runs the occurrences of a cron_schedule; this definition has ${schedule ? `a ${Object.keys(schedule)[0]}` : 'no schedule'}`,
      'schedule',
      'not_cron',
    );
  }
  const start = new Date(request.start_time);
  const end = new Date(request.end_time);
  if (end.getTime() <= start.getTime()) {
    throw new BadRequestError(`end_time ${request.end_time} must be after start_time ${request.start_time}`, 'end_time', 'invalid_window');
  }
  const valid = validateCron(cron);
  const max = request.max_runs ?? LIMITS.backfillRuns;
  const found = fireTimesWithin({ expression: toScheduleExpression(valid), timeZone: valid.time_zone }, start, end, BACKFILL_COUNT_LIMIT);
  if (found.length > max) {
    const count = found.length > BACKFILL_COUNT_LIMIT ? `more than ${BACKFILL_COUNT_LIMIT}` : String(found.length);
    throw new BadRequestError(
      `the window holds ${count} occurrences of the schedule, more than max_runs (${max}): end it at or before ${found[max - 1]?.toISOString()}`,
      'end_time',
      'too_many_runs',
    );
  }
  return found;
}
