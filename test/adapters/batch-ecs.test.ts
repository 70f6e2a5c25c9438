import {
  BatchClient,
  DescribeJobDefinitionsCommand,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import {
  ClientException,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AwsLauncher,
  type AwsLauncherConfig,
  definitionName,
  imageReference,
} from '../../lambdas/adapters/batch-ecs';
import { FargateSizeError, fargateSize } from '../../lambdas/engine/launch-requests';
import { type TaskDefinition, taskDefinition } from '../../lambdas/domain/models';
import type { AttemptToLaunch } from '../../lambdas/engine/ports';
import { dockerTask, type JsonObject, shellTask } from '../helpers/factories';

const CONFIG: AwsLauncherConfig = {
  batchJobQueueArn: 'arn:aws:batch:eu-west-1:123456789012:job-queue/sundial',
  batchShellImage: 'public.ecr.aws/docker/library/bash:5',
  batchExecutionRoleArn: 'arn:aws:iam::123456789012:role/sundial-execution',
  batchLogGroup: 'sundial-tasks',
  batchAssignPublicIp: true,
  ecsClusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sundial',
  ecsExecutionRoleArn: 'arn:aws:iam::123456789012:role/sundial-execution',
  ecsLogGroup: 'sundial-tasks',
  region: 'eu-west-1',
};
const TASK_ID = '5f0c7c3e-8b1a-5d2e-9f00-0123456789ab';
const ENVIRONMENT = { SUNDIAL_TASK_ID: TASK_ID, SUNDIAL_TASK_TOKEN: 'token' };
const JOB_DEFINITION_ARN = 'arn:aws:batch:eu-west-1:123456789012:job-definition/sundial-0123456789abcdef:1';
const TASK_DEFINITION_ARN = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/sundial-0123456789abcdef:1';

const batchClient = new BatchClient({ region: 'eu-west-1' });
const ecsClient = new ECSClient({ region: 'eu-west-1' });
const batch = mockClient(batchClient);
const ecs = mockClient(ecsClient);

afterEach(() => {
  batch.reset();
  ecs.reset();
});

/** A parsed task definition (spec defaults applied) from a factory body. */
const parsed = (body: JsonObject): TaskDefinition => taskDefinition.parse(body);

function attempt(definition: TaskDefinition): AttemptToLaunch {
  return { process_id: 'run-1', process_definition_name: 'nightly', task_definition: definition, task_id: TASK_ID, environment: ENVIRONMENT };
}

const batchImageTask = (command: JsonObject = {}, overrides: JsonObject = {}) =>
  parsed({
    task_definition_name: 'load',
    dependencies: [],
    executable: {
      batch_image_command: {
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/loader',
        tag: 'v2',
        command: ['load', '--all'],
        vCpus: 1,
        memory: 3000,
        taskRoleArn: 'arn:aws:iam::123456789012:role/sundial-task-loader',
        ...command,
      },
    },
    max_attempts: 1,
    backoff_base_seconds: 0,
    require_explicit_success: false,
    ...overrides,
  });

const launcher = () => new AwsLauncher(CONFIG, { batch: batchClient, ecs: ecsClient });

describe('fargateSize', () => {
  it.each([
    [256, 512, { cpu: 256, memory: 512 }],
    [0, 0, { cpu: 256, memory: 512 }],
    [256, 4096, { cpu: 512, memory: 4096 }],
    [1024, 3000, { cpu: 1024, memory: 3072 }],
    [1024, 0, { cpu: 1024, memory: 2048 }],
    [3072, 0, { cpu: 4096, memory: 8192 }],
    [2048, 20_000, { cpu: 4096, memory: 20_480 }],
    [8192, 17_000, { cpu: 8192, memory: 20_480 }],
    [4096, 40_000, { cpu: 8192, memory: 40_960 }],
    [16_384, 122_880, { cpu: 16_384, memory: 122_880 }],
  ])('(%i units, %i MiB) rounds up to %o', (cpu, memory, expected) => {
    // Assess
    expect(fargateSize(cpu, memory)).toEqual(expected);
  });

  it.each([
    [20_480, 0],
    [1024, 130_000],
  ])('refuses (%i units, %i MiB), more than Fargate offers', (cpu, memory) => {
    // Assess
    expect(() => fargateSize(cpu, memory)).toThrow(FargateSizeError);
  });
});

describe('helpers', () => {
  it('names definitions sundial-<16 hex>, the same for the same parts', () => {
    // Assess
    expect(definitionName('ecs', 'alpine:latest')).toMatch(/^sundial-[0-9a-f]{16}$/);
    expect(definitionName('ecs', 'alpine:latest')).toBe(definitionName('ecs', 'alpine:latest'));
    expect(definitionName('ecs', 'alpine:latest')).not.toBe(definitionName('ecs', 'alpine:3'));
  });

  it('refers to an image by tag, or by digest when the tag is one', () => {
    // Assess
    expect(imageReference('alpine', 'latest')).toBe('alpine:latest');
    expect(imageReference('alpine', 'sha256:abc')).toBe('alpine@sha256:abc');
  });
});

describe('AwsLauncher.plan: shell_script_command', () => {
  it('registers the shell job definition once and submits sh -c <script> with the environment', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN, jobDefinitionName: 'x', revision: 1 });
    const subject = launcher();
    const task = parsed(shellTask('extract', { max_runtime_seconds: 30 }));

    // Act
    const first = await subject.plan(attempt(task));
    const second = await subject.plan(attempt(task));

    // Assess
    const name = definitionName('shell', CONFIG.batchShellImage);
    expect(first).toEqual({
      executor: 'batch',
      batch: {
        JobName: TASK_ID,
        JobQueue: CONFIG.batchJobQueueArn,
        JobDefinition: JOB_DEFINITION_ARN,
        ContainerOverrides: {
          Command: ['sh', '-c', 'echo extract'],
          Environment: [
            { Name: 'SUNDIAL_TASK_ID', Value: TASK_ID },
            { Name: 'SUNDIAL_TASK_TOKEN', Value: 'token' },
          ],
        },
        // max_runtime_seconds 30 is below Batch's minimum of 60.
        Timeout: { AttemptDurationSeconds: 60 },
      },
    });
    expect(second).toEqual(first);
    expect(batch.commandCalls(DescribeJobDefinitionsCommand).map((c) => c.args[0].input)).toEqual([
      { jobDefinitionName: name, status: 'ACTIVE' },
    ]);
    expect(batch.commandCalls(RegisterJobDefinitionCommand).map((c) => c.args[0].input)).toEqual([
      {
        jobDefinitionName: name,
        type: 'container',
        platformCapabilities: ['FARGATE'],
        retryStrategy: { attempts: 1 },
        containerProperties: {
          image: 'public.ecr.aws/docker/library/bash:5',
          executionRoleArn: CONFIG.batchExecutionRoleArn,
          resourceRequirements: [
            { type: 'VCPU', value: '0.25' },
            { type: 'MEMORY', value: '512' },
          ],
          networkConfiguration: { assignPublicIp: 'ENABLED' },
          fargatePlatformConfiguration: { platformVersion: 'LATEST' },
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': 'sundial-tasks', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'batch' },
          },
        },
      },
    ]);
  });

  it('uses a day as timeout when the task sets no max_runtime_seconds', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });

    // Act
    const plan = await launcher().plan(attempt(parsed(shellTask('extract'))));

    // Assess
    expect(plan.executor === 'batch' && plan.batch.Timeout).toEqual({ AttemptDurationSeconds: 86_400 });
  });
});

describe('AwsLauncher.plan: batch_image_command', () => {
  it('registers a job definition with the task role and a Fargate size, on the default queue', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });

    // Act
    const plan = await launcher().plan(attempt(batchImageTask({}, { max_runtime_seconds: 3600 })));

    // Assess
    expect(plan).toEqual({
      executor: 'batch',
      batch: {
        JobName: TASK_ID,
        JobQueue: CONFIG.batchJobQueueArn,
        JobDefinition: JOB_DEFINITION_ARN,
        ContainerOverrides: {
          Command: ['load', '--all'],
          Environment: [
            { Name: 'SUNDIAL_TASK_ID', Value: TASK_ID },
            { Name: 'SUNDIAL_TASK_TOKEN', Value: 'token' },
          ],
        },
        Timeout: { AttemptDurationSeconds: 3600 },
      },
    });
    const [register] = batch.commandCalls(RegisterJobDefinitionCommand).map((c) => c.args[0].input);
    expect(register?.jobDefinitionName).toBe(
      definitionName('batch', 'nightly', 'load', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/loader:v2'),
    );
    expect(register?.containerProperties).toMatchObject({
      image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/loader:v2',
      jobRoleArn: 'arn:aws:iam::123456789012:role/sundial-task-loader',
      executionRoleArn: CONFIG.batchExecutionRoleArn,
      // 1 vCPU and 3000 MiB round up to 1 vCPU and 3072 MiB.
      resourceRequirements: [
        { type: 'VCPU', value: '1' },
        { type: 'MEMORY', value: '3072' },
      ],
    });
  });

  it('submits to the job_queue of the task, and leaves the image command when none is given', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });

    // Act
    const plan = await launcher().plan(attempt(batchImageTask({ job_queue: 'gpu-queue', command: [] })));

    // Assess
    expect(plan.executor === 'batch' && plan.batch.JobQueue).toBe('gpu-queue');
    expect(plan.executor === 'batch' && plan.batch.ContainerOverrides).toEqual({
      Environment: [
        { Name: 'SUNDIAL_TASK_ID', Value: TASK_ID },
        { Name: 'SUNDIAL_TASK_TOKEN', Value: 'token' },
      ],
    });
  });

  it('reuses the newest ACTIVE revision when it holds the same image, role and resources', async () => {
    // Prepare: the register call a cold start would make, answered as Batch answers it later
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });
    await launcher().plan(attempt(batchImageTask()));
    const registered = batch.commandCalls(RegisterJobDefinitionCommand)[0]!.args[0].input;
    batch.reset();
    batch.on(DescribeJobDefinitionsCommand).resolves({
      jobDefinitions: [
        {
          jobDefinitionName: registered.jobDefinitionName,
          jobDefinitionArn: `${JOB_DEFINITION_ARN.slice(0, -2)}:1`,
          revision: 1,
          type: 'container',
          status: 'ACTIVE',
          containerProperties: { ...registered.containerProperties, image: 'older:v1' },
        },
        {
          jobDefinitionName: registered.jobDefinitionName,
          jobDefinitionArn: `${JOB_DEFINITION_ARN.slice(0, -2)}:2`,
          revision: 2,
          type: 'container',
          status: 'ACTIVE',
          // Batch answers the log options in its own order.
          containerProperties: {
            ...registered.containerProperties,
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-stream-prefix': 'batch', 'awslogs-region': 'eu-west-1', 'awslogs-group': 'sundial-tasks' },
            },
          },
        },
      ],
    });

    // Act: a new cold start
    const plan = await launcher().plan(attempt(batchImageTask()));

    // Assess
    expect(plan.executor === 'batch' && plan.batch.JobDefinition).toBe(`${JOB_DEFINITION_ARN.slice(0, -2)}:2`);
    expect(batch.commandCalls(RegisterJobDefinitionCommand)).toHaveLength(0);
  });

  it('registers a new revision when the newest differs (here: the task role)', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });
    await launcher().plan(attempt(batchImageTask()));
    const registered = batch.commandCalls(RegisterJobDefinitionCommand)[0]!.args[0].input;
    batch.reset();
    batch.on(DescribeJobDefinitionsCommand).resolves({
      jobDefinitions: [
        {
          jobDefinitionName: registered.jobDefinitionName,
          jobDefinitionArn: JOB_DEFINITION_ARN,
          revision: 1,
          type: 'container',
          status: 'ACTIVE',
          containerProperties: { ...registered.containerProperties, jobRoleArn: 'arn:aws:iam::123456789012:role/sundial-task-old' },
        },
      ],
    });
    batch.on(RegisterJobDefinitionCommand).resolves({ jobDefinitionArn: `${JOB_DEFINITION_ARN.slice(0, -2)}:2` });

    // Act
    const plan = await launcher().plan(attempt(batchImageTask()));

    // Assess
    expect(plan.executor === 'batch' && plan.batch.JobDefinition).toBe(`${JOB_DEFINITION_ARN.slice(0, -2)}:2`);
    expect(batch.commandCalls(RegisterJobDefinitionCommand).map((c) => c.args[0].input)).toEqual([registered]);
  });

  it('asks again after a failed registration instead of caching the failure', async () => {
    // Prepare
    batch.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batch
      .on(RegisterJobDefinitionCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves({ jobDefinitionArn: JOB_DEFINITION_ARN });
    const subject = launcher();

    // Act
    const first = subject.plan(attempt(batchImageTask()));
    await expect(first).rejects.toThrow('Rate exceeded');
    const second = await subject.plan(attempt(batchImageTask()));

    // Assess
    expect(second.executor === 'batch' && second.batch.JobDefinition).toBe(JOB_DEFINITION_ARN);
    expect(batch.commandCalls(RegisterJobDefinitionCommand)).toHaveLength(2);
  });
});

describe('AwsLauncher.plan: docker_image_command', () => {
  it('registers a task definition family per image once, and runs it with a Fargate size as overrides', async () => {
    // Prepare
    ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', $metadata: {} }));
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEFINITION_ARN } });
    const subject = launcher();
    const task = parsed(
      dockerTask('report', {
        executable: { docker_image_command: { image: 'alpine', command: ['echo', 'report'], cpu: 512, memory: 5000 } },
      }),
    );

    // Act
    const first = await subject.plan(attempt(task));
    const second = await subject.plan(attempt(task));

    // Assess
    expect(first).toEqual({
      executor: 'ecs',
      ecs: {
        TaskDefinition: TASK_DEFINITION_ARN,
        StartedBy: TASK_ID,
        Overrides: {
          ContainerOverrides: [
            {
              Name: 'task',
              Command: ['echo', 'report'],
              Environment: [
                { Name: 'SUNDIAL_TASK_ID', Value: TASK_ID },
                { Name: 'SUNDIAL_TASK_TOKEN', Value: 'token' },
              ],
            },
          ],
          // 512 units with 5000 MiB is no Fargate size: 1 vCPU with 5120 MiB is the smallest that fits.
          Cpu: '1024',
          Memory: '5120',
        },
      },
    });
    expect(second).toEqual(first);
    const family = definitionName('ecs', 'alpine:latest', '');
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input)).toEqual([{ taskDefinition: family }]);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand).map((c) => c.args[0].input)).toEqual([
      {
        family,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        executionRoleArn: CONFIG.ecsExecutionRoleArn,
        containerDefinitions: [
          {
            name: 'task',
            image: 'alpine:latest',
            essential: true,
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-group': 'sundial-tasks', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'ecs' },
            },
          },
        ],
      },
    ]);
  });

  it('runs the smallest Fargate size when the task sets neither cpu nor memory, with its task role', async () => {
    // Prepare
    ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', $metadata: {} }));
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEFINITION_ARN } });
    const role = 'arn:aws:iam::123456789012:role/sundial-task-report';
    const task = parsed(dockerTask('report', { executable: { docker_image_command: { image: 'alpine', tag: '3', command: [], taskRoleArn: role } } }));

    // Act
    const plan = await launcher().plan(attempt(task));

    // Assess
    expect(plan.executor === 'ecs' && plan.ecs.Overrides).toEqual({
      ContainerOverrides: [
        {
          Name: 'task',
          Environment: [
            { Name: 'SUNDIAL_TASK_ID', Value: TASK_ID },
            { Name: 'SUNDIAL_TASK_TOKEN', Value: 'token' },
          ],
        },
      ],
      Cpu: '256',
      Memory: '512',
    });
    const [register] = ecs.commandCalls(RegisterTaskDefinitionCommand).map((c) => c.args[0].input);
    expect(register).toMatchObject({ family: definitionName('ecs', 'alpine:3', role), taskRoleArn: role });
  });

  it('reuses the family’s newest revision when it matches', async () => {
    // Prepare: what a first registration sends, answered back by DescribeTaskDefinition
    ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', $metadata: {} }));
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEFINITION_ARN } });
    const task = parsed(dockerTask('report'));
    await launcher().plan(attempt(task));
    const registered = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    ecs.reset();
    ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: {
        ...registered,
        containerDefinitions: registered.containerDefinitions,
        taskDefinitionArn: `${TASK_DEFINITION_ARN.slice(0, -2)}:7`,
        revision: 7,
        status: 'ACTIVE',
      },
    });

    // Act
    const plan = await launcher().plan(attempt(task));

    // Assess
    expect(plan.executor === 'ecs' && plan.ecs.TaskDefinition).toBe(`${TASK_DEFINITION_ARN.slice(0, -2)}:7`);
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('refuses a size larger than Fargate offers', async () => {
    // Prepare
    ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', $metadata: {} }));
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TASK_DEFINITION_ARN } });
    const task = parsed(dockerTask('huge', { executable: { docker_image_command: { image: 'alpine', command: [], memory: 200_000 } } }));

    // Act
    const plan = launcher().plan(attempt(task));

    // Assess
    await expect(plan).rejects.toThrow(FargateSizeError);
  });
});

describe('AwsLauncher.stop', () => {
  it('terminates the Batch job named after the task id, by job id, leaving finished ones', async () => {
    // Prepare
    batch.on(ListJobsCommand).resolves({
      jobSummaryList: [
        { jobId: 'job-running', jobName: TASK_ID, status: 'RUNNING', jobArn: 'a' },
        { jobId: 'job-done', jobName: TASK_ID, status: 'SUCCEEDED', jobArn: 'b' },
      ],
    });
    batch.on(TerminateJobCommand).resolves({});

    // Act
    await launcher().stop({ task_id: TASK_ID, task_definition: parsed(shellTask('extract')) }, 'killed by operator');

    // Assess
    expect(batch.commandCalls(ListJobsCommand).map((c) => c.args[0].input)).toEqual([
      { jobQueue: CONFIG.batchJobQueueArn, filters: [{ name: 'JOB_NAME', values: [TASK_ID] }] },
    ]);
    expect(batch.commandCalls(TerminateJobCommand).map((c) => c.args[0].input)).toEqual([
      { jobId: 'job-running', reason: 'killed by operator' },
    ]);
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
  });

  it('looks on the task’s own job queue too, following pages', async () => {
    // Prepare
    batch
      .on(ListJobsCommand, { jobQueue: CONFIG.batchJobQueueArn })
      .resolves({ jobSummaryList: [] })
      .on(ListJobsCommand, { jobQueue: 'gpu-queue' })
      .resolvesOnce({ jobSummaryList: [], nextToken: 'page-2' })
      .resolves({ jobSummaryList: [{ jobId: 'job-queued', jobName: TASK_ID, status: 'RUNNABLE', jobArn: 'a' }] });
    batch.on(TerminateJobCommand).resolves({});

    // Act
    await launcher().stop({ task_id: TASK_ID, task_definition: batchImageTask({ job_queue: 'gpu-queue' }) }, 'killed');

    // Assess
    expect(batch.commandCalls(ListJobsCommand).map((c) => c.args[0].input)).toEqual([
      { jobQueue: CONFIG.batchJobQueueArn, filters: [{ name: 'JOB_NAME', values: [TASK_ID] }] },
      { jobQueue: 'gpu-queue', filters: [{ name: 'JOB_NAME', values: [TASK_ID] }] },
      { jobQueue: 'gpu-queue', filters: [{ name: 'JOB_NAME', values: [TASK_ID] }], nextToken: 'page-2' },
    ]);
    expect(batch.commandCalls(TerminateJobCommand).map((c) => c.args[0].input)).toEqual([{ jobId: 'job-queued', reason: 'killed' }]);
  });

  it('stops the ECS tasks started by the task id, with the reason cut to 255 characters', async () => {
    // Prepare
    const task = `${CONFIG.ecsClusterArn.replace(':cluster/', ':task/')}/0123`;
    ecs.on(ListTasksCommand).resolves({ taskArns: [task] });
    ecs.on(StopTaskCommand).resolves({});
    const reason = 'x'.repeat(300);

    // Act
    await launcher().stop({ task_id: TASK_ID, task_definition: parsed(dockerTask('report')) }, reason);

    // Assess
    expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toEqual([{ cluster: CONFIG.ecsClusterArn, startedBy: TASK_ID }]);
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: CONFIG.ecsClusterArn, task, reason: 'x'.repeat(255) },
    ]);
    expect(batch.commandCalls(ListJobsCommand)).toHaveLength(0);
  });

  it('does nothing when no ECS task runs', async () => {
    // Prepare
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });

    // Act
    await launcher().stop({ task_id: TASK_ID, task_definition: parsed(dockerTask('report')) }, 'killed');

    // Assess
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(0);
  });
});
