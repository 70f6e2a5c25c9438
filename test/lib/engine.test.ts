/**
 * The engine and compute constructs in a minimal stack of their own (a TableV2, a Secret), so that
 * these tests do not depend on the foundation stack: how the engine composes the task state machine
 * (whose states test/lib/task-state-machine.test.ts checks), its IAM, Batch on Fargate and the ECS cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { STATE } from '../../lambdas/engine/contract';
import { DefinitionExtractionError, extractDefinition } from '../../lib/asl';
import { SundialEngine } from '../../lib/engine';
import { nagFindings, newApp } from './support';

type Json = Record<string, any>;

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
    it('is the engine’s TaskStateMachine (the local runtime finds it by that logical id), named per stack, logging to the engine’s group', () => {
      // Assess
      expect(logicalId(template, 'AWS::StepFunctions::StateMachine', 'TaskStateMachine')).toMatch(/^EngineTaskStateMachine[0-9A-F]{8}$/);
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: Match.stringLikeRegexp('^Test-Engine-[0-9A-F]{8}-Tasks$'),
        LoggingConfiguration: Match.objectLike({
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EngineStateMachineLogs'), 'Arn'] } } }],
        }),
      });
      // Named under /aws/vendedlogs/, made unique per stack created by the stack id's UUID.
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: {
          'Fn::Join': ['', [Match.stringLikeRegexp('^/aws/vendedlogs/states/Test-Engine-[0-9A-F]{8}-Tasks-$'), Match.objectLike({ 'Fn::Select': Match.anyValue() })]],
        },
        RetentionInDays: 30,
      });
    });

    it('runs Prepare and Record on the engine function, ECS tasks on the engine’s cluster (lib/task-state-machine.ts builds the rest)', () => {
      // Prepare
      const clusterId = logicalId(template, 'AWS::ECS::Cluster', 'EngineCompute');
      const ecsTask = (states[STATE.ecsAttempt]!.Branches as Array<{ States: Record<string, Json> }>)[0]!.States[STATE.runEcsTask]!;

      // Assess
      expect(states[STATE.prepare]!.Resource).toBe(functionArn);
      expect(states[STATE.record]!.Resource).toBe(functionArn);
      expect(ecsTask.Parameters.Cluster).toBe(`arn:aws:ecs:local:000000000000:cluster/${clusterId}`);
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

    it('grantTo gives a function the engine environment, start/stop of executions and stop of attempts, and the hand-off of fan-outs', () => {
      // Prepare
      const apiRoleId = logicalId(template, 'AWS::IAM::Role', 'ApiServiceRole');
      const apiStatements = statements(template).filter(({ roles }) => JSON.stringify(roles) === JSON.stringify([{ Ref: apiRoleId }]));

      // Assess
      expect(apiStatements.flatMap(({ statement }) => actions(statement)).sort()).toEqual([
        'batch:ListJobs',
        'batch:TerminateJob',
        'ecs:ListTasks',
        'ecs:StopTask',
        'lambda:InvokeFunction',
        'states:StartExecution',
        'states:StopExecution',
      ]);
      const stop = apiStatements.find(({ statement }) => actions(statement).includes('states:StopExecution'))!.statement;
      expect(JSON.stringify(stop.Resource)).toMatch(/:execution:Test-Engine-[0-9A-F]{8}-Tasks:\*"/);
      const handOff = apiStatements.find(({ statement }) => actions(statement).includes('lambda:InvokeFunction'))!.statement;
      expect(resources(handOff)).toEqual([{ 'Fn::GetAtt': [functionId, 'Arn'] }]);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Environment: { Variables: Match.objectLike({ TASK_STATE_MACHINE_ARN: Match.anyValue(), ECS_CLUSTER_ARN: Match.anyValue(), ENGINE_FUNCTION_NAME: { Ref: functionId } }) },
      });
    });

    it('lets the engine function hand the next step of a fan-out to itself, and only to itself, as a chain Lambda does not stop', () => {
      // Act
      const own = statements(template).filter(({ owner, statement }) => owner.includes('HandOffPolicy') && actions(statement).includes('lambda:InvokeFunction'));

      // Assess
      expect(own.map(({ statement }) => resources(statement))).toEqual([[{ 'Fn::GetAtt': [functionId, 'Arn'] }]]);
      template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('Sundial engine'), RecursiveLoop: 'Allow' });
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
