import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  ENGINE_FUNCTION_NAME_ENV,
  LAUNCHER_ENV,
  SUNDIAL_URL_ENV,
  TABLE_NAME_ENV,
  TASK_STATE_MACHINE_ARN_ENV,
  TOKEN_SECRET_ARN_ENV,
} from '../lambdas/functions/environment';
import { SundialCompute } from './compute';
import { acknowledgeWildcardResources } from './nag';
import { namedStateMachine } from './step-functions';
import { lambdaEntry, SundialFunction } from './sundial-function';
import { TaskStateMachine } from './task-state-machine';

/**
 * Image of `shell_script_command` jobs: Amazon Linux 2023 on ECR Public (multi-arch; no Docker Hub rate
 * limit), with sh, bash and curl (what the README's callback examples use).
 */
export const DEFAULT_SHELL_IMAGE = 'public.ecr.aws/amazonlinux/amazonlinux:2023';

/** Properties of {@link SundialEngine}. */
export interface SundialEngineProps {
  /** The Sundial table (definitions, runs, slots, task attempts). */
  readonly table: dynamodb.ITableV2;

  /** The secret holding the HMAC key that signs task tokens (`SUNDIAL_TASK_TOKEN`). */
  readonly tokenSecret: secretsmanager.ISecret;

  /** Base URL of the Sundial API, given to every attempt as `SUNDIAL_URL` (tasks call back to it). */
  readonly callbackUrl: string;

  /**
   * Where attempts run.
   *
   * @default - a new {@link SundialCompute} in `vpc`, with `logRetention`
   */
  readonly compute?: SundialCompute;

  /**
   * VPC of the compute created when `compute` is not given.
   *
   * @default - a new VPC (see {@link SundialCompute})
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Image of `shell_script_command` jobs, run as `sh -c <script>`.
   *
   * @default DEFAULT_SHELL_IMAGE
   */
  readonly shellImage?: string;

  /**
   * ARNs (wildcards allowed) of the IAM roles process definitions may name as `taskRoleArn`: the only
   * roles, beside the task execution role, that Sundial may pass to ECS. Each must trust
   * `ecs-tasks.amazonaws.com`.
   *
   * @default - roles of this account whose name starts with `sundial-task-`
   */
  readonly taskRoleArns?: string[];

  /**
   * ARNs of further Batch job queues `batch_image_command.job_queue` may name.
   *
   * @default - none: only the queue of `compute`
   */
  readonly jobQueueArns?: string[];

  /**
   * Retention of the engine's log groups (function, state machine) and of the compute created here.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log groups when they leave the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Where a grant's policy lands: the grantee's role when it is a construct (a function's role may live
 * beside the function, not below it), else the grantee itself if it is one.
 */
function policyScope(grantee: iam.IGrantable): Construct | undefined {
  if (Construct.isConstruct(grantee.grantPrincipal)) return grantee.grantPrincipal;
  return Construct.isConstruct(grantee) ? grantee : undefined;
}

/**
 * The engine: the task state machine ({@link TaskStateMachine}: one Standard execution per task of a
 * run, running all its attempts), the engine Lambda behind its `Prepare` and `Record` steps, where
 * attempts run, the IAM between them, and the rule that abandons executions that never reach `Record`.
 * docs/ENGINE.md explains the design.
 *
 * Functions that drive runs (the API: trigger, kill, retry) get what they need with {@link grantTo}.
 */
export class SundialEngine extends Construct {
  /** Batch, ECS, network, execution role and task log group. */
  public readonly compute: SundialCompute;

  /** The task state machine. */
  public readonly stateMachine: TaskStateMachine;

  /**
   * ARN of the task state machine, built from its generated name rather than referenced, so that the
   * engine function (which the definition references) can carry it without a dependency cycle.
   */
  public readonly stateMachineArn: string;

  /** The engine Lambda (`Prepare`, `Record`). */
  public readonly engineFunction: NodejsFunction;

  /** Log group of the state machine (ALL events, without execution data). */
  public readonly stateMachineLogGroup: logs.LogGroup;

  /** EventBridge rule sending executions that failed, timed out or were aborted to the engine function. */
  public readonly abandonRule: events.Rule;

  private readonly taskRoleArns: string[];
  private readonly jobQueueArns: string[];
  private readonly shellImage: string;

  constructor(scope: Construct, id: string, props: SundialEngineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.shellImage = props.shellImage ?? DEFAULT_SHELL_IMAGE;
    this.jobQueueArns = props.jobQueueArns ?? [];
    this.taskRoleArns = props.taskRoleArns ?? [
      stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: 'sundial-task-*' }),
    ];
    this.compute =
      props.compute ?? new SundialCompute(this, 'Compute', { vpc: props.vpc, logRetention, logRemovalPolicy });

    const { name: stateMachineName, arn: stateMachineArn, logGroupName: stateMachineLogGroupName } = namedStateMachine(this, 'Tasks');
    this.stateMachineArn = stateMachineArn;

    // ---- the engine Lambda ---------------------------------------------------------------------
    const handler = new SundialFunction(this, 'Handler', {
      entry: lambdaEntry('engine'),
      description: 'Sundial engine: Prepare and Record steps of the task state machine',
      timeout: Duration.seconds(30),
      logRetention,
      logRemovalPolicy,
      environment: {
        [SUNDIAL_URL_ENV]: props.callbackUrl,
        [TABLE_NAME_ENV]: props.table.tableName,
        [TOKEN_SECRET_ARN_ENV]: props.tokenSecret.secretArn,
        ...this.engineEnvironment(),
      },
    });
    this.engineFunction = handler.function;
    this.grantTable(props.table, this.engineFunction);
    props.tokenSecret.grantRead(this.engineFunction);
    this.grantRegisterDefinitions(this.engineFunction);
    // Record starts the executions of dependents. In a policy of its own, not the role's default policy
    // the function depends on: the state machine references the function, so that would be a cycle.
    new iam.Policy(this, 'StartTasksPolicy', {
      roles: [handler.role],
      statements: [new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachineArn] })],
    });
    // It hands the next step of a fan-out over a large run's tasks to itself (lambdas/engine/fan-out.ts):
    // a policy of its own too, as its own ARN in its default policy would be a cycle. Such a fan-out is a
    // chain of invocations of itself by design, a page further each and ending with the fan-out: Lambda's
    // recursive loop detection would stop it after 16 (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html).
    new iam.Policy(this, 'HandOffPolicy', {
      roles: [handler.role],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.engineFunction.functionArn] })],
    });
    (this.engineFunction.node.defaultChild as lambda.CfnFunction).recursiveLoop = 'Allow';

    // ---- the task state machine ------------------------------------------------------------------
    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: stateMachineLogGroupName,
      retention: logRetention,
      removalPolicy: logRemovalPolicy,
    });
    this.stateMachine = new TaskStateMachine(this, 'TaskStateMachine', {
      stateMachineName,
      engineFunction: this.engineFunction,
      ecs: this.compute,
      logGroup: this.stateMachineLogGroup,
    });
    this.grantRunAttempts(this.stateMachine.role);

    // An execution that fails (a step failing for good, States.Runtime, which no Catch catches), times
    // out or is stopped outside a kill never reaches Record: the engine abandons its task, failing the
    // attempt, so that the run still finishes. After a kill the task is complete already: nothing to do.
    this.abandonRule = new events.Rule(this, 'AbandonedExecutions', {
      description: 'Sundial: task executions that ended without recording their task',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [this.stateMachineArn], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
      targets: [new targets.LambdaFunction(this.engineFunction, { retryAttempts: 8, maxEventAge: Duration.hours(6) })],
    });

    this.acknowledgeWildcards(handler.role, this.stateMachine.role);
  }

  /**
   * Hands the engine to a function that drives runs (trigger, kill, retry) in one call: sets
   * `TASK_STATE_MACHINE_ARN`, the launcher's variables and `ENGINE_FUNCTION_NAME`, and grants
   * {@link grantStartAndStop}, {@link grantStopAttempts} and {@link grantHandOff}.
   */
  public grantTo(fn: lambda.Function): iam.Grant {
    for (const [name, value] of Object.entries(this.engineEnvironment())) fn.addEnvironment(name, value);
    fn.addEnvironment(ENGINE_FUNCTION_NAME_ENV, this.engineFunction.functionName);
    return this.grantStartAndStop(fn).combine(this.grantStopAttempts(fn)).combine(this.grantHandOff(fn));
  }

  /**
   * Lets `grantee` hand the engine function the fan-out over a large run's tasks (lambdas/engine/fan-out.ts):
   * `lambda:InvokeFunction` on that function alone, unqualified (no version or alias is invoked).
   */
  public grantHandOff(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.engineFunction.functionArn] });
  }

  /**
   * Lets `grantee` start task executions (`states:StartExecution` on the task state machine) and stop
   * them (`states:StopExecution` on its executions). Nothing describes an execution: the reaper lists the
   * running ones (lib/reaper.ts grants it).
   */
  public grantStartAndStop(grantee: iam.IGrantable): iam.Grant {
    const executions = this.executionArns();
    const policyHolder = policyScope(grantee);
    if (policyHolder) {
      acknowledgeWildcardResources(policyHolder, [executions], 'Task executions are named per run and task at run time: execution:<task state machine>:*.');
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['states:StartExecution'], resourceArns: [this.stateMachineArn] }).combine(
      iam.Grant.addToPrincipal({ grantee, actions: ['states:StopExecution'], resourceArns: [executions] }),
    );
  }

  /**
   * Lets `grantee` stop running attempts, as a kill does: find Batch jobs by name and terminate them,
   * find ECS tasks of the cluster by `startedBy` and stop them.
   */
  public grantStopAttempts(grantee: iam.IGrantable): iam.Grant {
    const cluster = this.compute.cluster;
    const onCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
    const policyHolder = policyScope(grantee);
    if (policyHolder) {
      acknowledgeWildcardResources(
        policyHolder,
        ['*', this.jobArns(), this.taskArns()],
        'A kill finds the attempt\'s Batch job by name (batch:ListJobs supports no resource but "*") and terminates it by id ' +
          '(job/*); it finds ECS tasks by startedBy (ecs:ListTasks, on this cluster only) and stops them (task/<cluster>/*).',
      );
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['batch:ListJobs'], resourceArns: ['*'] })
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['batch:TerminateJob'], resourceArns: [this.jobArns()] }))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['ecs:ListTasks'], resourceArns: ['*'], conditions: onCluster }))
      .combine(
        iam.Grant.addToPrincipal({ grantee, actions: ['ecs:StopTask'], resourceArns: [this.taskArns()], conditions: onCluster }),
      );
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Name of the task state machine (the last part of its ARN). */
  private stateMachineName(): string {
    return Stack.of(this).splitArn(this.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName ?? '';
  }

  /** What an `Engine` built from the environment needs beside the table, the key and the API URL. */
  private engineEnvironment(): Record<string, string> {
    const compute = this.compute;
    return {
      [TASK_STATE_MACHINE_ARN_ENV]: this.stateMachineArn,
      [LAUNCHER_ENV.batchJobQueueArn]: compute.jobQueue.jobQueueArn,
      [LAUNCHER_ENV.batchShellImage]: this.shellImage,
      [LAUNCHER_ENV.batchExecutionRoleArn]: compute.executionRole.roleArn,
      [LAUNCHER_ENV.batchLogGroup]: compute.taskLogGroup.logGroupName,
      [LAUNCHER_ENV.batchAssignPublicIp]: compute.assignPublicIp ? 'ENABLED' : 'DISABLED',
      [LAUNCHER_ENV.ecsClusterArn]: compute.cluster.clusterArn,
      [LAUNCHER_ENV.ecsExecutionRoleArn]: compute.executionRole.roleArn,
      [LAUNCHER_ENV.ecsLogGroup]: compute.taskLogGroup.logGroupName,
    };
  }

  /** Item reads and writes on the table (no streams, no control plane). */
  private grantTable(table: dynamodb.ITableV2, fn: lambda.Function): void {
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: [
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      // Items by key, and the one index the engine queries: the reaper's active runs (gsi3,
      // lambdas/store/keys.ts activeRuns). An index Query is authorized on the index's ARN, not the table's
      // (resource type "index": https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html);
      // test/iam/local-calls.test.ts evaluates every call the engine makes against this grant.
      resourceArns: [table.tableArn, `${table.tableArn}/index/gsi3`],
    });
    table.encryptionKey?.grantEncryptDecrypt(fn);
  }

  /** ARNs of job definitions Sundial registers (`sundial-<hash>:<revision>`). */
  private jobDefinitionArns(): string {
    return Stack.of(this).formatArn({ service: 'batch', resource: 'job-definition', resourceName: 'sundial-*' });
  }

  /** ARNs of ECS task definitions Sundial registers (`sundial-<hash>:<revision>`). */
  private taskDefinitionArns(): string {
    return Stack.of(this).formatArn({ service: 'ecs', resource: 'task-definition', resourceName: 'sundial-*' });
  }

  /** ARNs of Batch jobs (ids are given at submission). */
  private jobArns(): string {
    return Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' });
  }

  /** ARNs of the ECS tasks of the cluster. */
  private taskArns(): string {
    return Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.compute.cluster.clusterName}/*` });
  }

  /** ARNs of the executions of the task state machine. */
  private executionArns(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachineName()}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** The roles Sundial may hand to Fargate: the task execution role and the allowed task roles. */
  private passableRoles(): string[] {
    return [this.compute.executionRole.roleArn, ...this.taskRoleArns];
  }

  /** Prepare registers Batch job definitions and ECS task definitions, naming the roles they run with. */
  private grantRegisterDefinitions(fn: lambda.Function): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:RegisterJobDefinition'], resources: [this.jobDefinitionArns()] }));
    // These actions support no resource-level permission.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['batch:DescribeJobDefinitions', 'ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'],
        resources: ['*'],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: this.passableRoles(),
        // ECS checks PassRole on RegisterTaskDefinition for ecs-tasks; batch.amazonaws.com covers Batch,
        // should it check PassRole when a job definition names a job role.
        conditions: { StringEquals: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com', 'batch.amazonaws.com'] } },
      }),
    );
  }

  /** What the `.sync` steps need: submit, watch and cancel Batch jobs; run, watch and stop ECS tasks. */
  private grantRunAttempts(role: iam.IRole): void {
    const stack = Stack.of(this);
    const cluster = this.compute.cluster;
    const statements = [
      new iam.PolicyStatement({
        actions: ['batch:SubmitJob'],
        resources: [this.jobDefinitionArns(), this.compute.jobQueue.jobQueueArn, ...this.jobQueueArns],
      }),
      new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }),
      new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [this.jobArns()] }),
      new iam.PolicyStatement({
        actions: ['ecs:RunTask'],
        resources: [this.taskDefinitionArns()],
        conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
      }),
      new iam.PolicyStatement({ actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: [this.taskArns()] }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: this.passableRoles(),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
      // The managed rules through which .sync learns that a job or task finished.
      new iam.PolicyStatement({
        actions: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
        resources: [
          stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForBatchJobsRule' }),
          stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForECSTaskRule' }),
        ],
      }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }

  private acknowledgeWildcards(engineRole: iam.IRole, stateMachineRole: iam.IRole): void {
    acknowledgeWildcardResources(
      engineRole,
      ['*', this.jobDefinitionArns(), ...this.taskRoleArns],
      'Prepare registers definitions named at run time: Batch job definitions sundial-<hash> (job-definition/sundial-*) ' +
        'and ECS task definitions (RegisterTaskDefinition and the Describe calls support no resource but "*"). It may ' +
        'pass only the task execution role and the allowed task roles (sundial-task-* by default), to ECS/Batch only.',
    );
    acknowledgeWildcardResources(
      stateMachineRole,
      [
        '*',
        this.jobDefinitionArns(),
        this.taskDefinitionArns(),
        this.jobArns(),
        this.taskArns(),
        ...this.taskRoleArns,
        `${this.engineFunction.functionArn}:*`,
      ],
      'The .sync steps run definitions registered at run time (job-definition/sundial-*, task-definition/sundial-*, ' +
        'RunTask on this cluster only), watch and stop what they started (job/*, task/<cluster>/*; batch:DescribeJobs, ' +
        'logs delivery and X-Ray support no resource but "*"), pass only the execution role and the allowed task roles ' +
        '(to ecs-tasks only), and invoke the engine function (CDK grants its versions, <arn>:*).',
    );
  }
}
