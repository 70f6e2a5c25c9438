/**
 * Roles that services assume, checked by evaluation (iam-simulate), not by reading the template:
 * - every role's trust policy, for the principal that really assumes it (found from what references
 *   the role in the template), with the request context AWS documents for that service;
 * - the state machine roles, for what their Task states call; the Scheduler role, for its target.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { definitionName } from '../../lambdas/adapters/batch-ecs';
import { DEFAULT_SHELL_IMAGE } from '../../lib/engine';
import type { AuthorizationRequest } from './actions';
import { evaluateIdentity, evaluateTrust, type Verdict } from './evaluate';
import { ACCOUNT, PARTITION, REGION, type ResolvedRole, type ResolvedTemplate, sundialTemplate } from './template';

let template: ResolvedTemplate;
beforeAll(async () => {
  template = await sundialTemplate();
}, 120_000);

const arn = (service: string, resource: string) => `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}`;

/** Who assumes a role, and with what request context. */
interface Assumer {
  principal: string;
  action: 'sts:AssumeRole' | 'sts:AssumeRoleWithWebIdentity';
  context: Record<string, string | string[]>;
  /** Where the template hands the role to it. */
  via: string;
}

const refOf = (value: unknown): string | undefined =>
  (value as { 'Fn::GetAtt'?: [string, string]; Ref?: string } | undefined)?.['Fn::GetAtt']?.[0] ?? (value as { Ref?: string } | undefined)?.Ref;

/**
 * The principals that assume each role, found from what in the template references it. The context
 * is what each service documents that it sends on `sts:AssumeRole`:
 * - Lambda: https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html (no source keys);
 * - Step Functions: aws:SourceArn = the state machine, aws:SourceAccount
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html);
 * - EventBridge Scheduler: aws:SourceArn = the *schedule group* ARN, aws:SourceAccount
 *   (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html);
 * - ECS tasks: aws:SourceAccount, aws:SourceArn = the task
 *   (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html);
 * - VPC flow logs: aws:SourceAccount, aws:SourceArn = the flow log
 *   (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html);
 * - Cognito identity pools: AssumeRoleWithWebIdentity with `cognito-identity.amazonaws.com:aud` = the
 *   pool id and `:amr` = authenticated (https://docs.aws.amazon.com/cognito/latest/developerguide/role-trust-and-permissions.html).
 */
function assumersOf(t: ResolvedTemplate, roleId: string): Assumer[] {
  const found: Assumer[] = [];
  const roleArn = t.role(roleId).arn;
  const taskArn = (cluster: string) => arn('ecs', `task/${cluster}/0123456789abcdef0123456789abcdef`);
  for (const [id, resource] of Object.entries(t.resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::Lambda::Function': {
        if (refOf(props.Role) === roleId) found.push({ principal: 'lambda.amazonaws.com', action: 'sts:AssumeRole', context: {}, via: `function ${id}` });
        // A role a function's code passes on (Scheduler's target role, Fargate's execution role).
        const env = t.resolve(props.Environment?.Variables ?? {}) as Record<string, string>;
        if (env.SCHEDULER_ROLE_ARN === roleArn) {
          const group = env.SCHEDULE_GROUP_NAME!;
          found.push({
            principal: 'scheduler.amazonaws.com',
            action: 'sts:AssumeRole',
            context: { 'aws:SourceArn': arn('scheduler', `schedule-group/${group}`), 'aws:SourceAccount': ACCOUNT },
            via: `SCHEDULER_ROLE_ARN of function ${id}`,
          });
        }
        for (const name of ['ECS_EXECUTION_ROLE_ARN', 'BATCH_EXECUTION_ROLE_ARN']) {
          if (env[name] === roleArn) {
            const cluster = (env.ECS_CLUSTER_ARN ?? '').split('/').at(-1) ?? '';
            found.push({
              principal: 'ecs-tasks.amazonaws.com',
              action: 'sts:AssumeRole',
              context: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': taskArn(cluster) },
              via: `${name} of function ${id}`,
            });
          }
        }
        break;
      }
      case 'AWS::StepFunctions::StateMachine':
        if (refOf(props.RoleArn) === roleId) {
          found.push({
            principal: 'states.amazonaws.com',
            action: 'sts:AssumeRole',
            context: { 'aws:SourceArn': String(t.resolve({ Ref: id })), 'aws:SourceAccount': ACCOUNT },
            via: `state machine ${id}`,
          });
        }
        break;
      case 'AWS::EC2::FlowLog':
        if (refOf(props.DeliverLogsPermissionArn) === roleId) {
          found.push({
            principal: 'vpc-flow-logs.amazonaws.com',
            action: 'sts:AssumeRole',
            context: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': arn('ec2', 'vpc-flow-log/fl-0123456789abcdef0') },
            via: `flow log ${id}`,
          });
        }
        break;
      case 'AWS::Cognito::IdentityPoolRoleAttachment':
        if (refOf(props.Roles?.authenticated) === roleId) {
          found.push({
            principal: 'cognito-identity.amazonaws.com',
            action: 'sts:AssumeRoleWithWebIdentity',
            context: {
              'cognito-identity.amazonaws.com:aud': String(t.resolve(props.IdentityPoolId)),
              'cognito-identity.amazonaws.com:amr': ['authenticated', 'cognito-idp.us-east-1.amazonaws.com/us-east-1_Example'],
            },
            via: `identity pool roles ${id}`,
          });
        }
        break;
    }
  }
  return found;
}

const failures = (verdicts: Verdict[]) => verdicts.filter((v) => !v.allowed).map((v) => v.describe);

describe('trust policies', () => {
  test('every role can be assumed by the principal that assumes it, with the context AWS sends', async () => {
    // Prepare
    const roles = template.roles();
    const orphans = roles.filter((role) => assumersOf(template, role.logicalId).length === 0).map((r) => r.path);

    // Act
    const verdicts: Verdict[] = [];
    for (const role of roles) {
      for (const who of assumersOf(template, role.logicalId)) verdicts.push(await evaluateTrust(role, who.principal, who.action, who.context));
    }

    // Assess
    expect(orphans, 'roles nothing in the template hands to a principal').toEqual([]);
    expect(failures(verdicts)).toEqual([]);
    expect(verdicts.length).toBeGreaterThanOrEqual(roles.length);
  });

  test('the Scheduler role trusts schedules of its own group only, in its own account', async () => {
    // Prepare
    const api = template.lambda('api');
    const role = template.roles().find((r) => r.arn === api.environment.SCHEDULER_ROLE_ARN)!;
    const group = api.environment.SCHEDULE_GROUP_NAME!;
    const context = (sourceArn: string, account = ACCOUNT) => ({ 'aws:SourceArn': sourceArn, 'aws:SourceAccount': account });

    // Act
    const own = await evaluateTrust(role, 'scheduler.amazonaws.com', 'sts:AssumeRole', context(arn('scheduler', `schedule-group/${group}`)));
    const otherGroup = await evaluateTrust(role, 'scheduler.amazonaws.com', 'sts:AssumeRole', context(arn('scheduler', 'schedule-group/other')));
    const otherAccount = await evaluateTrust(
      role,
      'scheduler.amazonaws.com',
      'sts:AssumeRole',
      context(`arn:${PARTITION}:scheduler:${REGION}:210987654321:schedule-group/${group}`, '210987654321'),
    );

    // Assess
    expect(own.allowed, own.describe).toBe(true);
    expect(otherGroup.allowed, otherGroup.describe).toBe(false);
    expect(otherAccount.allowed, otherAccount.describe).toBe(false);
  });
});

/** Evaluates `requests` against `role`, answering the failures. */
async function denied(role: ResolvedRole, who: string, requests: AuthorizationRequest[]): Promise<string[]> {
  const verdicts: Verdict[] = [];
  for (const request of requests) verdicts.push(await evaluateIdentity(role, who, request));
  return failures(verdicts);
}

describe('state machine and Scheduler roles', () => {
  test('the task state machine may do what each of its Task states calls', async () => {
    // Prepare
    const machine = template.stateMachine('Sundial/Sundial/Engine/TaskStateMachine/Resource');
    const engine = template.lambda('engine');
    const env = engine.environment;
    const clusterName = env.ECS_CLUSTER_ARN!.split('/').at(-1)!;
    // What Prepare hands the .sync steps (lambdas/adapters/batch-ecs.ts names the definitions).
    const jobDefinition = arn('batch', `job-definition/${definitionName('shell', DEFAULT_SHELL_IMAGE)}:1`);
    const taskDefinition = arn('ecs', `task-definition/${definitionName('ecs', 'alpine:3', '')}:1`);
    const taskRole = `arn:${PARTITION}:iam::${ACCOUNT}:role/sundial-task-reader`;
    const requests: AuthorizationRequest[] = [];
    const unknown: string[] = [];
    const tasks = Object.entries(machine.definition.States).flatMap(([name, state]) =>
      state.Type === 'Parallel' ? (state.Branches as { States: Record<string, any> }[]).flatMap((b) => Object.entries(b.States)) : [[name, state] as const],
    );

    for (const [name, state] of tasks) {
      if (state.Type !== 'Task') continue;
      const resource = String(state.Resource);
      if (resource === engine.arn) {
        requests.push({ action: 'lambda:InvokeFunction', resource });
      } else if (resource === `arn:${PARTITION}:states:::batch:submitJob.sync`) {
        // https://docs.aws.amazon.com/step-functions/latest/dg/batch-iam.html; SubmitJob is authorized on the
        // queue and on the job definition *with its revision* (https://docs.aws.amazon.com/batch/latest/userguide/iam-example-restrict-job-submission.html).
        requests.push(
          { action: 'batch:SubmitJob', resource: env.BATCH_JOB_QUEUE_ARN! },
          { action: 'batch:SubmitJob', resource: jobDefinition },
          { action: 'batch:DescribeJobs', resource: '*' },
          { action: 'batch:TerminateJob', resource: arn('batch', 'job/4a6c3e1f-0000-4000-8000-000000000000') },
          ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({
            action,
            resource: arn('events', 'rule/StepFunctionsGetEventsForBatchJobsRule'),
          })),
        );
      } else if (resource === `arn:${PARTITION}:states:::ecs:runTask.sync`) {
        // https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html
        const cluster = String(state.Parameters.Cluster);
        const task = arn('ecs', `task/${clusterName}/0123456789abcdef0123456789abcdef`);
        requests.push(
          { action: 'ecs:RunTask', resource: taskDefinition, context: { 'ecs:cluster': cluster } },
          { action: 'iam:PassRole', resource: env.ECS_EXECUTION_ROLE_ARN!, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          { action: 'iam:PassRole', resource: taskRole, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          { action: 'ecs:DescribeTasks', resource: task, context: { 'ecs:cluster': cluster } },
          { action: 'ecs:StopTask', resource: task, context: { 'ecs:cluster': cluster } },
          ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({
            action,
            resource: arn('events', 'rule/StepFunctionsGetEventsForECSTaskRule'),
          })),
        );
      } else {
        unknown.push(`${name}: ${resource}`);
      }
    }

    // Act
    const failed = await denied(machine.role, 'task state machine', requests);

    // Assess
    expect(unknown, 'Task states whose calls the harness does not know').toEqual([]);
    expect(failed).toEqual([]);
    expect(requests.map((r) => r.action)).toEqual(expect.arrayContaining(['lambda:InvokeFunction', 'batch:SubmitJob', 'ecs:RunTask']));
  });

  test('the tick state machine may invoke the engine function; the Scheduler role may start the tick state machine only', async () => {
    // Prepare
    const tick = template.stateMachine('Sundial/Sundial/Scheduling/TickStateMachine/Resource');
    const engine = template.lambda('engine');
    const env = template.lambda('api').environment;
    const schedulerRole = template.roles().find((r) => r.arn === env.SCHEDULER_ROLE_ARN)!;
    const taskMachine = template.stateMachine('Sundial/Sundial/Engine/TaskStateMachine/Resource');
    const tickTasks = Object.values(tick.definition.States).filter((s) => s.Type === 'Task');

    // Act
    const tickFailed = await denied(
      tick.role,
      'tick state machine',
      tickTasks.map((s) => ({ action: 'lambda:InvokeFunction', resource: String(s.Resource) })),
    );
    const schedulerFailed = await denied(schedulerRole, 'Scheduler role', [{ action: 'states:StartExecution', resource: env.TICK_STATE_MACHINE_ARN! }]);
    const other = await evaluateIdentity(schedulerRole, 'Scheduler role', { action: 'states:StartExecution', resource: taskMachine.arn });

    // Assess
    expect(tickTasks.map((s) => s.Resource)).toEqual([engine.arn]);
    expect(tickFailed).toEqual([]);
    expect(env.TICK_STATE_MACHINE_ARN).toBe(tick.arn);
    expect(schedulerFailed).toEqual([]);
    expect(other.allowed, other.describe).toBe(false);
  });

  test.each([
    ['task', 'Sundial/Sundial/Engine/TaskStateMachine/Resource'],
    ['tick', 'Sundial/Sundial/Scheduling/TickStateMachine/Resource'],
  ])('the %s state machine may deliver its logs and traces', async (_name, path) => {
    // Prepare: what Step Functions calls for CloudWatch Logs delivery and X-Ray, on "*"
    // (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy,
    // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html)
    const machine = template.stateMachine(path);
    const logs = ['CreateLogDelivery', 'GetLogDelivery', 'UpdateLogDelivery', 'DeleteLogDelivery', 'ListLogDeliveries', 'PutResourcePolicy', 'DescribeResourcePolicies', 'DescribeLogGroups'];
    const xray = ['PutTraceSegments', 'PutTelemetryRecords', 'GetSamplingRules', 'GetSamplingTargets'];
    const requests = [...logs.map((a) => `logs:${a}`), ...xray.map((a) => `xray:${a}`)].map((action) => ({ action, resource: '*' }));

    // Act
    const failed = await denied(machine.role, `${path} role`, requests);

    // Assess
    expect(machine.logging, 'the machine logs (else this test asks for nothing it needs)').toBe(true);
    expect(failed).toEqual([]);
  });
});
