/** Pure rules of token lifetime (late entries) and retention. */
import { describe, expect, it, test } from 'vitest';
import { DEFAULT_RETENTION_DAYS, expiresAt } from '../../lambdas/domain/retention';
import { RETENTION_DAYS_ENV, retentionDaysFromEnv } from '../../lambdas/functions/environment';
import { acceptsEntries, LATE_ENTRY_GRACE_SECONDS } from '../../lambdas/domain/task-token';

const now = new Date('2026-11-23T12:00:00.000Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

describe('acceptsEntries', () => {
  test.each([
    ['a running attempt', { status: 'running' }, true],
    ['one that ended a second ago', { status: 'failed', end_time: ago(1) }, true],
    ['one that ended exactly at the grace', { status: 'succeeded', end_time: ago(LATE_ENTRY_GRACE_SECONDS) }, true],
    ['one that ended just past the grace', { status: 'succeeded', end_time: ago(LATE_ENTRY_GRACE_SECONDS + 1) }, false],
    ['an ended one without end_time', { status: 'failed' }, false],
    ['an ended one with a broken end_time', { status: 'failed', end_time: 'yesterday' }, false],
  ])('%s: %s', (_what, task, expected) => {
    // Act + Assess
    expect(acceptsEntries(task, now)).toBe(expected);
  });
});

describe('retention', () => {
  it('expires a run retention days after its end, and never with 0', () => {
    // Act + Assess
    expect(expiresAt(now, 90)).toBe(now.getTime() / 1000 + 90 * 86_400);
    expect(expiresAt(now, 0)).toBeUndefined();
  });

  test.each([
    [undefined, DEFAULT_RETENTION_DAYS],
    ['', DEFAULT_RETENTION_DAYS],
    ['30', 30],
    ['0', 0],
    ['0.5', 0.5],
  ])(`${RETENTION_DAYS_ENV}=%s → %s days`, (raw, days) => {
    // Act + Assess
    expect(retentionDaysFromEnv(raw === undefined ? {} : { [RETENTION_DAYS_ENV]: raw })).toBe(days);
  });

  test.each(['-1', 'ninety', 'NaN'])(`refuses ${RETENTION_DAYS_ENV}=%s, naming the variable`, (raw) => {
    // Act + Assess
    expect(() => retentionDaysFromEnv({ [RETENTION_DAYS_ENV]: raw })).toThrow(RETENTION_DAYS_ENV);
  });
});
