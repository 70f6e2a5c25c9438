/**
 * The engine and compute constructs in a minimal stack of their own (a TableV2, a Secret), so that
 * these tests do not depend on the foundation stack: the task state machine's ASL (the contract the
 * local runtime runs too), its IAM, Batch on Fargate and the ECS cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import aslValidator from 'asl-validator';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ECS_ENDED_ERROR, EXECUTOR_STEP_TIMEOUT_SECONDS, STATE, TIMEOUT_ERROR } from '../../lambdas/engine/contract';
import { installLongTimers } from '../../local/engine/long-timers';
import { DefinitionExtractionError, extractDefinition } from '../../lib/asl';
import { SundialEngine } from '../../lib/engine';
import { LAMBDA_SERVICE_ERRORS } from '../../lib/step-functions';
import { THROTTLING_ERRORS } from '../../lib/task-state-machine';
import { nagFindings, newApp } from './support';

type Json = Record<string, any>;

// As the local runtime does (local/engine/orchestrator.ts): the executor steps' year-long TimeoutSeconds
// would otherwise overflow Node's timer and fire at once.
installLongTimers();

/** A stack with a table, a secret and the engine (with its own compute), plus a function driving runs. */
function engineStack(app = newApp()): { stack: Stack; engine: SundialEngine; api: lambda.Function } {
  const stack = new Stack(app, 'Test');
  const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const tokenSecret = new Secret(stack, 'TokenSecret');
  const engine = new SundialEngine(stack, 'Engine', { table, tokenSecret, callbackUrl: 'https://api.example.com/' });
  const api = new lambda.Function(stack, 'Api', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  engine.grantTo(api);
  return { stack, engine, api };
}

/** Every IAM statement of the template, with the logical id of the policy or role holding it. */
function statements(template: Template): Array<{ owner: string; roles: unknown[]; statement: Json }> {
  const out: Array<{ owner: string; roles: unknown[]; statement: Json }> = [];
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) out.push({ owner: id, roles: policy.Properties.Roles, statement });
  }
  for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const policy of role.Properties.Policies ?? []) {
      for (const statement of policy.PolicyDocument.Statement) out.push({ owner: id, roles: [{ Ref: id }], statement });
    }
  }
  return out;
}

const actions = (statement: Json): string[] => [statement.Action].flat();
const resources = (statement: Json): unknown[] => [statement.Resource].flat();
const logicalId = (template: Template, type: string, contains: string): string => {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(contains));
  if (ids.length !== 1) throw new Error(`expected one ${type} with ${contains} in its logical id, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
};

describe('SundialEngine', () => {
  // Prepare (shared): the template is only read.
  const { stack } = engineStack();
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const definition = extractDefinition(json) as { StartAt: string; States: Record<string, Json> };
  const states = definition.States;
  const functionId = logicalId(template, 'AWS::Lambda::Function', 'EngineHandler');
  const functionArn = `arn:aws:lambda:local:000000000000:function:${functionId}`;

  describe('the task state machine', () => {
    it('has a logical id containing TaskStateMachine, Standard, logging ALL without execution data, traced', () => {
      // Assess
      expect(logicalId(template, 'AWS::StepFunctions::StateMachine', 'TaskStateMachine')).toMatch(/^EngineTaskStateMachine/);
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: false,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineStateMachineLogs'), 'Arn'] } } }],
        },
        TracingConfiguration: { Enabled: true },
      });
      // Named under /aws/vendedlogs/, made unique per stack created by the stack id's UUID.
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: {
          'Fn::Join': ['', [Match.stringLikeRegexp('^/aws/vendedlogs/states/Test-Engine-[0-9A-F]{8}-Tasks-$'), Match.objectLike({ 'Fn::Select': Match.anyValue() })]],
        },
        RetentionInDays: 30,
      });
    });

    it('has exactly the states of the contract, starting at Prepare (the ECS states inside EcsAttempt)', () => {
      // Prepare
      const branches = (states[STATE.ecsAttempt] as { Branches: Array<{ States: Record<string, unknown> }> }).Branches;
      const nested = branches.flatMap((b) => Object.keys(b.States));

      // Assess
      expect(definition.StartAt).toBe(STATE.prepare);
      expect([...Object.keys(states), ...nested].sort()).toEqual([...Object.values(STATE)].sort());
      expect(nested.sort()).toEqual([STATE.runEcsTask, STATE.ecsEnded, STATE.ecsDeadline, STATE.ecsTimedOut].sort());
    });

    it('validates with asl-validator', () => {
      // Act: on a copy (the validator fills in defaults, such as QueryLanguage, in what it is given)
      const { isValid, errorsText } = aslValidator(structuredClone(definition) as never);

      // Assess
      expect(isValid, errorsText('\n')).toBe(true);
    });

    it('Prepare: invokes the engine function with the execution input into $.attempt, retrying Lambda service errors', () => {
      // Assess
      expect(states[STATE.prepare]).toEqual({
        Type: 'Task',
        Resource: functionArn,
        Parameters: { action: 'prepare', 'state.$': '$' },
        ResultPath: '$.attempt',
        TimeoutSeconds: 60,
        Retry: [
          { ErrorEquals: LAMBDA_SERVICE_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 },
          { ErrorEquals: THROTTLING_ERRORS, IntervalSeconds: 1, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
          { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' },
        ],
        Next: STATE.route,
      });
    });

    it('Route?: skip to Done, else to the executor, through its backoff Wait only when there is a backoff', () => {
      // Assess
      const waits = (executor: string) => ({
        And: [
          { Variable: '$.attempt.executor', StringEquals: executor },
          { Variable: '$.attempt.backoff_seconds', IsPresent: true },
          { Variable: '$.attempt.backoff_seconds', NumericGreaterThan: 0 },
        ],
      });
      expect(states[STATE.route]).toEqual({
        Type: 'Choice',
        Choices: [
          { Variable: '$.attempt.skip', BooleanEquals: true, Next: STATE.done },
          { ...waits('batch'), Next: STATE.batchBackoff },
          { Variable: '$.attempt.executor', StringEquals: 'batch', Next: STATE.runBatchJob },
          { ...waits('ecs'), Next: STATE.ecsBackoff },
          { Variable: '$.attempt.executor', StringEquals: 'ecs', Next: STATE.ecsAttempt },
        ],
      });
      expect(states[STATE.batchBackoff]).toEqual({ Type: 'Wait', SecondsPath: '$.attempt.backoff_seconds', Next: STATE.runBatchJob });
      expect(states[STATE.ecsBackoff]).toEqual({ Type: 'Wait', SecondsPath: '$.attempt.backoff_seconds', Next: STATE.ecsAttempt });
    });

    it('RunBatchJob: submitJob.sync with the prepared request, no TimeoutSecondsPath, errors caught into $.error', () => {
      // Assess
      expect(states[STATE.runBatchJob]).toEqual({
        Type: 'Task',
        Resource: 'arn:aws:states:::batch:submitJob.sync',
        Parameters: {
          'JobName.$': '$.attempt.batch.JobName',
          'JobQueue.$': '$.attempt.batch.JobQueue',
          'JobDefinition.$': '$.attempt.batch.JobDefinition',
          'ContainerOverrides.$': '$.attempt.batch.ContainerOverrides',
          'Timeout.$': '$.attempt.batch.Timeout',
        },
        ResultSelector: { 'Status.$': '$.Status', 'JobId.$': '$.JobId' },
        ResultPath: '$.result',
        TimeoutSeconds: EXECUTOR_STEP_TIMEOUT_SECONDS,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.record }],
        Next: STATE.record,
      });
    });

    it('EcsAttempt: runTask.sync on the cluster races the max_runtime_seconds deadline; the Catch sorts out which ended it', () => {
      // Prepare
      const clusterId = logicalId(template, 'AWS::ECS::Cluster', 'EngineCompute');
      const securityGroupId = logicalId(template, 'AWS::EC2::SecurityGroup', 'TaskSecurityGroup');
      const subnetIds = Object.keys(template.findResources('AWS::EC2::Subnet')).sort();

      // Assess
      expect(subnetIds).toHaveLength(2);
      expect(states[STATE.ecsAttempt]).toEqual({
        Type: 'Parallel',
        ResultPath: '$.result',
        Branches: [
          {
            StartAt: STATE.runEcsTask,
            States: {
              [STATE.runEcsTask]: {
                Type: 'Task',
                Resource: 'arn:aws:states:::ecs:runTask.sync',
                Parameters: {
                  Cluster: `arn:aws:ecs:local:000000000000:cluster/${clusterId}`,
                  LaunchType: 'FARGATE',
                  NetworkConfiguration: {
                    AwsvpcConfiguration: {
                      Subnets: subnetIds.map((id) => `subnet-${id}`),
                      SecurityGroups: [`sg-${securityGroupId}`],
                      AssignPublicIp: 'ENABLED',
                    },
                  },
                  'TaskDefinition.$': '$.attempt.ecs.TaskDefinition',
                  'StartedBy.$': '$.attempt.ecs.StartedBy',
                  'Overrides.$': '$.attempt.ecs.Overrides',
                },
                ResultPath: null,
                TimeoutSeconds: EXECUTOR_STEP_TIMEOUT_SECONDS,
                Next: STATE.ecsEnded,
              },
              [STATE.ecsEnded]: { Type: 'Fail', Error: ECS_ENDED_ERROR, Cause: 'the ECS task ended' },
            },
          },
          {
            StartAt: STATE.ecsDeadline,
            States: {
              [STATE.ecsDeadline]: { Type: 'Wait', SecondsPath: '$.attempt.timeout_seconds', Next: STATE.ecsTimedOut },
              [STATE.ecsTimedOut]: { Type: 'Fail', Error: TIMEOUT_ERROR, Cause: 'the attempt exceeded max_runtime_seconds' },
            },
          },
        ],
        Catch: [
          { ErrorEquals: [ECS_ENDED_ERROR], ResultPath: '$.result', Next: STATE.record },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.record },
        ],
        Next: STATE.record,
      });
    });

    it.each([
      ['the task ends first: Record sees the result', 'ends', { result: { Error: ECS_ENDED_ERROR } }],
      ['the deadline comes first: Record sees the timeout', 'hangs', { error: { Error: TIMEOUT_ERROR } }],
      ['the task fails: Record sees its error', 'fails', { error: { Error: 'States.TaskFailed' } }],
    ] as const)('EcsAttempt in the local interpreter: %s', async (_case, behaviour, expected) => {
      // Prepare
      const recorded: any[] = [];
      const machine = new StateMachine(structuredClone(definition) as StateMachineDefinition, { validationOptions: { checkArn: false } });
      const attempt = {
        skip: false,
        task_id: 'task-0',
        backoff_seconds: 0,
        timeout_seconds: 1,
        executor: 'ecs',
        ecs: { TaskDefinition: 'td', StartedBy: 'task-0', Overrides: { ContainerOverrides: [] } },
      };

      // Act
      const execution = machine.run(
        { process_id: 'run-1', task_definition_name: 'in-docker' },
        {
          overrides: {
            taskResourceLocalHandlers: {
              [STATE.prepare]: async () => attempt,
              [STATE.runEcsTask]: async () => {
                if (behaviour === 'fails') throw Object.assign(new Error('exit 3'), { name: 'States.TaskFailed' });
                if (behaviour === 'hangs') await new Promise((r) => setTimeout(r, 5_000));
                return { Containers: [{ ExitCode: 0 }] };
              },
              [STATE.record]: async (payload: any) => {
                recorded.push(payload);
                return { process_id: 'run-1', task_definition_name: 'in-docker', recorded: { retry: false } };
              },
            },
            waitTimeOverrides: { [STATE.ecsDeadline]: behaviour === 'hangs' ? 50 : 2_000 },
          },
        },
      );
      await execution.result;

      // Assess
      expect(recorded).toHaveLength(1);
      expect(recorded[0].state).toMatchObject(expected);
      expect(recorded[0].state.attempt).toEqual(attempt);
    });

    it('Record, Again?, Done: record the whole state, which Record replaces; loop to Prepare or end', () => {
      // Assess
      expect(states[STATE.record]).toEqual({
        Type: 'Task',
        Resource: functionArn,
        Parameters: { action: 'record', 'state.$': '$' },
        TimeoutSeconds: 60,
        Retry: [
          { ErrorEquals: LAMBDA_SERVICE_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 },
          { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 },
        ],
        Next: STATE.again,
      });
      expect(states[STATE.again]).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.recorded.retry', BooleanEquals: true, Next: STATE.prepare }],
        Default: STATE.done,
      });
      expect(states[STATE.done]).toEqual({ Type: 'Succeed' });
    });

    it('runs in the local interpreter: a failed attempt, then a successful one that Record sees without the old error', async () => {
      // Prepare: attempt 1 fails in Batch, attempt 2 succeeds
      const recorded: Json[] = [];
      let submitted = 0;
      const machine = new StateMachine(structuredClone(definition) as StateMachineDefinition, { validationOptions: { checkArn: false } });
      const attempt = (n: number) => ({
        skip: false,
        task_id: `task-${n}`,
        backoff_seconds: n,
        executor: 'batch',
        batch: { JobName: `task-${n}`, JobQueue: 'q', JobDefinition: 'd', ContainerOverrides: { Environment: [] }, Timeout: { AttemptDurationSeconds: 60 } },
      });
      let prepared = 0;

      // Act
      const execution = machine.run(
        { process_id: 'run-1', task_definition_name: 'extract' },
        {
          overrides: {
            taskResourceLocalHandlers: {
              [STATE.prepare]: async () => attempt(prepared++),
              [STATE.runBatchJob]: async (params: any) => {
                expect(params).toEqual(attempt(submitted).batch);
                if (submitted++ === 0) throw Object.assign(new Error('{"Status":"FAILED"}'), { name: 'States.TaskFailed' });
                return { Status: 'SUCCEEDED', StatusReason: 'Essential container in task exited', JobId: 'job-2', Extra: 1 };
              },
              [STATE.record]: async (payload: any) => {
                recorded.push(payload);
                return { process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: recorded.length === 1 } };
              },
            },
            waitTimeOverrides: { [STATE.batchBackoff]: 0 },
          },
        },
      );
      const entered: string[] = [];
      const events = (async () => {
        for await (const event of execution.eventLogs) if (event.type === 'StateEntered') entered.push(event.state.name);
      })();
      const output = (await execution.result) as Json;
      await events;

      // Assess: 6 states for the first attempt (no backoff, no Wait), 6 + the Wait for the second
      expect(entered).toEqual([
        ...[STATE.prepare, STATE.route, STATE.runBatchJob, STATE.record, STATE.again],
        ...[STATE.prepare, STATE.route, STATE.batchBackoff, STATE.runBatchJob, STATE.record, STATE.again, STATE.done],
      ]);
      expect(recorded).toHaveLength(2);
      expect(recorded[0]).toMatchObject({ action: 'record', state: { attempt: { task_id: 'task-0' }, error: { Error: 'States.TaskFailed' } } });
      expect(recorded[0]?.state.result).toBeUndefined();
      expect(recorded[1]).toEqual({
        action: 'record',
        // The previous Record's answer, plus this attempt: no error of the first attempt.
        state: {
          process_id: 'run-1',
          task_definition_name: 'extract',
          recorded: { retry: true },
          attempt: attempt(1),
          result: { Status: 'SUCCEEDED', JobId: 'job-2' },
        },
      });
      expect(output).toEqual({ process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: false } });
    });
  });

  describe('the engine function', () => {
    it('runs nodejs24.x on arm64 with the engine environment', () => {
      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
        Environment: {
          Variables: Match.objectLike({
            SUNDIAL_URL: 'https://api.example.com/',
            TABLE_NAME: { Ref: Match.stringLikeRegexp('^Table') },
            TOKEN_SECRET_ARN: { Ref: Match.stringLikeRegexp('^TokenSecret') },
            TASK_STATE_MACHINE_ARN: Match.anyValue(),
            BATCH_JOB_QUEUE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineComputeJobQueue'), 'JobQueueArn'] },
            BATCH_SHELL_IMAGE: 'public.ecr.aws/amazonlinux/amazonlinux:2023',
            BATCH_EXECUTION_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineComputeExecutionRole'), 'Arn'] },
            BATCH_LOG_GROUP: { Ref: Match.stringLikeRegexp('^EngineComputeTaskLogs') },
            BATCH_ASSIGN_PUBLIC_IP: 'ENABLED',
            ECS_CLUSTER_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineComputeCluster'), 'Arn'] },
            ECS_EXECUTION_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineComputeExecutionRole'), 'Arn'] },
            ECS_LOG_GROUP: { Ref: Match.stringLikeRegexp('^EngineComputeTaskLogs') },
          }),
        },
      });
    });

    it('is given the ARN of this state machine, which it alone may start among the engine’s principals', () => {
      // Prepare
      const stateMachine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
      const name = stateMachine.Properties.StateMachineName as string;
      const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:stateMachine:${name}`]] };
      const engineRoleId = logicalId(template, 'AWS::IAM::Role', 'EngineHandlerRole');
      const apiRoleId = logicalId(template, 'AWS::IAM::Role', 'ApiServiceRole');

      // Act
      const starters = statements(template).filter(({ statement }) => actions(statement).includes('states:StartExecution'));

      // Assess
      expect(json.Resources[functionId].Properties.Environment.Variables.TASK_STATE_MACHINE_ARN).toEqual(arn);
      expect(starters.map(({ roles, statement }) => ({ roles, resources: resources(statement) }))).toEqual(
        expect.arrayContaining([
          { roles: [{ Ref: engineRoleId }], resources: [arn] },
          { roles: [{ Ref: apiRoleId }], resources: [arn] },
        ]),
      );
      expect(starters).toHaveLength(2);
    });

    it('receives the executions that failed, timed out or were aborted, to abandon their task', () => {
      // Prepare
      const stateMachine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!;
      const name = stateMachine.Properties.StateMachineName as string;

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: {
            stateMachineArn: [{ 'Fn::Join': ['', Match.arrayWith([`:stateMachine:${name}`])] }],
            status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21_600 } })],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
        Principal: 'events.amazonaws.com',
      });
    });
  });

  describe('compute', () => {
    it('runs Batch on Fargate, one queue, and cancels jobs no compute environment can place', () => {
      // Assess
      template.resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
      template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
        Type: 'managed',
        ComputeResources: Match.objectLike({ Type: 'FARGATE', MaxvCpus: 256 }),
      });
      template.hasResourceProperties('AWS::Batch::JobQueue', {
        ComputeEnvironmentOrder: [{ ComputeEnvironment: Match.anyValue(), Order: 1 }],
        JobStateTimeLimitActions: Match.arrayWith([Match.objectLike({ Action: 'CANCEL', State: 'RUNNABLE', MaxTimeSeconds: 600 })]),
      });
    });

    it('has an ECS cluster with Container Insights', () => {
      // Assess
      template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('creates a VPC of 2 public subnets, no NAT gateway, with flow logs', () => {
      // Assess
      template.resourceCountIs('AWS::EC2::VPC', 1);
      template.resourceCountIs('AWS::EC2::Subnet', 2);
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.hasResourceProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
      template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    });

    it('gives tasks a security group with no inbound rule', () => {
      // Assess
      const [group] = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
      expect(group?.Properties.SecurityGroupIngress).toBeUndefined();
      template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    });

    it('keeps task output in a log group with a retention', () => {
      // Assess
      template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', Properties: { RetentionInDays: 30 } });
    });
  });

  describe('IAM', () => {
    it('has no statement whose action contains a wildcard', () => {
      // Act
      const wildcards = statements(template).flatMap(({ owner, statement }) => actions(statement).filter((a) => a.includes('*')).map((a) => `${owner}: ${a}`));

      // Assess
      expect(wildcards).toEqual([]);
    });

    it('passes only the task execution role and sundial-task-* roles, and only to ECS tasks (or Batch)', () => {
      // Prepare
      const executionRole = { 'Fn::GetAtt': [logicalId(template, 'AWS::IAM::Role', 'ExecutionRole'), 'Arn'] };
      const taskRoles = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':role/sundial-task-*']] };

      // Act
      const passRoles = statements(template).filter(({ statement }) => actions(statement).includes('iam:PassRole'));

      // Assess: the engine function (registers definitions) and the state machine (runs ECS tasks)
      expect(passRoles.map(({ owner }) => owner).sort()).toEqual([
        logicalId(template, 'AWS::IAM::Policy', 'EngineHandlerRoleDefaultPolicy'),
        logicalId(template, 'AWS::IAM::Policy', 'TaskStateMachineRoleDefaultPolicy'),
      ]);
      for (const { statement } of passRoles) {
        expect(actions(statement)).toEqual(['iam:PassRole']);
        expect(resources(statement)).toEqual([executionRole, taskRoles]);
        expect([statement.Condition.StringEquals['iam:PassedToService']].flat()).toContain('ecs-tasks.amazonaws.com');
        expect(Object.keys(statement.Condition)).toEqual(['StringEquals']);
      }
    });

    it('lets the state machine run only sundial-* definitions, ECS tasks only on its cluster', () => {
      // Prepare
      const policy = template.findResources('AWS::IAM::Policy')[logicalId(template, 'AWS::IAM::Policy', 'TaskStateMachineRoleDefaultPolicy')]!;
      const byAction = (action: string) => policy.Properties.PolicyDocument.Statement.find((s: Json) => actions(s).includes(action));
      const clusterArn = { 'Fn::GetAtt': [logicalId(template, 'AWS::ECS::Cluster', 'EngineCompute'), 'Arn'] };

      // Assess
      expect(JSON.stringify(byAction('batch:SubmitJob').Resource)).toContain(':job-definition/sundial-*');
      expect(byAction('ecs:RunTask').Condition).toEqual({ ArnEquals: { 'ecs:cluster': clusterArn } });
      expect(JSON.stringify(byAction('ecs:RunTask').Resource)).toContain(':task-definition/sundial-*');
      expect(JSON.stringify(byAction('events:PutRule').Resource)).toContain('rule/StepFunctionsGetEventsForBatchJobsRule');
      expect(JSON.stringify(byAction('events:PutRule').Resource)).toContain('rule/StepFunctionsGetEventsForECSTaskRule');
      expect(byAction('lambda:InvokeFunction').Resource).toEqual([
        { 'Fn::GetAtt': [functionId, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [functionId, 'Arn'] }, ':*']] },
      ]);
    });

    it('grantTo gives a function the engine environment, start/stop of executions and stop of attempts', () => {
      // Prepare
      const apiRoleId = logicalId(template, 'AWS::IAM::Role', 'ApiServiceRole');
      const apiStatements = statements(template).filter(({ roles }) => JSON.stringify(roles) === JSON.stringify([{ Ref: apiRoleId }]));

      // Assess
      expect(apiStatements.flatMap(({ statement }) => actions(statement)).sort()).toEqual([
        'batch:ListJobs',
        'batch:TerminateJob',
        'ecs:ListTasks',
        'ecs:StopTask',
        'states:DescribeExecution',
        'states:StartExecution',
        'states:StopExecution',
      ]);
      const stop = apiStatements.find(({ statement }) => actions(statement).includes('states:StopExecution'))!.statement;
      expect(JSON.stringify(stop.Resource)).toMatch(/:execution:Test-Engine-[0-9A-F]{8}-Tasks:\*"/);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Environment: { Variables: Match.objectLike({ TASK_STATE_MACHINE_ARN: Match.anyValue(), ECS_CLUSTER_ARN: Match.anyValue() }) },
      });
    });
  });

  describe('cdk-nag AwsSolutions', () => {
    it('reports no unacknowledged finding on the engine and its compute', () => {
      // Act
      const findings = nagFindings((app) => engineStack(app))
        // The table, the secret and the stand-in API function are fixtures of this test, not the engine's.
        .filter((finding) => finding.path.includes('/Engine/'));

      // Assess
      expect(findings, JSON.stringify(findings, null, 2)).toEqual([]);
    });
  });
});

describe('extractDefinition', () => {
  const template = {
    Resources: {
      Fn1: { Type: 'AWS::Lambda::Function', Properties: {} },
      Queue1: { Type: 'AWS::Batch::JobQueue', Properties: {} },
      Sg1: { Type: 'AWS::EC2::SecurityGroup', Properties: {} },
      MyTaskStateMachine1: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          DefinitionString: {
            'Fn::Join': [
              '',
              [
                '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"',
                { 'Fn::GetAtt': ['Fn1', 'Arn'] },
                '","Parameters":{"Queue":"',
                { Ref: 'Queue1' },
                '","Group":"',
                { 'Fn::GetAtt': ['Sg1', 'GroupId'] },
                '","Where":"',
                { 'Fn::Sub': '${AWS::Region}/${AWS::AccountId}/${Fn1.Arn}' },
                '","Sub":"${Value}"},"End":true}}}',
              ],
            ],
          },
          DefinitionSubstitutions: { Value: { Ref: 'AWS::Partition' } },
        },
      },
      Other: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: '{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}' } },
    },
  };

  it('joins the definition with placeholders for what a deployment decides', () => {
    // Act
    const definition = extractDefinition(template) as Json;

    // Assess
    expect(definition.States.A).toEqual({
      Type: 'Task',
      Resource: 'arn:aws:lambda:local:000000000000:function:Fn1',
      Parameters: {
        Queue: 'arn:aws:batch:local:000000000000:job-queue/Queue1',
        Group: 'sg-Sg1',
        Where: 'local/000000000000/arn:aws:lambda:local:000000000000:function:Fn1',
        Sub: 'aws',
      },
      End: true,
    });
  });

  it('takes the placeholders it is given, and finds a state machine by another logical id', () => {
    // Act
    const other = extractDefinition(template, 'Other');
    const definition = extractDefinition(template, 'TaskStateMachine', { region: 'eu-west-1', account: '123456789012' }) as Json;

    // Assess
    expect(other).toEqual({ StartAt: 'B', States: { B: { Type: 'Succeed' } } });
    expect(definition.States.A.Resource).toBe('arn:aws:lambda:eu-west-1:123456789012:function:Fn1');
  });

  it('refuses a template without exactly one matching state machine', () => {
    // Assess
    expect(() => extractDefinition({ Resources: {} })).toThrow(DefinitionExtractionError);
    expect(() => extractDefinition(template, 'e')).toThrow('found 2 (MyTaskStateMachine1, Other)');
  });

  it('reads a template synthesized to disk the same as one in memory', () => {
    // Prepare
    const app = newApp();
    const { stack } = engineStack(app);
    const assembly = app.synth();

    // Act
    const fromDisk = extractDefinition(JSON.parse(readFileSync(join(assembly.directory, stack.templateFile), 'utf8')));

    // Assess
    expect(fromDisk).toEqual(extractDefinition(Template.fromStack(stack).toJSON()));
  });
});
