import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../lambdas/engine/engine';
import { UnknownActionError } from '../../lambdas/engine/events';
import { Preparation } from '../../lambdas/engine/prepare';
import { Schedules } from '../../lambdas/engine/schedules';
import { handler } from '../../lambdas/functions/engine';
import { apiServices } from '../../lambdas/functions/wiring';

/** What SundialEngine sets on the engine function (values are placeholders; nothing is called). */
const ENVIRONMENT: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  TABLE_NAME: 'sundial',
  TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:key',
  SUNDIAL_URL: 'https://api.example.com/',
  TASK_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:tasks',
  BATCH_JOB_QUEUE_ARN: 'arn:aws:batch:eu-west-1:123456789012:job-queue/sundial',
  BATCH_SHELL_IMAGE: 'public.ecr.aws/docker/library/bash:5',
  BATCH_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/execution',
  BATCH_LOG_GROUP: 'tasks',
  BATCH_ASSIGN_PUBLIC_IP: 'ENABLED',
  ECS_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sundial',
  ECS_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/execution',
  ECS_LOG_GROUP: 'tasks',
};

describe('engine handler', () => {
  beforeEach(() => {
    for (const [name, value] of Object.entries(ENVIRONMENT)) vi.stubEnv(name, value);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('dispatches prepare with the task and its claim hint, from the state only', async () => {
    // Prepare
    const prepare = vi.spyOn(Preparation.prototype, 'prepare').mockResolvedValue({ skip: true });

    // Act
    const result = await handler({
      action: 'prepare',
      state: { process_id: 'run-1', task_definition_name: 'extract', claim: { round: 1, attempts: 2 }, recorded: { retry: true } } as never,
    });

    // Assess
    expect(result).toEqual({ skip: true });
    expect(prepare).toHaveBeenCalledWith({ process_id: 'run-1', task_definition_name: 'extract', claim: { round: 1, attempts: 2 } });
  });

  it('dispatches prepare in the payload of executions started before the state was passed whole', async () => {
    // Prepare
    const prepare = vi.spyOn(Preparation.prototype, 'prepare').mockResolvedValue({ skip: true });

    // Act
    const result = await handler({ action: 'prepare', process_id: 'run-1', task_definition_name: 'extract' } as never);

    // Assess
    expect(result).toEqual({ skip: true });
    expect(prepare).toHaveBeenCalledWith({ process_id: 'run-1', task_definition_name: 'extract' });
  });

  it('dispatches a tick of the tick state machine with its scheduled time and owner', async () => {
    // Prepare
    const tick = vi.spyOn(Schedules.prototype, 'tick').mockResolvedValue('duplicate');

    // Act
    const result = await handler({
      action: 'tick',
      process_definition_name: 'nightly',
      scheduled_time: '2026-12-01T00:00:00Z',
      owner: 'arn:aws:states:eu-west-1:123456789012:express:Ticks:exec-1',
    });

    // Assess
    expect(result).toEqual({ outcome: 'duplicate' });
    expect(tick).toHaveBeenCalledWith('nightly', '2026-12-01T00:00:00Z', 'arn:aws:states:eu-west-1:123456789012:express:Ticks:exec-1');
  });

  it('dispatches record with the whole request', async () => {
    // Prepare
    const recorded = { process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: false } };
    const record = vi.spyOn(Engine.prototype, 'record').mockResolvedValue(recorded);
    const request = {
      action: 'record' as const,
      state: { process_id: 'run-1', task_definition_name: 'extract', attempt: { skip: false, task_id: 't' }, result: { ExitCode: 0 } },
    };

    // Act
    const result = await handler(request);

    // Assess
    expect(result).toEqual(recorded);
    expect(record).toHaveBeenCalledWith(request);
  });

  it.each([
    ['FAILED', 'States.Runtime', 'The JSONPath $.StopCode could not be found', 'the task execution failed: The JSONPath $.StopCode could not be found'],
    ['TIMED_OUT', null, null, 'the task execution timed out'],
    ['ABORTED', 'Sundial.Killed', 'killed by operator', 'the task execution aborted: killed by operator'],
  ])('abandons the task of an execution that ended %s', async (status, error, cause, reason) => {
    // Prepare
    const abandon = vi.spyOn(Engine.prototype, 'abandon').mockResolvedValue();
    const event = {
      source: 'aws.states' as const,
      'detail-type': 'Step Functions Execution Status Change' as const,
      detail: { name: 'run-1-abc-r0', status, input: '{"process_id":"run-1","task_definition_name":"extract"}', error, cause },
    };

    // Act
    await handler(event);

    // Assess
    expect(abandon).toHaveBeenCalledWith({ process_id: 'run-1', task_definition_name: 'extract' }, reason);
  });

  it('fails on an action it does not know', async () => {
    // Act
    const result = handler({ action: 'launch' });

    // Assess
    await expect(result).rejects.toThrow(UnknownActionError);
    await expect(handler({ action: 'launch' })).rejects.toThrow('unknown engine action "launch"');
  });

  it('builds an engine for a function that only drives runs, without SUNDIAL_URL and TOKEN_SECRET_ARN', () => {
    // Prepare
    vi.stubEnv('SUNDIAL_URL', '');
    vi.stubEnv('TOKEN_SECRET_ARN', '');

    // Act
    const services = apiServices();

    // Assess
    expect(() => services.engine).not.toThrow();
  });

  it('names the variable it misses when it first needs it', () => {
    // Prepare
    vi.stubEnv('TABLE_NAME', '');

    // Assess
    expect(() => apiServices()).toThrow('missing environment variable TABLE_NAME');
  });
});
