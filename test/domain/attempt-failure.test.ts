/**
 * The reason of a failed attempt, read from what AWS's `.sync` steps answer (fixtures written from AWS's
 * documentation, test/fixtures/aws/) — never a Step Functions error name.
 */
import { describe, expect, it } from 'vitest';
import { attemptFailure, ECS_ENDED_ERROR, executionFailure, isDeadline } from '../../lambdas/domain/attempt-failure';
import { SYNC_CASES, syncFixture } from '../fixtures/aws/sync';

const STEP_FUNCTIONS_NAME = /\b(States|Sundial)\.[A-Za-z]+/;

describe('attemptFailure', () => {
  it.each(SYNC_CASES)('%s: reads the documented answer', (name) => {
    // Prepare
    const f = syncFixture(name);
    // What Record gets: Batch's ResultSelector output, ECS's caught EcsEnded, or the Catch's error.
    const result = f.output ? (f.state === 'RunBatchJob' ? { Status: f.output.Status, JobId: f.output.JobId } : { Error: ECS_ENDED_ERROR }) : undefined;
    // Act
    const outcome = attemptFailure({ result, error: f.error, timeoutSeconds: f.timeout_seconds });
    // Assess
    expect(f._source.length).toBeGreaterThan(0);
    expect(outcome).toEqual(f.reason === null ? { ok: true } : { ok: false, reason: f.reason });
    expect(outcome.reason ?? '').not.toMatch(STEP_FUNCTIONS_NAME);
  });

  it.each([
    ['a Task state timeout', { Error: 'States.Timeout', Cause: '' }, 'exceeded max_runtime_seconds (30 s)'],
    ['a plain-text task failure', { Error: 'States.TaskFailed', Cause: 'the attempt has no SUNDIAL_TASK_ID' }, 'the attempt has no SUNDIAL_TASK_ID'],
    ['a failure with no cause', { Error: 'States.TaskFailed' }, 'the attempt failed'],
    ['a service error', { Error: 'Batch.ClientException', Cause: 'Job queue does not exist' }, 'Batch.ClientException: Job queue does not exist'],
    ['a missing permission', { Error: 'States.Permissions', Cause: 'not authorized to perform batch:SubmitJob' }, 'Step Functions was not allowed to run the attempt: not authorized to perform batch:SubmitJob'],
    ['JSON that is no job or task', { Error: 'States.TaskFailed', Cause: '{"Message":"boom"}' }, '{"Message":"boom"}'],
  ])('%s', (_, error, reason) => {
    // Act
    const outcome = attemptFailure({ error, timeoutSeconds: 30 });
    // Assess
    expect(outcome).toEqual({ ok: false, reason });
  });

  it('names the signal of an exit code above 128', () => {
    const cause = { ...syncFixture('ecs-exit-code').described, Containers: [{ Name: 'task', ExitCode: 137 }] };
    expect(attemptFailure({ error: { Error: 'States.TaskFailed', Cause: JSON.stringify(cause) }, timeoutSeconds: 30 })).toEqual({
      ok: false,
      reason: 'exited with code 137 (killed by signal SIGKILL)',
    });
  });

  it('keeps at most 1,000 characters of a plain-text cause', () => {
    const outcome = attemptFailure({ error: { Error: 'States.TaskFailed', Cause: 'x'.repeat(5000) }, timeoutSeconds: 30 });
    expect(outcome.reason).toHaveLength(1000);
  });

  it('a Batch result that is not SUCCEEDED fails the attempt', () => {
    expect(attemptFailure({ result: { Status: 'FAILED', StatusReason: 'cancelled' }, timeoutSeconds: 30 })).toEqual({
      ok: false,
      reason: 'the job ended FAILED: cancelled',
    });
  });

  it('only deadlines are deadlines', () => {
    expect(isDeadline({ Error: 'Sundial.Timeout' })).toBe(true);
    expect(isDeadline({ Error: 'States.Timeout' })).toBe(true);
    expect(isDeadline({ Error: 'States.TaskFailed', Cause: syncFixture('batch-timeout').error?.Cause })).toBe(false);
    expect(isDeadline(undefined)).toBe(false);
  });
});

describe('executionFailure', () => {
  it.each([
    ['FAILED', 'States.Runtime', 'The JSONPath $.StopCode could not be found', 'the task execution failed: The JSONPath $.StopCode could not be found'],
    ['TIMED_OUT', null, null, 'the task execution timed out'],
    ['ABORTED', undefined, undefined, 'the task execution aborted'],
    ['FAILED', 'FargateSizeError', 'no Fargate size has 32 vCPU', 'the task execution failed: FargateSizeError: no Fargate size has 32 vCPU'],
  ])('%s %s', (status, error, cause, reason) => {
    expect(executionFailure(status, error, cause)).toBe(reason);
    expect(executionFailure(status, error, cause)).not.toMatch(STEP_FUNCTIONS_NAME);
  });
});
