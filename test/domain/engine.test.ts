import { describe, expect, it } from 'vitest';
import {
  attemptEnvironment,
  attemptOutcome,
  backoffSeconds,
  finalRunStatus,
  progressOf,
  shouldRetry,
} from '../../lambdas/domain/engine';
import { executionName, stableUuid } from '../../lambdas/domain/ids';

describe('backoffSeconds', () => {
  it.each([
    // base, exponent, attempts so far, seconds
    [10, 1, 0, 0],
    [10, 1, 1, 10],
    [10, 1, 3, 10],
    [10, 2, 1, 20],
    [10, 2, 2, 40],
    [10, 2, 3, 80],
    [0, 5, 4, 0],
    [3, 1.5, 2, 7], // 6.75 rounded
  ])('base %d, exponent %d, %d attempts so far → %d s', (base, exponent, n, expected) => {
    expect(backoffSeconds({ backoff_base_seconds: base, backoff_exponent: exponent }, n)).toBe(expected);
  });

  it('is capped at a year', () => {
    expect(backoffSeconds({ backoff_base_seconds: 1_000_000, backoff_exponent: 100 }, 50)).toBe(31_536_000);
  });
});

describe('attemptOutcome', () => {
  it.each([
    // ok, report, explicit, expected status
    [true, undefined, false, 'succeeded'],
    [true, 'succeeded', false, 'succeeded'],
    [true, 'failed', false, 'failed'],
    [true, undefined, true, 'failed'],
    [true, 'succeeded', true, 'succeeded'],
    [true, 'failed', true, 'failed'],
    [false, undefined, false, 'failed'],
    [false, 'succeeded', false, 'failed'],
    [false, 'succeeded', true, 'failed'],
  ] as const)('exit ok=%s, report=%s, require_explicit_success=%s → %s', (ok, report, explicit, expected) => {
    expect(attemptOutcome({ ok, reason: ok ? undefined : 'exited with code 3' }, report, explicit).status).toBe(expected);
  });

  it('says why an attempt failed', () => {
    expect(attemptOutcome({ ok: false, reason: 'exited with code 3' }, undefined, false).reason).toBe('exited with code 3');
    expect(attemptOutcome({ ok: true }, undefined, true).reason).toMatch(/without calling \/succeed/);
    expect(attemptOutcome({ ok: true }, 'failed', false).reason).toMatch(/\/fail/);
  });
});

describe('retries and dependencies', () => {
  it.each([
    [1, 1, false, false],
    [1, 3, false, true],
    [3, 3, false, false],
    [1, 3, true, false],
  ])('%d attempts of %d, killed=%s → retry %s', (made, max, killed, expected) => {
    expect(shouldRetry(made, max, killed)).toBe(expected);
  });

  it('a run fails when any task failed or was blocked', () => {
    expect(finalRunStatus(0)).toBe('succeeded');
    expect(finalRunStatus(2)).toBe('failed');
  });

  it('counts progress', () => {
    expect(progressOf(['waiting', 'running', 'succeeded', 'failed', 'blocked'])).toEqual({
      total: 5,
      succeeded: 1,
      failed: 2,
      running: 1,
      waiting: 1,
    });
  });
});

describe('attemptEnvironment', () => {
  it('layers the executable, the run overrides, then the callback variables nobody can override', () => {
    // Prepare
    const executable = {
      shell_script_command: {
        script: 'true',
        environment_variables: [
          { variable_name: 'A', value: '1' },
          { variable_name: 'SUNDIAL_TASK_ID', value: 'spoofed' },
        ],
      },
    };
    // Act
    const env = attemptEnvironment(executable, [{ variable_name: 'A', value: '2' }], {
      url: 'http://127.0.0.1:8080',
      taskId: 't',
      processId: 'p',
      token: 'tok',
      previousAttempts: 2,
      scheduledTime: '2026-12-03T10:00:00.000Z',
    });
    // Assess
    expect(env).toEqual({
      A: '2',
      SUNDIAL_URL: 'http://127.0.0.1:8080',
      SUNDIAL_TASK_ID: 't',
      SUNDIAL_PROCESS_ID: 'p',
      SUNDIAL_TASK_TOKEN: 'tok',
      SUNDIAL_TASK_PREVIOUS_ATTEMPTS: '2',
      SUNDIAL_SCHEDULED_TIME: '2026-12-03T10:00:00.000Z',
    });
  });
});

describe('names', () => {
  it('stable UUIDs are deterministic, distinct and well-formed', () => {
    const a = stableUuid('p', 'task', 0, 1);
    expect(a).toBe(stableUuid('p', 'task', 0, 1));
    expect(a).not.toBe(stableUuid('p', 'task', 0, 2));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('execution names fit Step Functions (≤ 80 characters, safe characters)', () => {
    const name = executionName('3f2b2c1e-1111-4222-8333-444455556666', 'x'.repeat(64), 12);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
