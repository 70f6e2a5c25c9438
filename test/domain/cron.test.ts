import { describe, expect, it, test } from 'vitest';
import { toScheduleExpression, validateCron } from '../../lambdas/domain/cron';
import type { CronSchedule } from '../../lambdas/domain/models';
import { refusalOf } from '../helpers/assert';

/** Every hour on the hour, every day (day_of_week `?`), unless overridden. */
function cron(fields: Partial<CronSchedule> = {}): CronSchedule {
  return { minutes: '0', hours: '*', day_of_month: '*', month: '*', day_of_week: '?', ...fields };
}

describe('validateCron accepts Quartz expressions EventBridge can run', () => {
  test.each([
    ['every hour', {}, 'cron(0 * * * ? *)'],
    ['a start and step 0/15', { minutes: '0/15' }, 'cron(0/15 * * * ? *)'],
    ['a wildcard step */15', { minutes: '*/15' }, 'cron(*/15 * * * ? *)'],
    ['a list with a range', { minutes: '5,10,15-20' }, 'cron(5,10,15-20 * * * ? *)'],
    ['a range with a step', { minutes: '5-50/5' }, 'cron(5-50/5 * * * ? *)'],
    ['weekdays by name MON-FRI', { day_of_month: '?', day_of_week: 'MON-FRI' }, 'cron(0 * ? * MON-FRI *)'],
    ['weekdays by number 2-6', { day_of_month: '?', day_of_week: '2-6' }, 'cron(0 * ? * 2-6 *)'],
    ['a month range by name JAN-MAR', { month: 'JAN-MAR' }, 'cron(0 * * JAN-MAR ? *)'],
    ['a month list of names', { month: 'JAN,JUL' }, 'cron(0 * * JAN,JUL ? *)'],
    ['the last day of the month L', { day_of_month: 'L' }, 'cron(0 * L * ? *)'],
    ['the last weekday of the month LW', { day_of_month: 'LW' }, 'cron(0 * LW * ? *)'],
    ['the weekday nearest the 15th 15W', { day_of_month: '15W' }, 'cron(0 * 15W * ? *)'],
    ['the last Friday 6L', { day_of_month: '?', day_of_week: '6L' }, 'cron(0 * ? * 6L *)'],
    ['the third Monday 2#3', { day_of_month: '?', day_of_week: '2#3' }, 'cron(0 * ? * 2#3 *)'],
    ['the last day of the week L', { day_of_month: '?', day_of_week: 'L' }, 'cron(0 * ? * L *)'],
    ['? in day_of_month with a day_of_week', { day_of_month: '?', day_of_week: 'SUN' }, 'cron(0 * ? * SUN *)'],
    ['? in day_of_week with a day_of_month', { day_of_month: '1,15', day_of_week: '?' }, 'cron(0 * 1,15 * ? *)'],
    ['lower-case names, upper-cased', { day_of_month: '?', day_of_week: 'mon-fri', month: 'jan' }, 'cron(0 * ? JAN MON-FRI *)'],
    ['surrounding spaces, trimmed', { hours: ' 5 ' }, 'cron(0 5 * * ? *)'],
    ['the bounds of every field', { minutes: '0-59', hours: '0-23', day_of_month: '1-31', month: '1-12' }, 'cron(0-59 0-23 1-31 1-12 ? *)'],
  ])('%s', (_case, fields, expression) => {
    // Act
    const valid = validateCron(cron(fields));

    // Assess
    expect(toScheduleExpression(valid)).toBe(expression);
  });

  it('reads the expression in UTC unless a time zone is given', () => {
    // Act
    const utc = validateCron(cron());
    const paris = validateCron(cron({ time_zone: 'Europe/Paris' }));

    // Assess
    expect(utc.time_zone).toBe('UTC');
    expect(paris.time_zone).toBe('Europe/Paris');
  });

  it('answers the fields normalised', () => {
    // Act
    const valid = validateCron(cron({ minutes: ' 0/15 ', day_of_month: '?', day_of_week: 'mon#2' }));

    // Assess
    expect(valid).toEqual({ minutes: '0/15', hours: '*', day_of_month: '?', month: '*', day_of_week: 'MON#2', time_zone: 'UTC' });
  });
});

describe('validateCron refuses', () => {
  test.each([
    ['minutes out of range', { minutes: '60' }, 'minutes', 'out of range 0-59'],
    ['hours out of range', { hours: '24' }, 'hours', 'out of range 0-23'],
    ['day_of_month 0', { day_of_month: '0' }, 'day_of_month', 'out of range 1-31'],
    ['day_of_month 32', { day_of_month: '32' }, 'day_of_month', 'out of range 1-31'],
    ['month 13', { month: '13' }, 'month', 'out of range 1-12'],
    ['day_of_week 0 (Quartz is 1-7)', { day_of_month: '?', day_of_week: '0' }, 'day_of_week', 'out of range 1-7'],
    ['day_of_week 8', { day_of_month: '?', day_of_week: '8' }, 'day_of_week', 'out of range 1-7'],
    ['an unknown month name', { month: 'FOO' }, 'month', 'is not a number or a name'],
    ['a range end out of range', { minutes: '50-65' }, 'minutes', 'out of range 0-59'],
    ['both day fields set', { day_of_month: '1', day_of_week: 'MON' }, 'day_of_week', 'cannot both be set'],
    ['both day fields *', { day_of_month: '*', day_of_week: '*' }, 'day_of_week', 'cannot both be set'],
    ['both day fields ?', { day_of_month: '?', day_of_week: '?' }, 'day_of_month', 'cannot both be "?"'],
    ['a zero step', { minutes: '*/0' }, 'minutes', 'step "0"'],
    ['a step beyond the field', { minutes: '*/60' }, 'minutes', 'step "60"'],
    ['a non-numeric step', { minutes: '0/x' }, 'minutes', 'must be an integer from 1 to 59'],
    ['two steps', { minutes: '*/5/2' }, 'minutes', 'more than one "/"'],
    ['a reversed range', { hours: '10-5' }, 'hours', 'starts after it ends'],
    ['a reversed range of names', { day_of_month: '?', day_of_week: 'FRI-MON' }, 'day_of_week', 'starts after it ends'],
    ['an open range', { minutes: '5-' }, 'minutes', 'is not a number'],
    ['an empty list item', { minutes: '1,,2' }, 'minutes', 'is not a number'],
    ['? in minutes', { minutes: '?' }, 'minutes', '"?" is allowed only in day_of_month or day_of_week'],
    ['? in month', { month: '?' }, 'month', '"?" is allowed only'],
    ['L in hours', { hours: 'L' }, 'hours', 'uses L, W or #'],
    ['W in day_of_week', { day_of_month: '?', day_of_week: '2W' }, 'day_of_week', 'uses L, W or #'],
    ['nL in day_of_month', { day_of_month: '5L' }, 'day_of_month', 'uses L, W or #'],
    ['# in a list', { day_of_month: '?', day_of_week: '2#1,3#1' }, 'day_of_week', 'inside a list'],
    ['#6 (no sixth weekday)', { day_of_month: '?', day_of_week: '2#6' }, 'day_of_week', 'from #1 to #5'],
    ['L-n, which EventBridge cannot express', { day_of_month: 'L-3' }, 'day_of_month', 'cannot be expressed in EventBridge'],
    ['a step in day_of_week, which EventBridge cannot express', { day_of_month: '?', day_of_week: '2/2' }, 'day_of_week', 'does not allow in day_of_week'],
    ['32W', { day_of_month: '32W' }, 'day_of_month', 'out of range 1-31'],
    ['a space inside a field', { minutes: '0 5' }, 'minutes', 'without spaces'],
    ['a blank field', { hours: '  ' }, 'hours', 'without spaces'],
    ['three-digit numbers', { minutes: '007' }, 'minutes', 'is not a number'],
    ['an unknown time zone', { time_zone: 'Mars/Olympus' }, 'time_zone', 'unknown IANA time zone "Mars/Olympus"'],
  ])('%s', (_case, fields, field, message) => {
    // Act
    const err = refusalOf(() => validateCron(cron(fields)));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('invalid_cron');
    expect(err.field).toBe(`schedule.cron_schedule.${field}`);
    expect(err.message).toContain(message);
  });

  it('quotes the field as received in the message', () => {
    // Act
    const err = refusalOf(() => validateCron(cron({ minutes: '61' })));

    // Assess
    expect(err.message).toBe('invalid cron minutes "61": 61 is out of range 0-59');
  });

  it('names the field under the prefix it is given', () => {
    // Act
    const err = refusalOf(() => validateCron(cron({ hours: '99' }), 'cron'));

    // Assess
    expect(err.field).toBe('cron.hours');
  });
});
