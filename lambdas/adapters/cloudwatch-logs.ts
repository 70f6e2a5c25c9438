/**
 * Deployed task output: an attempt's container output read from CloudWatch Logs (the awslogs driver the
 * launcher configures, docs/ENGINE.md "Task output").
 *
 * - Batch (`shell_script_command`, `batch_image_command`): the job is named after the task id, so
 *   `ListJobs(JOB_NAME = task id)` on its queue finds it while Batch keeps it, and `DescribeJobs` gives
 *   `container.logStreamName` (stream `batch/default/<ECS task id>`).
 * - ECS (`docker_image_command`): `ListTasks(startedBy = task id)` finds the ECS task while ECS keeps it
 *   (about an hour after it stops); its stream is `ecs/<container>/<ECS task id>`.
 *
 * When neither service still knows the attempt, the stream name cannot be derived (Sundial does not store
 * it yet): the answer has no lines and a `note` that says so.
 */
import type { BatchClient } from '@aws-sdk/client-batch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { DesiredStatus, ECSClient } from '@aws-sdk/client-ecs';
import type { OutputPage, OutputRequest, TaskOutputSource } from '../api/ports';
import { ECS_CONTAINER_NAME } from '../engine/contract';
import { lazyClient, type Loaded } from './lazy-client';

/** The launcher's queue, cluster and log groups (deployed: from the function's environment, lambdas/functions/wiring.ts). */
export interface CloudWatchTaskOutputConfig {
  batchJobQueueArn: string;
  batchLogGroup: string;
  ecsClusterArn: string;
  ecsLogGroup: string;
}

interface Stream {
  group: string;
  name: string;
}

export class CloudWatchTaskOutput implements TaskOutputSource {
  private readonly logs: () => Promise<Loaded<typeof import('@aws-sdk/client-cloudwatch-logs'), CloudWatchLogsClient>>;
  private readonly batch: () => Promise<Loaded<typeof import('@aws-sdk/client-batch'), BatchClient>>;
  private readonly ecs: () => Promise<Loaded<typeof import('@aws-sdk/client-ecs'), ECSClient>>;

  /** The clients default to ones built at first use from the Lambda's environment (./lazy-client). */
  constructor(
    private readonly config: CloudWatchTaskOutputConfig,
    logs?: CloudWatchLogsClient,
    batch?: BatchClient,
    ecs?: ECSClient,
  ) {
    this.logs = lazyClient(() => import('@aws-sdk/client-cloudwatch-logs'), (sdk) => new sdk.CloudWatchLogsClient({}), logs);
    this.batch = lazyClient(() => import('@aws-sdk/client-batch'), (sdk) => new sdk.BatchClient({}), batch);
    this.ecs = lazyClient(() => import('@aws-sdk/client-ecs'), (sdk) => new sdk.ECSClient({}), ecs);
  }

  async read(request: OutputRequest): Promise<OutputPage> {
    const executable = request.definition?.executable;
    if (!executable) return { origin: 'none', lines: [], note: 'the task definition of this attempt is no longer known; its log stream cannot be found' };
    const stream = executable.docker_image_command
      ? await this.ecsStream(request.task.task_id)
      : await this.batchStream(request.task.task_id, executable.batch_image_command?.job_queue ?? this.config.batchJobQueueArn);
    if (!stream) {
      return {
        origin: 'none',
        lines: [],
        note: 'the job or ECS task of this attempt is not known any more (or has not started yet), so its log stream cannot be named',
      };
    }
    const logs = await this.logs();
    const out = await logs.client.send(
      new logs.sdk.GetLogEventsCommand({
        logGroupName: stream.group,
        logStreamName: stream.name,
        startFromHead: true,
        limit: request.limit,
        ...(request.next ? { nextToken: request.next } : {}),
      }),
    );
    return {
      origin: 'cloudwatch',
      lines: (out.events ?? []).map((e) => ({
        when: new Date(e.timestamp ?? 0).toISOString(),
        stream: 'output' as const,
        message: (e.message ?? '').replace(/\n$/, ''),
      })),
      ...(out.nextForwardToken ? { next: out.nextForwardToken } : {}),
      note: 'CloudWatch Logs keeps stdout and stderr in one stream',
    };
  }

  private async batchStream(taskId: string, jobQueue: string): Promise<Stream | undefined> {
    const batch = await this.batch();
    const listed = await batch.client.send(new batch.sdk.ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [taskId] }] }));
    const jobId = listed.jobSummaryList?.find((j) => j.jobName === taskId)?.jobId;
    if (!jobId) return undefined;
    const described = await batch.client.send(new batch.sdk.DescribeJobsCommand({ jobs: [jobId] }));
    const job = described.jobs?.[0];
    const name = job?.container?.logStreamName ?? job?.attempts?.at(-1)?.container?.logStreamName;
    return name ? { group: this.config.batchLogGroup, name } : undefined;
  }

  private async ecsStream(taskId: string): Promise<Stream | undefined> {
    const ecs = await this.ecs();
    for (const desiredStatus of ['STOPPED', 'RUNNING'] as DesiredStatus[]) {
      const listed = await ecs.client.send(new ecs.sdk.ListTasksCommand({ cluster: this.config.ecsClusterArn, startedBy: taskId, desiredStatus }));
      const arn = listed.taskArns?.[0];
      if (arn) return { group: this.config.ecsLogGroup, name: `ecs/${ECS_CONTAINER_NAME}/${arn.split('/').at(-1)}` };
    }
    return undefined;
  }
}
