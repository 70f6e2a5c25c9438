/**
 * A backfill's occurrences (domain/backfill.ts): the cron occurrences in [start_time, end_time], both
 * inclusive, oldest first, by the scheduler's own rules (time zone, DST gap), and what is refused.
 */
import { describe, expect, it } from 'vitest';
import { BACKFILL_COUNT_LIMIT, backfillOccurrences } from '../../lambdas/domain/backfill';
import type { CronSchedule, ProcessSchedule } from '../../lambdas/domain/models';
import { fireTimesWithin, toScheduleSpec } from '../../lambdas/domain/schedule';
import { refusalOf } from '../helpers/assert';

const cron = (fields: Partial<CronSchedule>): ProcessSchedule => ({
  cron_schedule: { minutes: '0', hours: '*', day_of_month: '*', month: '*', day_of_week: '?', ...fields },
});
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('backfill occurrences', () => {
  it('are the occurrences within the window, both ends included, oldest first', () => {
    // Act
    const hourly = backfillOccurrences(cron({}), { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T02:00:00Z' });
    const between = backfillOccurrences(cron({}), { start_time: '2026-01-01T00:00:01Z', end_time: '2026-01-01T01:59:59Z' });

    // Assess
    expect(iso(hourly)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
    expect(iso(between)).toEqual(['2026-01-01T01:00:00.000Z']);
  });

  it('follow the schedule as the scheduler does: its time zone, and a spring-forward gap skipped', () => {
    // Act: 02:30 New York time does not exist on 2026-03-08 (clocks go from 02:00 to 03:00)
    const times = backfillOccurrences(cron({ minutes: '30', hours: '2', time_zone: 'America/New_York' }), {
      start_time: '2026-03-07T00:00:00-05:00',
      end_time: '2026-03-09T23:59:00-04:00',
    });

    // Assess
    expect(iso(times)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-09T06:30:00.000Z']);
  });

  it('are what the scheduler would fire: the same as nextFireTime, tick by tick', () => {
    // Prepare
    const schedule = cron({ minutes: '0/15', hours: '8-9', day_of_month: '?', day_of_week: 'MON-FRI' });
    const spec = toScheduleSpec(schedule, { now: new Date(0), minIntervalSeconds: 60 })!;

    // Act
    const times = backfillOccurrences(schedule, { start_time: '2026-11-20T08:10:00Z', end_time: '2026-11-23T08:30:00Z' });

    // Assess: Friday 08:15 … 09:45, then Monday 08:00 … 08:30
    expect(iso(times)).toEqual(iso(fireTimesWithin(spec, new Date('2026-11-20T08:10:00Z'), new Date('2026-11-23T08:30:00Z'), 100)));
    expect(times).toHaveLength(10);
  });

  it('may be none: an empty window is not an error', () => {
    expect(backfillOccurrences(cron({ hours: '3', day_of_month: '1', month: 'JAN' }), { start_time: '2026-02-01T00:00:00Z', end_time: '2026-03-01T00:00:00Z' })).toEqual([]);
  });

  it('are at most max_runs (default 1,000): more is a 400 naming end_time, with how many and where to end', () => {
    // Act
    const fourHours = refusalOf(() => backfillOccurrences(cron({}), { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T03:00:00Z', max_runs: 3 }));
    const years = refusalOf(() => backfillOccurrences(cron({ minutes: '*' }), { start_time: '2020-01-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z' }));
    const exactly = backfillOccurrences(cron({ minutes: '*' }), { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T16:39:00Z' });

    // Assess
    expect(fourHours.statusCode).toBe(400);
    expect(fourHours.toFieldError()).toMatchObject({ field: 'end_time', code: 'too_many_runs' });
    expect(fourHours.message).toContain('holds 4 occurrences');
    expect(fourHours.message).toContain('2026-01-01T02:00:00.000Z');
    expect(years.message).toContain(`more than ${BACKFILL_COUNT_LIMIT}`);
    expect(years.message).toContain('max_runs (1000)');
    expect(exactly).toHaveLength(1000);
  });

  it('need a cron schedule (400 naming schedule) and a window that ends after it starts (400 naming end_time)', () => {
    // Act
    const none = refusalOf(() => backfillOccurrences(undefined, { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-02T00:00:00Z' }));
    const interval = refusalOf(() =>
      backfillOccurrences({ interval_schedule: { repeat: 'R/2026-01-01T00:00:00Z/PT1H' } }, { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-02T00:00:00Z' }),
    );
    const backwards = refusalOf(() => backfillOccurrences(cron({}), { start_time: '2026-01-02T00:00:00Z', end_time: '2026-01-01T00:00:00Z' }));
    const instant = refusalOf(() => backfillOccurrences(cron({}), { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z' }));

    // Assess
    expect(none.toFieldError()).toMatchObject({ field: 'schedule', code: 'not_cron' });
    expect(interval.toFieldError()).toMatchObject({ field: 'schedule', code: 'not_cron' });
    expect(interval.message).toContain('interval_schedule');
    expect(backwards.toFieldError()).toMatchObject({ field: 'end_time', code: 'invalid_window' });
    expect(instant.toFieldError()).toMatchObject({ field: 'end_time', code: 'invalid_window' });
  });
});
