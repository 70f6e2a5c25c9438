import { describe, expect, it, test } from 'vitest';
import type { CronSchedule, ProcessSchedule } from '../../lambdas/domain/models';
import { cronerPattern, nextFireTime, nextFireTimes, parseInterval, ticksUpTo, toScheduleSpec } from '../../lambdas/domain/schedule';
import { refusalOf } from '../helpers/assert';

const NOW = new Date('2026-11-23T12:00:00Z');
const rules = { now: NOW, minIntervalSeconds: 60 };
const cron = (fields: Partial<CronSchedule>): ProcessSchedule => ({
  cron_schedule: { minutes: '0', hours: '*', day_of_month: '*', month: '*', day_of_week: '?', ...fields },
});
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('cron schedules: Quartz → EventBridge cron() → next fire times', () => {
  test.each([
    // [case, fields, EventBridge expression, after, next three fire times (UTC)]
    ['weekdays at noon', { hours: '12', day_of_month: '?', day_of_week: 'MON-FRI' }, 'cron(0 12 ? * MON-FRI *)', '2026-11-20T13:00:00Z',
      ['2026-11-23T12:00:00.000Z', '2026-11-24T12:00:00.000Z', '2026-11-25T12:00:00.000Z']],
    ['every 15 minutes from 0 (0/15)', { minutes: '0/15' }, 'cron(0/15 * * * ? *)', '2026-11-23T12:07:00Z',
      ['2026-11-23T12:15:00.000Z', '2026-11-23T12:30:00.000Z', '2026-11-23T12:45:00.000Z']],
    ['every 20 minutes from 5 (5/20)', { minutes: '5/20' }, 'cron(5/20 * * * ? *)', '2026-11-23T12:00:00Z',
      ['2026-11-23T12:05:00.000Z', '2026-11-23T12:25:00.000Z', '2026-11-23T12:45:00.000Z']],
    ['a list and a range', { minutes: '0', hours: '8,12-13' }, 'cron(0 8,12-13 * * ? *)', '2026-11-23T09:00:00Z',
      ['2026-11-23T12:00:00.000Z', '2026-11-23T13:00:00.000Z', '2026-11-24T08:00:00.000Z']],
    ['the last day of the month (L)', { minutes: '15', hours: '10', day_of_month: 'L' }, 'cron(15 10 L * ? *)', '2026-02-01T00:00:00Z',
      ['2026-02-28T10:15:00.000Z', '2026-03-31T10:15:00.000Z', '2026-04-30T10:15:00.000Z']],
    ['the last weekday of the month (LW)', { hours: '8', day_of_month: 'LW' }, 'cron(0 8 LW * ? *)', '2026-02-01T00:00:00Z',
      ['2026-02-27T08:00:00.000Z', '2026-03-31T08:00:00.000Z', '2026-04-30T08:00:00.000Z']],
    ['the weekday nearest the 15th (15W)', { hours: '8', day_of_month: '15W' }, 'cron(0 8 15W * ? *)', '2026-08-01T00:00:00Z',
      ['2026-08-14T08:00:00.000Z', '2026-09-15T08:00:00.000Z', '2026-10-15T08:00:00.000Z']],
    ['the third Friday (6#3)', { hours: '9', day_of_month: '?', day_of_week: '6#3' }, 'cron(0 9 ? * 6#3 *)', '2026-11-01T00:00:00Z',
      ['2026-11-20T09:00:00.000Z', '2026-12-18T09:00:00.000Z', '2027-01-15T09:00:00.000Z']],
    ['the last Friday (6L)', { hours: '9', day_of_month: '?', day_of_week: '6L' }, 'cron(0 9 ? * 6L *)', '2026-11-01T00:00:00Z',
      ['2026-11-27T09:00:00.000Z', '2026-12-25T09:00:00.000Z', '2027-01-29T09:00:00.000Z']],
    ['the last day of the week (L = SAT)', { hours: '0', day_of_month: '?', day_of_week: 'L' }, 'cron(0 0 ? * L *)', '2026-11-23T12:00:00Z',
      ['2026-11-28T00:00:00.000Z', '2026-12-05T00:00:00.000Z', '2026-12-12T00:00:00.000Z']],
    ['January and July by name', { hours: '0', day_of_month: '1', month: 'JAN,JUL' }, 'cron(0 0 1 JAN,JUL ? *)', '2026-03-07T12:00:00Z',
      ['2026-07-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', '2027-07-01T00:00:00.000Z']],
    ['Sunday by number (1 = SUN, Quartz and EventBridge)', { hours: '6', day_of_month: '?', day_of_week: '1' }, 'cron(0 6 ? * 1 *)', '2026-11-23T12:00:00Z',
      ['2026-11-29T06:00:00.000Z', '2026-12-06T06:00:00.000Z', '2026-12-13T06:00:00.000Z']],
  ] as const)('%s', (_case, fields, expression, after, times) => {
    // Act
    const spec = toScheduleSpec(cron(fields), rules);

    // Assess
    expect(spec).toEqual({ expression, timeZone: 'UTC' });
    expect(iso(nextFireTimes(spec!, new Date(after), 3))).toEqual(times);
  });

  it('applies the time zone, and skips a time that a spring-forward gap removes, as EventBridge does', () => {
    // Prepare: 02:30 does not exist in New York on 2026-03-08
    const spec = toScheduleSpec(cron({ minutes: '30', hours: '2', time_zone: 'america/new_york' }), rules)!;

    // Act
    const times = nextFireTimes(spec, new Date('2026-03-06T12:00:00Z'), 3);

    // Assess
    expect(spec.timeZone).toBe('America/New_York');
    expect(iso(times)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);
  });

  test.each([
    ['cron(0/15 * * * ? *)', '0 0-59/15 * * * ? *'],
    ['cron(0 9 ? * L *)', '0 0 9 ? * 7 *'],
    ['cron(0 0 1/2 * ? *)', '0 0 0 1-31/2 * ? *'],
  ])('reads %s with croner as %s', (expression, pattern) => {
    expect(cronerPattern(expression)).toBe(pattern);
  });
});

describe('interval schedules (Kala ISO 8601)', () => {
  const interval = (repeat: string): ProcessSchedule => ({ interval_schedule: { repeat } });

  test.each([
    ['R5 every 10 minutes', 'R5/2026-12-01T00:00:00Z/PT10M',
      { expression: 'rate(10 minutes)', timeZone: 'UTC', startDate: new Date('2026-12-01T00:00:00Z'), endDate: new Date('2026-12-01T00:40:30Z') }],
    ['for ever, hourly', 'R/2026-12-01T00:00:00Z/PT1H', { expression: 'rate(1 hour)', timeZone: 'UTC', startDate: new Date('2026-12-01T00:00:00Z') }],
    ['a day and a minute', 'R/2026-12-01T00:00:00Z/P1DT1M', { expression: 'rate(1441 minutes)', timeZone: 'UTC', startDate: new Date('2026-12-01T00:00:00Z') }],
    ['every two weeks', 'R/2026-12-01T00:00:00Z/P2W', { expression: 'rate(14 days)', timeZone: 'UTC', startDate: new Date('2026-12-01T00:00:00Z') }],
    ['once (R1) is a one-off at()', 'R1/2026-12-01T08:30:00+01:00/PT1M',
      { expression: 'at(2026-12-01T07:30:00)', timeZone: 'UTC', endDate: new Date('2026-12-01T07:30:30Z') }],
    ['monthly on the start day', 'R/2026-12-15T06:30:00Z/P1M', { expression: 'cron(30 6 15 * ? *)', timeZone: 'UTC', startDate: new Date('2026-12-15T06:30:00Z') }],
    ['quarterly', 'R/2026-12-15T06:30:00Z/P3M', { expression: 'cron(30 6 15 3,6,9,12 ? *)', timeZone: 'UTC', startDate: new Date('2026-12-15T06:30:00Z') }],
    ['every two years', 'R/2026-12-15T06:30:00Z/P2Y', { expression: 'cron(30 6 15 12 ? 2026/2)', timeZone: 'UTC', startDate: new Date('2026-12-15T06:30:00Z') }],
  ])('%s', (_case, repeat, spec) => {
    expect(toScheduleSpec(interval(repeat), rules)).toEqual(spec);
  });

  it('stops after the count: the fifth tick is the last', () => {
    // Prepare
    const spec = toScheduleSpec(interval('R5/2026-12-01T00:00:00Z/PT10M'), rules)!;

    // Act
    const times = nextFireTimes(spec, NOW, 10);

    // Assess
    expect(times.map((t) => t.toISOString().slice(11, 16))).toEqual(['00:00', '00:10', '00:20', '00:30', '00:40']);
  });

  it('counts ticks up to a time (a late or rounded delivery still counts as its tick)', () => {
    const iv = parseInterval('R3/2026-12-01T00:00:00Z/PT10M');
    expect(ticksUpTo(iv, new Date('2026-11-30T23:59:00Z'))).toBe(0);
    expect(ticksUpTo(iv, new Date('2026-12-01T00:00:00Z'))).toBe(1);
    expect(ticksUpTo(iv, new Date('2026-12-01T00:19:59Z'))).toBe(3);
    expect(ticksUpTo(iv, new Date('2026-12-01T00:30:00Z'))).toBe(4);
  });

  it('allows sub-minute intervals where the scheduler can fire them (local mode)', () => {
    const spec = toScheduleSpec(interval('R/2026-12-01T00:00:00Z/PT2S'), { now: NOW, minIntervalSeconds: 1 })!;
    expect(spec.expression).toBe('rate(2 seconds)');
    expect(iso(nextFireTimes(spec, NOW, 2))).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-01T00:00:02.000Z']);
  });

  it('moves a passed start to the next tick when the same schedule is PUT again', () => {
    const spec = toScheduleSpec(interval('R/2026-11-23T11:00:00Z/PT25M'), { ...rules, allowPastStart: true })!;
    expect(spec.startDate).toEqual(new Date('2026-11-23T12:15:00Z'));
    expect(nextFireTime(spec, NOW)).toEqual(new Date('2026-11-23T12:15:00Z'));
  });

  test.each([
    ['a start in the past', 'R5/2026-11-01T00:00:00Z/PT10M', 'is in the past'],
    ['no R', '5/2026-12-01T00:00:00Z/PT10M', 'must be R (for ever) or Rn'],
    ['R0', 'R0/2026-12-01T00:00:00Z/PT10M', 'must be from 1'],
    ['two parts', 'R5/PT10M', 'must be R[n]/<start>/<duration>'],
    ['a bad start', 'R5/tomorrow/PT10M', 'must be an ISO 8601 date-time'],
    ['a bad duration', 'R5/2026-12-01T00:00:00Z/10M', 'is not an ISO 8601 duration'],
    ['a zero duration', 'R5/2026-12-01T00:00:00Z/PT0S', 'must not be zero'],
    ['seconds EventBridge rate() cannot express', 'R5/2026-12-01T00:00:00Z/PT90S', 'whole minutes'],
    ['shorter than a minute', 'R5/2026-12-01T00:00:00Z/PT10S', 'shorter than the scheduler'],
    ['months mixed with days', 'R/2026-12-01T00:00:00Z/P1M2D', 'mixing years or months'],
    ['months from the 31st', 'R/2026-12-31T00:00:00Z/P1M', 'day 1-28'],
    ['five months', 'R/2026-12-01T00:00:00Z/P5M', 'divisor of 12'],
  ])('refuses %s with a 400 naming the field', (_case, repeat, message) => {
    // Act
    const err = refusalOf(() => toScheduleSpec(interval(repeat), rules));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe('schedule.interval_schedule.repeat');
    expect(err.message).toContain(message);
  });
});

describe('continuous schedules', () => {
  it('have no recurring schedule: the engine arranges each next run', () => {
    expect(toScheduleSpec({ continuous_schedule: { buffer_seconds: 5 } }, rules)).toBeUndefined();
    expect(toScheduleSpec(undefined, rules)).toBeUndefined();
  });
});
