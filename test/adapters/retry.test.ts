/**
 * The SDK clients the engine's adapters build themselves (deployed: no client is injected) retry a
 * throttled call with AWS's standard retry mode and more attempts than the default 3
 * (lambdas/adapters/retry.ts; https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 */
import { BatchClient } from '@aws-sdk/client-batch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AwsLauncher, type AwsLauncherConfig } from '../../lambdas/adapters/batch-ecs';
import { THROTTLING_RETRY } from '../../lambdas/adapters/retry';
import { lazySfnClient } from '../../lambdas/adapters/sfn';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SDK retry configuration of the engine adapters', () => {
  it('is the standard mode with 6 attempts', () => {
    expect(THROTTLING_RETRY).toEqual({ retryMode: 'standard', maxAttempts: 6 });
  });

  it('applies to the Step Functions client built at first use', async () => {
    // Act
    const { client } = await lazySfnClient()();

    // Assess
    expect(client).toBeInstanceOf(SFNClient);
    expect(await client.config.maxAttempts()).toBe(6);
    expect(((await client.config.retryStrategy()) as { mode?: string }).mode).toBe('standard');
  });

  it('applies to the Batch and ECS clients the launcher builds at first use', async () => {
    // Prepare: capture the clients the launcher builds, at their first send
    const seen: Array<BatchClient | ECSClient> = [];
    const capture = function (this: BatchClient | ECSClient) {
      seen.push(this);
      return Promise.resolve({ jobs: [], tasks: [], failures: [], jobSummaryList: [] });
    };
    vi.spyOn(BatchClient.prototype, 'send').mockImplementation(capture as never);
    vi.spyOn(ECSClient.prototype, 'send').mockImplementation(capture as never);
    const config: Partial<AwsLauncherConfig> = {
      batchJobQueueArn: 'arn:aws:batch:eu-west-1:123456789012:job-queue/q',
      ecsClusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/c',
    };
    const launcher = new AwsLauncher(config as AwsLauncherConfig);
    const definition = (executable: object) => ({ task_definition_name: 't', dependencies: [], executable, max_attempts: 1 }) as never;

    // Act
    await launcher.stop({ task_id: '00000000-0000-4000-8000-000000000001', task_definition: definition({ shell_script_command: { script: 'true' } }) }, 'killed');
    await launcher.stop({ task_id: '00000000-0000-4000-8000-000000000002', task_definition: definition({ docker_image_command: { docker_image: 'alpine', tag: 'latest', command: ['true'] } }) }, 'killed');

    // Assess
    const batch = seen.find((c) => c instanceof BatchClient);
    const ecs = seen.find((c) => c instanceof ECSClient);
    expect(batch && ecs).toBeTruthy();
    for (const client of [batch!, ecs!]) {
      expect(await client.config.maxAttempts()).toBe(6);
      expect(((await client.config.retryStrategy()) as { mode?: string }).mode).toBe('standard');
    }
  });
});
