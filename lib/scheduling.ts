import { Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SCHEDULER_ENV } from '../lambdas/functions/environment';
import { LAMBDA_SERVICE_ERRORS, lambdaStepTimeout, namedStateMachine } from './step-functions';
import { acknowledgeWildcardResources } from './nag';

/** Properties of {@link SundialScheduling}. */
export interface SundialSchedulingProps {
  /** The engine Lambda: the tick state machine hands it each tick (`{action: "tick", …}`). */
  readonly engineFunction: lambda.IFunction;

  /**
   * Retention of the tick state machine's log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log group when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Schedules of process definitions on EventBridge Scheduler (docs/SCHEDULES.md):
 * - a schedule group holding one schedule per scheduled definition, created, updated, disabled and
 *   deleted at run time by the API and engine functions ({@link grantManageSchedules});
 * - the tick state machine (Express: one Lambda step), the target of every schedule; it hands
 *   `{process_definition_name, scheduled_time}` and its execution id to the engine Lambda's `tick`;
 * - the role EventBridge Scheduler assumes, which may start that state machine and nothing else.
 */
export class SundialScheduling extends Construct {
  /** The schedule group (deleting it deletes its schedules). */
  public readonly scheduleGroup: scheduler.ScheduleGroup;

  /** Name of the schedule group. */
  public readonly scheduleGroupName: string;

  /** The tick state machine. */
  public readonly tickStateMachine: sfn.StateMachine;

  /**
   * ARN of the tick state machine, built from its name rather than referenced: the engine function
   * carries it, and the machine references the engine function.
   */
  public readonly tickStateMachineArn: string;

  /** The role EventBridge Scheduler assumes to start the tick state machine. */
  public readonly schedulerRole: iam.Role;

  /** Log group of the tick state machine. */
  public readonly tickLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SundialSchedulingProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.scheduleGroupName = Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Group', {
      scheduleGroupName: this.scheduleGroupName,
      // Schedules are derived from the definitions in the table: nothing to keep when the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const { name: tickName, arn: tickArn, logGroupName: tickLogGroupName } = namedStateMachine(this, 'Ticks');
    this.tickStateMachineArn = tickArn;

    const tick = new tasks.LambdaInvoke(this, 'Tick', {
      stateName: 'Tick',
      lambdaFunction: props.engineFunction,
      taskTimeout: lambdaStepTimeout(props.engineFunction),
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        action: 'tick',
        process_definition_name: sfn.JsonPath.stringAt('$.process_definition_name'),
        scheduled_time: sfn.JsonPath.stringAt('$.scheduled_time'),
        // Retries of this step carry on the tick's claim; another delivery of the tick is a duplicate.
        owner: sfn.JsonPath.stringAt('$$.Execution.Id'),
      }),
      retryOnServiceExceptions: false,
    });
    tick.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 });
    // The tick is idempotent for its owner (claim, stable run id, conditional reservation).
    tick.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(3), maxAttempts: 2, backoffRate: 2 });

    this.tickLogGroup = new logs.LogGroup(this, 'TickLogs', {
      logGroupName: tickLogGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.tickStateMachine = new sfn.StateMachine(this, 'TickStateMachine', {
      stateMachineName: tickName,
      comment: 'Sundial: one tick of a process definition schedule, handed to the engine (docs/SCHEDULES.md)',
      // Express: one short Lambda step per tick, at a fraction of a Standard execution's price.
      stateMachineType: sfn.StateMachineType.EXPRESS,
      definitionBody: sfn.DefinitionBody.fromChainable(tick),
      timeout: Duration.minutes(5),
      tracingEnabled: true,
      logs: { destination: this.tickLogGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    acknowledgeWildcardResources(
      this.tickStateMachine.role,
      ['*', `${props.engineFunction.functionArn}:*`],
      'The tick state machine invokes the engine function (CDK grants its versions, <arn>:*); log delivery and X-Ray ' +
        'support no resource but "*".',
    );

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: starts the Sundial tick state machine, nothing else',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          // Scheduler sends the schedule *group* ARN as aws:SourceArn: a schedule ARN or a name prefix
          // here never matches, and no schedule could start the tick state machine. Enforced by
          // test/iam/roles.test.ts. https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html
          ArnEquals: { 'aws:SourceArn': this.scheduleGroupArn() },
        },
      }),
    });
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.tickStateMachineArn] }),
    );
  }

  /**
   * Lets `fn` manage the schedules of definitions (PUT, DELETE, pause, resume, a continuous run's next
   * tick) in this group, and pass the Scheduler role to EventBridge Scheduler only; sets the variables
   * `SCHEDULER_ENV` names.
   */
  public grantManageSchedules(fn: lambda.Function): void {
    fn.addEnvironment(SCHEDULER_ENV.groupName, this.scheduleGroupName);
    fn.addEnvironment(SCHEDULER_ENV.roleArn, this.schedulerRole.roleArn);
    fn.addEnvironment(SCHEDULER_ENV.tickStateMachineArn, this.tickStateMachineArn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'],
        resources: [this.scheduleArns()],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    acknowledgeWildcardResources(
      fn.role ?? fn,
      [this.scheduleArns()],
      'Schedules are named after process definitions at run time; the grant covers only this schedule group (schedule/<group>/*).',
    );
  }

  /** ARN of the schedule group, built from its name (no reference: the role needs no dependency on the group). */
  public scheduleGroupArn(): string {
    return Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: this.scheduleGroupName });
  }

  /** ARNs of the schedules of this group. */
  public scheduleArns(): string {
    return Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.scheduleGroupName}/*` });
  }
}
