/**
 * AWS Batch and ECS on Fargate: the deployed {@link Launcher}. It turns an attempt into the request the
 * state machine's `.sync` step sends (`RunBatchJob`: batch:submitJob, `RunEcsTask`: ecs:runTask),
 * registering the Batch job definition or ECS task definition the attempt needs, and stops what runs.
 *
 * - `shell_script_command` → a Batch job of one shared job definition (the shell image), command
 *   `["sh", "-c", script]`.
 * - `batch_image_command` → a Batch job of a job definition per (process definition, task, image:tag):
 *   vCpus/memory as resource requirements, `taskRoleArn` as job role.
 * - `docker_image_command` → an ECS Fargate task of a task definition family per (image:tag, task role);
 *   cpu/memory are task-level overrides, so one family serves every size.
 *
 * Definitions are named `sundial-<hash>`; the newest ACTIVE revision is reused when it matches what the
 * attempt needs, else a new revision is registered. Answers are cached per cold start.
 */
import { createHash } from 'node:crypto';
import type { BatchClient, JobDefinition, RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';
import type { ECSClient, RegisterTaskDefinitionCommandInput, TaskDefinition as EcsTaskDefinition } from '@aws-sdk/client-ecs';
import type { TaskDefinition } from '../domain/models';
import { type BatchJobRequest, ECS_CONTAINER_NAME, type EcsTaskRequest } from '../engine/contract';
import { batchJobRequest, DOCKER_DEFAULT_SIZE, ecsTaskRequest, type FargateSize, fargateSize, SHELL_SIZE } from '../engine/launch-requests';
import type { AttemptToLaunch, Launcher } from '../engine/ports';
import { lazyClient, type Loaded } from './lazy-client';
import { THROTTLING_RETRY } from './retry';

// ---- configuration -----------------------------------------------------------------------------

/** Where and how attempts run (deployed: from the function's environment, lambdas/functions/wiring.ts). */
export interface AwsLauncherConfig {
  /** The default job queue (`batch_image_command.job_queue` overrides it per task). */
  batchJobQueueArn: string;
  /** Image of `shell_script_command` jobs; it must have `sh`. */
  batchShellImage: string;
  /** Role Fargate uses to pull images and write logs (Batch jobs). */
  batchExecutionRoleArn: string;
  /** Log group of Batch job output. */
  batchLogGroup: string;
  /** Whether Batch jobs get a public IP (public subnets without NAT need one to pull images). */
  batchAssignPublicIp: boolean;
  ecsClusterArn: string;
  ecsExecutionRoleArn: string;
  /** Log group of ECS task output. */
  ecsLogGroup: string;
  /** Region of the log groups (`awslogs-region`). */
  region: string;
}

// ---- helpers -----------------------------------------------------------------------------------

/** `sundial-<16 hex>`: a definition name from what makes it distinct. */
export function definitionName(...parts: string[]): string {
  return `sundial-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16)}`;
}

/** `image:tag`, or `image@sha256:…` when the tag is a digest. */
export function imageReference(image: string, tag: string): string {
  return tag.startsWith('sha256:') ? `${image}@${tag}` : `${image}:${tag}`;
}

const vcpus = (cpuUnits: number) => String(cpuUnits / 1024);

const errorName = (err: unknown) => (err as { name?: string } | undefined)?.name;

/** Log driver options compared regardless of key order (the services may answer them in any order). */
const sameOptions = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) => {
  const text = (o: Record<string, string> | undefined) => JSON.stringify(Object.entries(o ?? {}).sort(([x], [y]) => x.localeCompare(y)));
  return text(a) === text(b);
};

/** Reasons Batch and ECS store are limited (ECS StopTask: 255 characters). */
const shortReason = (reason: string) => reason.slice(0, 255);

/** What a Batch job definition registered by Sundial holds. */
interface JobDefinitionSpec {
  name: string;
  image: string;
  jobRoleArn?: string;
  size: FargateSize;
}

/** What an ECS task definition registered by Sundial holds. */
interface TaskDefinitionSpec {
  family: string;
  image: string;
  taskRoleArn?: string;
}

// ---- the launcher ------------------------------------------------------------------------------

export class AwsLauncher implements Launcher {
  private readonly batch: () => Promise<Loaded<typeof import('@aws-sdk/client-batch'), BatchClient>>;
  private readonly ecs: () => Promise<Loaded<typeof import('@aws-sdk/client-ecs'), ECSClient>>;
  /** Definition ARNs by name and content, per cold start (a promise, so concurrent plans share a call). */
  private readonly registered = new Map<string, Promise<string>>();

  /** `clients` default to ones built at first use from the Lambda's environment (region, credentials; ./lazy-client). */
  constructor(
    private readonly config: AwsLauncherConfig,
    clients: { batch?: BatchClient; ecs?: ECSClient } = {},
  ) {
    this.batch = lazyClient(() => import('@aws-sdk/client-batch'), (sdk) => new sdk.BatchClient({ ...THROTTLING_RETRY }), clients.batch);
    this.ecs = lazyClient(() => import('@aws-sdk/client-ecs'), (sdk) => new sdk.ECSClient({ ...THROTTLING_RETRY }), clients.ecs);
  }

  async plan(attempt: AttemptToLaunch): Promise<{ executor: 'batch'; batch: BatchJobRequest } | { executor: 'ecs'; ecs: EcsTaskRequest }> {
    const { executable } = attempt.task_definition;

    if (executable.shell_script_command) {
      const image = this.config.batchShellImage;
      const jobDefinition = await this.jobDefinition({ name: definitionName('shell', image), image, size: SHELL_SIZE });
      return { executor: 'batch', batch: batchJobRequest(attempt, { jobQueue: this.config.batchJobQueueArn, jobDefinition }) };
    }

    if (executable.batch_image_command) {
      const cmd = executable.batch_image_command;
      const image = imageReference(cmd.image, cmd.tag);
      const jobDefinition = await this.jobDefinition({
        name: definitionName('batch', attempt.process_definition_name, attempt.task_definition.task_definition_name, image),
        image,
        jobRoleArn: cmd.taskRoleArn,
        size: fargateSize(cmd.vCpus * 1024, cmd.memory ?? 0),
      });
      return { executor: 'batch', batch: batchJobRequest(attempt, { jobQueue: this.config.batchJobQueueArn, jobDefinition }) };
    }

    const cmd = executable.docker_image_command;
    if (!cmd) throw new Error(`task "${attempt.task_definition.task_definition_name}" has no executable`);
    const image = imageReference(cmd.image, cmd.tag);
    const taskDefinition = await this.taskDefinition({
      family: definitionName('ecs', image, cmd.taskRoleArn ?? ''),
      image,
      taskRoleArn: cmd.taskRoleArn,
    });
    return { executor: 'ecs', ecs: ecsTaskRequest(attempt, taskDefinition) };
  }

  /**
   * Stops the attempt's Batch job (found by its name, the task id, on every queue it may be on) or ECS
   * task (found by `startedBy`, the task id). Finished jobs and tasks are left alone.
   */
  async stop(attempt: { task_id: string; task_definition: TaskDefinition }, reason: string): Promise<void> {
    const { executable } = attempt.task_definition;
    if (executable.docker_image_command) {
      const ecs = await this.ecs();
      const listed = await ecs.client.send(new ecs.sdk.ListTasksCommand({ cluster: this.config.ecsClusterArn, startedBy: attempt.task_id }));
      await Promise.all(
        (listed.taskArns ?? []).map((task) =>
          ecs.client.send(new ecs.sdk.StopTaskCommand({ cluster: this.config.ecsClusterArn, task, reason: shortReason(reason) })),
        ),
      );
      return;
    }
    const batch = await this.batch();
    const queues = new Set([this.config.batchJobQueueArn, ...(executable.batch_image_command?.job_queue ? [executable.batch_image_command.job_queue] : [])]);
    for (const jobQueue of queues) {
      let nextToken: string | undefined;
      do {
        const page = await batch.client.send(
          new batch.sdk.ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [attempt.task_id] }], ...(nextToken ? { nextToken } : {}) }),
        );
        const live = (page.jobSummaryList ?? []).filter(
          (job) => job.jobId && job.jobName === attempt.task_id && job.status !== 'SUCCEEDED' && job.status !== 'FAILED',
        );
        await Promise.all(live.map((job) => batch.client.send(new batch.sdk.TerminateJobCommand({ jobId: job.jobId, reason: shortReason(reason) }))));
        nextToken = page.nextToken;
      } while (nextToken);
    }
  }

  // ---- definitions -----------------------------------------------------------------------------

  private cached(key: string, resolve: () => Promise<string>): Promise<string> {
    let arn = this.registered.get(key);
    if (!arn) {
      arn = resolve();
      this.registered.set(key, arn);
      arn.catch(() => this.registered.delete(key));
    }
    return arn;
  }

  /** ARN of a Batch job definition holding `spec`: the newest ACTIVE revision if it matches, else a new one. */
  private jobDefinition(spec: JobDefinitionSpec): Promise<string> {
    const wanted = this.jobDefinitionInput(spec);
    return this.cached(`batch\u0000${JSON.stringify(wanted)}`, async () => {
      const latest = await this.latestJobDefinition(spec.name);
      if (latest?.jobDefinitionArn && this.jobDefinitionMatches(latest, wanted)) return latest.jobDefinitionArn;
      const batch = await this.batch();
      const out = await batch.client.send(new batch.sdk.RegisterJobDefinitionCommand(wanted));
      if (!out.jobDefinitionArn) throw new Error(`RegisterJobDefinition answered no ARN for ${spec.name}`);
      return out.jobDefinitionArn;
    });
  }

  private jobDefinitionInput(spec: JobDefinitionSpec): RegisterJobDefinitionCommandInput {
    return {
      jobDefinitionName: spec.name,
      type: 'container',
      platformCapabilities: ['FARGATE'],
      // Sundial retries attempts itself (max_attempts, backoff); Batch runs each job once.
      retryStrategy: { attempts: 1 },
      containerProperties: {
        image: spec.image,
        ...(spec.jobRoleArn ? { jobRoleArn: spec.jobRoleArn } : {}),
        executionRoleArn: this.config.batchExecutionRoleArn,
        resourceRequirements: [
          { type: 'VCPU', value: vcpus(spec.size.cpu) },
          { type: 'MEMORY', value: String(spec.size.memory) },
        ],
        networkConfiguration: { assignPublicIp: this.config.batchAssignPublicIp ? 'ENABLED' : 'DISABLED' },
        fargatePlatformConfiguration: { platformVersion: 'LATEST' },
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': this.config.batchLogGroup,
            'awslogs-region': this.config.region,
            // Streams are batch/default/<ECS task id>; DescribeJobs answers the exact logStreamName.
            'awslogs-stream-prefix': 'batch',
          },
        },
      },
    };
  }

  private jobDefinitionMatches(existing: JobDefinition, wanted: RegisterJobDefinitionCommandInput): boolean {
    const a = existing.containerProperties;
    const b = wanted.containerProperties;
    if (!a || !b) return false;
    const resources = (r: typeof a.resourceRequirements) =>
      JSON.stringify([...(r ?? [])].map((x) => `${x.type}=${x.value}`).sort());
    return (
      a.image === b.image &&
      (a.jobRoleArn ?? undefined) === (b.jobRoleArn ?? undefined) &&
      a.executionRoleArn === b.executionRoleArn &&
      resources(a.resourceRequirements) === resources(b.resourceRequirements) &&
      a.networkConfiguration?.assignPublicIp === b.networkConfiguration?.assignPublicIp &&
      a.logConfiguration?.logDriver === b.logConfiguration?.logDriver &&
      sameOptions(a.logConfiguration?.options, b.logConfiguration?.options)
    );
  }

  private async latestJobDefinition(name: string): Promise<JobDefinition | undefined> {
    const batch = await this.batch();
    let latest: JobDefinition | undefined;
    let nextToken: string | undefined;
    do {
      const page = await batch.client.send(
        new batch.sdk.DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: 'ACTIVE', ...(nextToken ? { nextToken } : {}) }),
      );
      for (const def of page.jobDefinitions ?? []) {
        if ((def.revision ?? 0) > (latest?.revision ?? 0)) latest = def;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return latest;
  }

  /** ARN of an ECS task definition holding `spec`: the family's newest ACTIVE revision if it matches, else a new one. */
  private taskDefinition(spec: TaskDefinitionSpec): Promise<string> {
    const wanted = this.taskDefinitionInput(spec);
    return this.cached(`ecs\u0000${JSON.stringify(wanted)}`, async () => {
      const ecs = await this.ecs();
      let latest: EcsTaskDefinition | undefined;
      try {
        latest = (await ecs.client.send(new ecs.sdk.DescribeTaskDefinitionCommand({ taskDefinition: spec.family }))).taskDefinition;
      } catch (err) {
        // A family with no ACTIVE revision answers ClientException ("Unable to describe task definition").
        if (errorName(err) !== 'ClientException') throw err;
      }
      if (latest?.taskDefinitionArn && latest.status === 'ACTIVE' && this.taskDefinitionMatches(latest, wanted)) {
        return latest.taskDefinitionArn;
      }
      const out = await ecs.client.send(new ecs.sdk.RegisterTaskDefinitionCommand(wanted));
      const arn = out.taskDefinition?.taskDefinitionArn;
      if (!arn) throw new Error(`RegisterTaskDefinition answered no ARN for ${spec.family}`);
      return arn;
    });
  }

  private taskDefinitionInput(spec: TaskDefinitionSpec): RegisterTaskDefinitionCommandInput {
    return {
      family: spec.family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      // The smallest size; every RunTask overrides cpu and memory with the task's own (Fargate-valid) size.
      cpu: String(DOCKER_DEFAULT_SIZE.cpu),
      memory: String(DOCKER_DEFAULT_SIZE.memory),
      executionRoleArn: this.config.ecsExecutionRoleArn,
      ...(spec.taskRoleArn ? { taskRoleArn: spec.taskRoleArn } : {}),
      containerDefinitions: [
        {
          name: ECS_CONTAINER_NAME,
          image: spec.image,
          essential: true,
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': this.config.ecsLogGroup,
              'awslogs-region': this.config.region,
              // Streams are ecs/task/<ECS task id>: the task id is the last part of the ECS task ARN.
              'awslogs-stream-prefix': 'ecs',
            },
          },
        },
      ],
    };
  }

  private taskDefinitionMatches(existing: EcsTaskDefinition, wanted: RegisterTaskDefinitionCommandInput): boolean {
    const a = existing.containerDefinitions?.[0];
    const b = wanted.containerDefinitions?.[0];
    if (!a || !b || existing.containerDefinitions?.length !== 1) return false;
    return (
      a.name === b.name &&
      a.image === b.image &&
      (existing.taskRoleArn ?? undefined) === (wanted.taskRoleArn ?? undefined) &&
      existing.executionRoleArn === wanted.executionRoleArn &&
      existing.cpu === wanted.cpu &&
      existing.memory === wanted.memory &&
      a.logConfiguration?.logDriver === b.logConfiguration?.logDriver &&
      sameOptions(a.logConfiguration?.options, b.logConfiguration?.options)
    );
  }
}
