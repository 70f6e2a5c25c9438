import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NOTIFY_CONSOLE_URL_ENV, NOTIFY_FUNCTION_NAME_ENV, NOTIFY_SENDER_ENV, PAGERDUTY_HOSTS_ENV } from '../lambdas/functions/environment';
import { withPagerDutyHosts } from '../lambdas/domain/pagerduty-url';
import { acknowledgeWildcardResources } from './nag';
import type { SundialStore } from './store';
import { lambdaEntry, SundialFunction } from './sundial-function';

/** cdk context key of the SES From address (`cdk deploy -c sundial:notificationSender=sundial@example.com`). */
export const NOTIFICATION_SENDER_CONTEXT = 'sundial:notificationSender';

/** cdk context key of the SES identity the sender belongs to, when it is a domain (`example.com`). */
export const NOTIFICATION_IDENTITY_CONTEXT = 'sundial:notificationIdentity';

/**
 * cdk context key of the hosts a PagerDuty `api_url` may name beside PagerDuty's own Events API hosts
 * (`cdk deploy -c sundial:pagerDutyHosts=a.example.com,b.example.com`), e.g. an egress proxy.
 */
export const PAGERDUTY_HOSTS_CONTEXT = 'sundial:pagerDutyHosts';

/** A sender or identity that SES could not send from. */
export class InvalidNotificationSenderError extends Error {
  constructor(what: 'sender' | 'senderIdentity', value: string, expected: string) {
    super(`invalid notification ${what}: expected ${expected}, got ${JSON.stringify(value)}`);
    this.name = 'InvalidNotificationSenderError';
  }
}

const EMAIL_ADDRESS = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;
const DOMAIN = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

/** Properties of {@link SundialNotifications}. */
export interface SundialNotificationsProps {
  /** The Sundial table: runs and definitions are read, delivery marks and counters written. */
  readonly store: SundialStore;

  /**
   * Hosts (`host` or `host:port`) a PagerDuty `api_url` may name over https, beside PagerDuty's Events
   * API hosts (`events.pagerduty.com`, `events.eu.pagerduty.com`), which are always allowed.
   *
   * @default - PagerDuty's hosts only
   */
  readonly pagerDutyHosts?: string | readonly string[];

  /**
   * The SES From address of notification emails (a bare address, e.g. `sundial@example.com`), verified
   * in SES in the stack's region. The notify function may send from this address only.
   *
   * @default - none: email notifications are not delivered; each is logged and counted in
   * `sundial_notifications_failed{channel="email"}` (PagerDuty is unaffected)
   */
  readonly sender?: string;

  /**
   * The SES identity `sender` is verified under: the address itself, or its domain when the domain is
   * verified. The SES permission names this identity's ARN only.
   *
   * @default - the sender address
   */
  readonly senderIdentity?: string;

  /**
   * How often Lambda retries a notify invocation that failed (the store could not be read) before the
   * event goes to the dead-letter queue.
   *
   * @default 2
   */
  readonly retryAttempts?: number;

  /**
   * Retention of the notify function's log group.
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
 * Notifications (docs/NOTIFICATIONS.md): the notify function, which decides and delivers the
 * notifications of a run that ended (SES email, PagerDuty Events API v2, webhooks), and its dead-letter queue.
 *
 * Functions that end runs (engine, API) hand it the run with an asynchronous invocation; give them the
 * right with {@link grantNotify}. Lambda queues the event, retries a failed invocation
 * (`retryAttempts`) and then sends the event to {@link deadLetterQueue}; deliveries themselves are
 * retried with backoff inside the function, and those that fail are logged and counted, never thrown.
 */
export class SundialNotifications extends Construct {
  /** The notify function. */
  public readonly notifyFunction: NodejsFunction;

  /** Events the notify function could not handle after Lambda's retries (kept 14 days). */
  public readonly deadLetterQueue: sqs.Queue;

  /** The SES From address, if emails may be sent. */
  public readonly sender?: string;

  /** ARN of the SES identity the function may send from, if any. */
  public readonly senderIdentityArn?: string;

  /** Every host a PagerDuty `api_url` may name (PagerDuty's, then `pagerDutyHosts`). */
  public readonly pagerDutyHosts: readonly string[];

  constructor(scope: Construct, id: string, props: SundialNotificationsProps) {
    super(scope, id);
    const sender = props.sender?.trim() || undefined;
    if (sender !== undefined && !Token.isUnresolved(sender) && !EMAIL_ADDRESS.test(sender)) {
      throw new InvalidNotificationSenderError('sender', sender, 'an email address such as sundial@example.com');
    }
    const identity = props.senderIdentity?.trim() || sender;
    if (
      props.senderIdentity !== undefined &&
      identity !== undefined &&
      !Token.isUnresolved(identity) &&
      !EMAIL_ADDRESS.test(identity) &&
      !DOMAIN.test(identity)
    ) {
      throw new InvalidNotificationSenderError('senderIdentity', identity, 'an email address or a domain');
    }
    if (props.senderIdentity !== undefined && sender === undefined) {
      throw new InvalidNotificationSenderError('senderIdentity', props.senderIdentity, 'a sender beside it');
    }
    this.sender = sender;
    this.pagerDutyHosts = withPagerDutyHosts(props.pagerDutyHosts);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue (on-failure destination) of the notify function: events land here ' +
        'after Lambda gave up on them, for an operator to inspect and redrive. A queue behind it would have no reader.',
    });

    const fn = new SundialFunction(this, 'Handler', {
      entry: lambdaEntry('notify'),
      description: 'Sundial notifications: decides and delivers email (SES), PagerDuty events and webhooks when a run ends',
      // Each delivery makes up to 4 attempts of up to 10 s with backoff in between; channels go in parallel.
      timeout: Duration.seconds(90),
      memorySize: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        [PAGERDUTY_HOSTS_ENV]: this.pagerDutyHosts.join(','),
        ...(sender ? { [NOTIFY_SENDER_ENV]: sender } : {}),
      },
    });
    this.notifyFunction = fn.function;
    // Notify reads the run and the definition's previous runs (runs-by-definition index, gsi1) and writes
    // its deliveries: no delete, no batch.
    props.store.grantTo(this.notifyFunction, {
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
      indexes: ['gsi1'],
    });
    this.notifyFunction.configureAsyncInvoke({
      retryAttempts: props.retryAttempts ?? 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    if (sender !== undefined && identity !== undefined) {
      this.senderIdentityArn = Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: identity });
      // In the SES sandbox, SES authorizes a send against the sender's identity *and* each recipient's
      // (recipients must be verified identities there), so a grant on the sender identity alone is
      // AccessDenied from a fresh account. Every identity, but only as this From address: the function
      // still cannot send as anyone else. Evaluated by test/iam/deployed-calls.test.ts.
      // https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html ("SES sandbox" note),
      // https://docs.aws.amazon.com/ses/latest/dg/verify-addresses-and-domains.html
      const identities = Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: '*' });
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [identities],
          conditions: { StringEquals: { 'ses:FromAddress': sender } },
        }),
      );
      acknowledgeWildcardResources(
        fn.role,
        [identities],
        'In the SES sandbox a send is authorized against each recipient identity too (identity/*); ' +
          'the statement is conditioned on ses:FromAddress, so the function sends only as the configured sender.',
      );
    }
  }

  /**
   * Links runs in emails and PagerDuty incidents to their page in the web console at `consoleUrl`
   * (`${consoleUrl}/#/run/{id}`). Without it, emails name the run's API path as text: the API takes
   * SigV4-signed requests only, so a link to it would open nothing in a browser.
   */
  public linkRunsTo(consoleUrl: string): void {
    this.notifyFunction.addEnvironment(NOTIFY_CONSOLE_URL_ENV, consoleUrl);
  }

  /**
   * Gives `fn` the PagerDuty URL rule of the notify function (`SUNDIAL_PAGERDUTY_HOSTS`), for a function
   * that validates definitions (the API: a PUT whose `api_url` the notify function would refuse is a 400).
   */
  public sharePagerDutyHosts(fn: lambda.Function): void {
    fn.addEnvironment(PAGERDUTY_HOSTS_ENV, this.pagerDutyHosts.join(','));
  }

  /**
   * Lets `fn` hand ended runs to the notify function: sets `NOTIFY_FUNCTION_NAME` and grants
   * `lambda:InvokeFunction` on the function's ARN only (no versions or aliases).
   */
  public grantNotify(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(NOTIFY_FUNCTION_NAME_ENV, this.notifyFunction.functionName);
    return iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.notifyFunction.functionArn],
    });
  }
}
