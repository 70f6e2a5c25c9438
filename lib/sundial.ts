import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from './nag';
import { SundialApi } from './api';
import { SundialConsole } from './console';
import { SundialEngine, type SundialEngineProps } from './engine';
import { NOTIFICATION_IDENTITY_CONTEXT, NOTIFICATION_SENDER_CONTEXT, PAGERDUTY_HOSTS_CONTEXT, SundialNotifications } from './notifications';
import { DEFAULT_RETENTION_DAYS } from '../lambdas/domain/retention';
import { applyRetention, SundialReaper } from './reaper';
import { SundialScheduling } from './scheduling';
import { SundialStore, type SundialStoreProps } from './store';
import { TaskTokens, type TaskTokensProps } from './task-tokens';

/** Options of the engine that {@link Sundial} passes through (the rest it wires itself). */
export type SundialEngineOptions = Pick<SundialEngineProps, 'compute' | 'vpc' | 'shellImage' | 'taskRoleArns' | 'jobQueueArns'>;

/** Properties of {@link Sundial}. */
export interface SundialProps {
  /**
   * Options of the engine: where attempts run, the shell image, the task roles and job queues
   * definitions may name.
   *
   * @default - a new VPC, Batch on Fargate and ECS cluster; roles named `sundial-task-*`
   */
  readonly engine?: SundialEngineOptions;

  /**
   * SES From address of notification emails.
   *
   * @default - context `sundial:notificationSender`, else none (email notifications are logged as not
   * deliverable and counted in the metrics)
   */
  readonly notificationSender?: string;

  /**
   * SES identity the sender is verified under (an address or its domain).
   *
   * @default - context `sundial:notificationIdentity`, else the sender address
   */
  readonly notificationIdentity?: string;

  /**
   * Hosts a PagerDuty `api_url` may name beside PagerDuty's Events API hosts (e.g. an egress proxy).
   *
   * @default - context `sundial:pagerDutyHosts` (comma-separated), else PagerDuty's hosts only
   */
  readonly pagerDutyHosts?: readonly string[];

  /**
   * Options of the table (removal policy, deletion protection, PITR, encryption).
   *
   * @default - retained, deletion-protected, PITR on, AWS-managed key
   */
  readonly store?: SundialStoreProps;

  /**
   * Options of the task-token signing key.
   *
   * @default - 64 random letters and digits, retained
   */
  readonly taskTokens?: TaskTokensProps;

  /**
   * Throttling of the API's `$default` stage.
   *
   * @default { rateLimit: 100, burstLimit: 200 }
   */
  readonly throttle?: ThrottleSettings;

  /**
   * Retention of every log group (functions and access logs).
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Days a finished run (its attempts, entries and slots) is kept before DynamoDB TTL deletes it;
   * definitions never expire. 0 keeps history for ever.
   *
   * @default 90
   */
  readonly retentionDays?: number;

  /**
   * Deploy the web console: S3 + CloudFront, Cognito sign-in, CORS on the API for its origin
   * ({@link SundialConsole}).
   *
   * @default true
   */
  readonly console?: boolean;
}

/**
 * The whole of Sundial as one construct, so it can live in any stack:
 * the table, the task-token key, the HTTP API with its two functions, and
 * the engine (task state machine, engine function, Batch and ECS).
 *
 * Extension points: later capabilities (engine, scheduling, notifications)
 * are constructs of their own, composed beside these and wired through the
 * members below, e.g. `sundial.store.grantTo(fn)`,
 * `sundial.taskTokens.grantTo(fn)`, `sundial.apiFunction.addEnvironment(...)`.
 */
export class Sundial extends Construct {
  /** The table and its grants (`grantTo`, `grantReadTo`). */
  public readonly store: SundialStore;

  /** The task-token signing key and its grant (`grantTo`). */
  public readonly taskTokens: TaskTokens;

  /** The HTTP API, its stage, routes and functions. */
  public readonly api: SundialApi;

  /** The task state machine, the engine function and where attempts run. */
  public readonly engine: SundialEngine;

  /** The schedule group, the tick state machine and the Scheduler role. */
  public readonly scheduling: SundialScheduling;

  /** The notify function (SES email, PagerDuty, webhooks) and its dead-letter queue. */
  public readonly notifications: SundialNotifications;

  /** The reaper's schedule: attempts their executor lost end failed with a reason. */
  public readonly reaper: SundialReaper;

  /** The web console (S3 + CloudFront, Cognito sign-in), unless `console: false`. */
  public readonly console?: SundialConsole;

  constructor(scope: Construct, id: string, props: SundialProps = {}) {
    super(scope, id);

    this.store = new SundialStore(this, 'Store', props.store);
    this.taskTokens = new TaskTokens(this, 'TaskTokens', props.taskTokens);
    this.api = new SundialApi(this, 'Api', {
      store: this.store,
      taskTokens: this.taskTokens,
      throttle: props.throttle,
      logRetention: props.logRetention,
    });
    this.engine = new SundialEngine(this, 'Engine', {
      ...props.engine,
      table: this.store.table,
      tokenSecret: this.taskTokens.secret,
      callbackUrl: this.api.url,
      logRetention: props.logRetention,
    });
    // The API triggers, kills and retries runs: it starts and stops executions and attempts.
    this.engine.grantTo(this.api.apiFunction);

    this.scheduling = new SundialScheduling(this, 'Scheduling', {
      engineFunction: this.engine.engineFunction,
      logRetention: props.logRetention,
    });
    // PUT, DELETE, pause and resume manage a definition's schedule; so does the end of a continuous
    // definition's run, wherever it ends (Record in the engine, a kill in the API).
    this.scheduling.grantManageSchedules(this.api.apiFunction);
    this.scheduling.grantManageSchedules(this.engine.engineFunction);
    // A tick of an overlap_action "terminate" definition kills the run in progress from the engine.
    this.engine.grantStartAndStop(this.engine.engineFunction);
    this.engine.grantStopAttempts(this.engine.engineFunction);

    this.notifications = new SundialNotifications(this, 'Notifications', {
      store: this.store,
      pagerDutyHosts: props.pagerDutyHosts ?? this.node.tryGetContext(PAGERDUTY_HOSTS_CONTEXT),
      sender: props.notificationSender ?? this.node.tryGetContext(NOTIFICATION_SENDER_CONTEXT),
      senderIdentity: props.notificationIdentity ?? this.node.tryGetContext(NOTIFICATION_IDENTITY_CONTEXT),
      logRetention: props.logRetention,
    });
    // The engine ends runs (a run's last task) and so does the API (kill): both hand them to the notify function.
    this.notifications.grantNotify(this.engine.engineFunction);
    this.notifications.grantNotify(this.api.apiFunction);
    // The API refuses at PUT a PagerDuty api_url that the notify function would refuse to call.
    this.notifications.sharePagerDutyHosts(this.api.apiFunction);
    // GET /api/tasks/{task_id}/output reads the attempt's awslogs stream, named by DescribeJobs (Batch).
    this.grantReadTaskOutput(this.api.apiFunction);

    this.reaper = new SundialReaper(this, 'Reaper', { engineFunction: this.engine.engineFunction, stateMachineArn: this.engine.stateMachineArn });
    // Every function that writes run history sets its expiry: the engine and the API end runs (a run's
    // last task, a kill), the callbacks function writes entries that expire with their run, the notify
    // function its deliveries. One left out would fall back to the default, whatever was deployed.
    applyRetention(
      [this.engine.engineFunction, this.api.apiFunction, this.api.callbacksFunction, this.notifications.notifyFunction],
      props.retentionDays ?? DEFAULT_RETENTION_DAYS,
    );

    if (props.console ?? true) {
      this.console = new SundialConsole(this, 'Console', { api: this.api, logRetention: props.logRetention });
      this.notifications.linkRunsTo(this.console.url);
    }
  }

  private grantReadTaskOutput(fn: NodejsFunction): void {
    const logGroup = this.engine.compute.taskLogGroup;
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['logs:GetLogEvents'], resourceArns: [`${logGroup.logGroupArn}`] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['batch:DescribeJobs'], resourceArns: ['*'] });
    if (fn.role) {
      acknowledgeWildcardResources(
        fn.role,
        ['*', logGroup.logGroupArn],
        'Task output: batch:DescribeJobs supports no resource but "*" (it names the log stream of a job); ' +
          'logs:GetLogEvents is on the task log group\'s streams only (log-group:<task logs>:*).',
      );
    }
  }

  /** The DynamoDB table. */
  public get table(): dynamodb.TableV2 {
    return this.store.table;
  }

  /** The secret holding the HMAC key of task tokens. */
  public get tokenSecret(): secretsmanager.Secret {
    return this.taskTokens.secret;
  }

  /** Base URL of the API, without a trailing slash; this is `SUNDIAL_URL` for tasks. */
  public get apiUrl(): string {
    return this.api.url;
  }

  /** Function serving operator routes and metrics. */
  public get apiFunction(): NodejsFunction {
    return this.api.apiFunction;
  }

  /** Function serving task callbacks. */
  public get callbacksFunction(): NodejsFunction {
    return this.api.callbacksFunction;
  }
}
