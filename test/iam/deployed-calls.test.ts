/**
 * The AWS calls that have no local engine (Step Functions, Batch, ECS, Scheduler, SES, Secrets
 * Manager, Lambda, CloudWatch Logs), made by the deployed entry points themselves
 * (lambdas/functions/{api,callbacks,engine,notify}.ts), each run with its function's environment from
 * the synthesized template, DynamoDB on the local store and every other client mocked
 * (aws-sdk-client-mock). Every call the mocks receive is evaluated against the role of the function
 * that made it (./actions.ts maps it; an unmapped one fails).
 */
import { BatchClient, DescribeJobDefinitionsCommand, DescribeJobsCommand, ListJobsCommand, RegisterJobDefinitionCommand, TerminateJobCommand } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, ECSClient, ListTasksCommand, RegisterTaskDefinitionCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateScheduleCommand, DeleteScheduleCommand, ResourceNotFoundException, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendEmailCommand, SESClient } from '@aws-sdk/client-ses';
import { ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { type AwsStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PreparedAttempt } from '../../lambdas/engine/contract';
import { FAN_OUT_MARGIN_MS } from '../../lambdas/engine/events';
import { type FanOutEvent, IN_REQUEST_TASKS_MAX } from '../../lambdas/engine/fan-out';
import type { HttpEvent, HttpResult } from '../../lambdas/http/types';
import { type EmbeddedDynamo, LOCAL_TABLE_NAME, startDynamo } from '../../local/dynalite';
import { markFunctions, runAs, type SundialFunction } from '../../local/function-context';
import { httpEvent } from '../../local/http-adapter';
import { cronSchedule, dockerTask, logEntry, shellTask } from '../helpers/factories';
import type { RecordedCall } from './actions';
import { evaluateCalls, summary } from './harness';
import { mockedCalls } from './recorder';
import { ACCOUNT, type FunctionName, REGION, type ResolvedTemplate, sundialTemplate } from './template';

const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/sundial-task-reader`;
const SECRET = 'k'.repeat(64);

let template: ResolvedTemplate;
let dynamo: EmbeddedDynamo;
const savedEnv = { ...process.env };
const calls: RecordedCall[] = [];

// One mock per service; `service` is the name ./actions.ts keys on.
const mocks: { service: string; mock: AwsStub<any, any, any> }[] = [];
function mocked<T>(service: string, client: T): AwsStub<any, any, any> {
  const mock = mockClient(client as never) as AwsStub<any, any, any>;
  mocks.push({ service, mock });
  return mock;
}

beforeAll(async () => {
  markFunctions();
  template = await sundialTemplate();
  dynamo = await startDynamo(undefined);
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  mocked('SFN', SFNClient)
    .on(StartExecutionCommand)
    .callsFake((i) => ({ executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`, startDate: new Date() }))
    .on(StopExecutionCommand)
    .resolves({ stopDate: new Date() })
    .on(ListExecutionsCommand)
    .resolves({ executions: [] });
  mocked('Batch', BatchClient)
    .on(DescribeJobDefinitionsCommand)
    .resolves({ jobDefinitions: [] })
    .on(RegisterJobDefinitionCommand)
    .callsFake((i) => ({ jobDefinitionName: i.jobDefinitionName, revision: 1, jobDefinitionArn: arn('batch', `job-definition/${i.jobDefinitionName}:1`) }))
    .on(ListJobsCommand)
    .callsFake((i) => ({ jobSummaryList: [{ jobId: '4a6c3e1f-0000-4000-8000-000000000001', jobName: i.filters[0].values[0], status: 'RUNNING' }] }))
    .on(DescribeJobsCommand)
    .resolves({ jobs: [{ container: { logStreamName: 'batch/default/0123456789abcdef' } } as never] })
    .on(TerminateJobCommand)
    .resolves({});
  mocked('ECS', ECSClient)
    .on(DescribeTaskDefinitionCommand)
    .rejects(Object.assign(new Error('Unable to describe task definition'), { name: 'ClientException' }))
    .on(RegisterTaskDefinitionCommand)
    .callsFake((i) => ({ taskDefinition: { taskDefinitionArn: arn('ecs', `task-definition/${i.family}:1`) } }))
    .on(ListTasksCommand)
    .callsFake((i) => ({ taskArns: [`${i.cluster.replace(':cluster/', ':task/')}/0123456789abcdef0123456789abcdef`] }))
    .on(StopTaskCommand)
    .resolves({});
  mocked('Scheduler', SchedulerClient)
    // A schedule not there yet: the adapter creates it (UpdateSchedule, then CreateSchedule).
    .on(UpdateScheduleCommand)
    .rejects(new ResourceNotFoundException({ message: 'not found', Message: 'not found', $metadata: {} }))
    .on(CreateScheduleCommand)
    .callsFake((i) => ({ ScheduleArn: arn('scheduler', `schedule/${i.GroupName}/${i.Name}`) }))
    .on(DeleteScheduleCommand)
    .resolves({});
  mocked('SES', SESClient).on(SendEmailCommand).resolves({ MessageId: 'm-1' });
  mocked('SecretsManager', SecretsManagerClient).on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  mocked('Lambda', LambdaClient).on(InvokeCommand).resolves({ StatusCode: 202 });
  mocked('CloudWatchLogs', CloudWatchLogsClient).on(GetLogEventsCommand).resolves({ events: [] });
}, 120_000);

afterAll(async () => {
  for (const { mock } of mocks) mock.restore();
  process.env = savedEnv;
  await dynamo?.close();
});

/** Every mock call not collected yet, tagged as made by `fn`. */
const collected = new Map<string, number>();
function collect(fn: FunctionName): RecordedCall[] {
  const out: RecordedCall[] = [];
  for (const { service, mock } of mocks) {
    const all = mock.calls();
    out.push(...mockedCalls(service, fn, all.slice(collected.get(service) ?? 0)));
    collected.set(service, all.length);
  }
  calls.push(...out);
  return out;
}

/**
 * Runs `body` as the deployed function `fn`: its environment exactly as the template sets it (the
 * table name aside: the local store's), DynamoDB on the local store, fake credentials; then
 * collects the calls the mocks received.
 */
async function as<T>(fn: FunctionName, body: () => Promise<T>): Promise<{ result: T; calls: RecordedCall[] }> {
  process.env = {
    ...savedEnv,
    ...template.lambda(fn).environment,
    // Lambda's own: the engine function hands fan-out steps to itself by it.
    AWS_LAMBDA_FUNCTION_NAME: template.lambda(fn).name,
    TABLE_NAME: LOCAL_TABLE_NAME,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  };
  const result = await runAs(fn as SundialFunction, body);
  return { result, calls: collect(fn) };
}

type HttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;
const context = { awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

async function http(handler: HttpHandler, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const result = await handler(
    httpEvent({
      method,
      path,
      query: {},
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      requestId: 'r',
    }),
    context,
  );
  return { status: result.statusCode, json: result.body ? JSON.parse(result.body) : undefined, text: result.body ?? '' };
}

const commands = (recorded: RecordedCall[]) => recorded.map((c) => `${c.service}.${c.command}`);

/** The fan-out step a function handed to the engine function (its asynchronous Invoke), as the engine function receives it. */
function handedStep(recorded: RecordedCall[]): FanOutEvent {
  const invoke = recorded.find((c) => c.command === 'Invoke' && c.input.InvocationType === 'Event');
  if (!invoke) throw new Error(`no step was handed over: ${commands(recorded).join(', ')}`);
  return JSON.parse(new TextDecoder().decode(invoke.input.Payload as Uint8Array)) as FanOutEvent;
}

describe('the deployed entry points, each with its own role', () => {
  test('every call to a service without a local engine is allowed by the role of the function that makes it', async () => {
    // Prepare: the entry points, loaded with their function's environment (they read parts of it at load)
    const api = (await as('api', async () => (await import('../../lambdas/functions/api')).handler as unknown as HttpHandler)).result;
    const callbacks = (await as('callbacks', async () => (await import('../../lambdas/functions/callbacks')).handler as unknown as HttpHandler)).result;
    const engine = (await import('../../lambdas/functions/engine')).handler;
    const notify = (await import('../../lambdas/functions/notify')).handler;
    const definition = {
      process_definition_name: 'iam-deployed',
      schedule: cronSchedule(),
      notifications: [{ email: { name: 'Ops', email: 'ops@example.com', notify_when: 'always' } }],
      task_definitions: [
        shellTask('shell'),
        shellTask('batch', { executable: { batch_image_command: { image: 'alpine', tag: '3', command: ['true'], vCpus: 1, memory: 512, taskRoleArn: TASK_ROLE } } }),
        dockerTask('docker', { executable: { docker_image_command: { image: 'alpine', tag: '3', command: ['true'], taskRoleArn: TASK_ROLE } } }),
      ],
    };

    // Act: api — PUT with a schedule, trigger
    const put = await as('api', () => http(api, 'PUT', '/api/process_definitions/iam-deployed', definition));
    const trigger = await as('api', () => http(api, 'POST', '/api/process_definitions/iam-deployed/trigger'));
    const inputs = trigger.calls.filter((c) => c.command === 'StartExecution').map((c) => JSON.parse(c.input.input as string));

    // Act: engine — Prepare each task execution the trigger started (registers definitions, mints tokens)
    const prepared: PreparedAttempt[] = [];
    const prepare = await as('engine', async () => {
      for (const state of inputs) prepared.push((await engine({ action: 'prepare', state })) as PreparedAttempt);
    });

    // Act: callbacks — a task posts a log entry with its token; api — reads task output
    const batchAttempt = prepared.find((p) => p.executor === 'batch' && p.batch?.JobDefinition.includes('job-definition'))!;
    const env = (p: PreparedAttempt) => Object.fromEntries((p.batch?.ContainerOverrides.Environment ?? p.ecs!.Overrides.ContainerOverrides[0]!.Environment).map((e) => [e.Name, e.Value]));
    const token = env(batchAttempt).SUNDIAL_TASK_TOKEN!;
    const logged = await as('callbacks', () =>
      http(callbacks, 'POST', `/api/tasks/${batchAttempt.task_id}/log_entries`, [logEntry()], {
        authorization: `Bearer ${token}`,
      }),
    );
    const dockerAttempt = prepared.find((p) => p.executor === 'ecs')!;
    const outputs = await as('api', async () => [
      await http(api, 'GET', `/api/tasks/${batchAttempt.task_id}/output`),
      await http(api, 'GET', `/api/tasks/${dockerAttempt.task_id}/output`),
    ]);

    // Act: engine — the reaper lists the running executions; api — kill (stops executions, jobs, tasks; notifies)
    const reap = await as('engine', () => engine({ action: 'reap' }));
    const kill = await as('api', () => http(api, 'POST', `/api/processes/${trigger.result.json.process_id}/kill`));

    // Act: api — trigger and kill of a run too large for the request hand it to the engine function;
    // engine — their steps, the first handing the rest to itself (its invocation nearly out of time)
    const large = { process_definition_name: 'iam-large', task_definitions: Array.from({ length: IN_REQUEST_TASKS_MAX + 1 }, (_, i) => shellTask(`t${i}`)) };
    await as('api', () => http(api, 'PUT', '/api/process_definitions/iam-large', large));
    const largeTrigger = await as('api', () => http(api, 'POST', '/api/process_definitions/iam-large/trigger'));
    let left = FAN_OUT_MARGIN_MS + 20;
    const firstStep = await as('engine', () => engine(handedStep(largeTrigger.calls), { getRemainingTimeInMillis: () => left-- }));
    const nextSteps = await as('engine', () => engine(handedStep(firstStep.calls)));
    const largeKill = await as('api', () => http(api, 'POST', `/api/processes/${largeTrigger.result.json.process_id}/kill`));
    const killSteps = await as('engine', () => engine(handedStep(largeKill.calls)));

    // Act: api — a continuous definition starts its first run at once; engine — that execution is
    // abandoned (the run ends: notify, next tick arranged), and a tick of the cron definition starts a run
    const continuous = await as('api', () =>
      http(api, 'PUT', '/api/process_definitions/iam-continuous', {
        process_definition_name: 'iam-continuous',
        schedule: { continuous_schedule: { buffer_seconds: 60 } },
        task_definitions: [shellTask('only')],
      }),
    );
    const started = continuous.calls.find((c) => c.command === 'StartExecution')!.input;
    const abandon = await as('engine', async () => {
      await engine({ action: 'prepare', state: JSON.parse(started.input as string) });
      await engine({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: { name: started.name as string, status: 'FAILED', input: started.input as string, error: 'States.Runtime', cause: 'test' },
      });
    });
    const tick = await as('engine', () =>
      engine({ action: 'tick', process_definition_name: 'iam-deployed', scheduled_time: new Date().toISOString(), owner: 'tick-1' }),
    );

    // Act: notify — the run that was killed; api — DELETE (removes the schedule)
    const notified = await as('notify', () => notify({ process_id: trigger.result.json.process_id, process_definition_name: 'iam-deployed', status: 'failed' }));
    const deleted = await as('api', () => http(api, 'DELETE', '/api/process_definitions/iam-deployed'));

    const report = await evaluateCalls(template, calls);

    // Assess: each step made the calls it makes deployed
    const answers = [put, trigger, logged, kill, deleted].map((step) => step.result);
    expect(answers.map((r) => r.status), answers.map((r) => r.text).join('\n')).toEqual([201, 201, 201, 201, 204]);
    expect(outputs.result.map((r) => r.status)).toEqual([200, 200]);
    expect(commands(put.calls)).toEqual(expect.arrayContaining(['Scheduler.UpdateSchedule', 'Scheduler.CreateSchedule']));
    expect(commands(trigger.calls).filter((c) => c === 'SFN.StartExecution')).toHaveLength(3);
    expect(commands(prepare.calls)).toEqual(
      expect.arrayContaining(['SecretsManager.GetSecretValue', 'Batch.DescribeJobDefinitions', 'Batch.RegisterJobDefinition', 'ECS.DescribeTaskDefinition', 'ECS.RegisterTaskDefinition']),
    );
    expect(commands(logged.calls)).toEqual(['SecretsManager.GetSecretValue']);
    expect(commands(outputs.calls)).toEqual(expect.arrayContaining(['Batch.ListJobs', 'Batch.DescribeJobs', 'ECS.ListTasks', 'CloudWatchLogs.GetLogEvents']));
    expect(commands(reap.calls).filter((c) => c.startsWith('SFN.'))).toEqual(['SFN.ListExecutions']);
    expect(commands(kill.calls)).toEqual(expect.arrayContaining(['SFN.StopExecution', 'Batch.ListJobs', 'Batch.TerminateJob', 'ECS.ListTasks', 'ECS.StopTask', 'Lambda.Invoke']));
    expect([largeTrigger.result.status, largeKill.result.status]).toEqual([201, 201]);
    expect([commands(largeTrigger.calls), commands(firstStep.calls), commands(largeKill.calls)]).toEqual([['Lambda.Invoke'], ['Lambda.Invoke'], ['Lambda.Invoke']]);
    expect(commands(nextSteps.calls).filter((c) => c === 'SFN.StartExecution')).toHaveLength(IN_REQUEST_TASKS_MAX + 1);
    expect(commands(killSteps.calls)).toEqual(expect.arrayContaining(['SFN.StopExecution', 'Lambda.Invoke']));
    expect(commands(abandon.calls)).toEqual(expect.arrayContaining(['Lambda.Invoke', 'Scheduler.CreateSchedule']));
    expect(commands(tick.calls).filter((c) => c === 'SFN.StartExecution')).toHaveLength(3);
    expect(notified.result.deliveries.length).toBeGreaterThan(0);
    expect(commands(notified.calls)).toEqual(['SES.SendEmail']);
    expect(commands(deleted.calls)).toContain('Scheduler.DeleteSchedule');
    // Assess: AWS would allow every one of them
    expect(report.failures).toEqual([]);
    console.info(`IAM harness, deployed entry points: ${calls.length} calls\n${summary(report.evaluated).join('\n')}`);
  });
});
