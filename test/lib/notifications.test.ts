/**
 * The notifications construct: the notify function may send email only from the configured identity
 * and address, is invoked asynchronously by the functions that end runs (and only by them), parks
 * what it could not handle in a dead-letter queue, and leaves cdk-nag with nothing to report.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it, test } from 'vitest';
import { InvalidNotificationSenderError, PAGERDUTY_HOSTS_CONTEXT, Sundial, SundialNotifications, type SundialNotificationsProps } from '../../lib/index';
import { actionsOf, allPolicyStatements, logicalIdByPath, nagFindings, newApp } from './support';

const SENDER = 'sundial@example.com';

/** A Sundial (which composes its notifications and lets the engine and API functions notify). */
function build(app = newApp(), props: Pick<SundialNotificationsProps, 'sender' | 'senderIdentity'> = { sender: SENDER }) {
  const stack = new Stack(app, 'Notified');
  const sundial = new Sundial(stack, 'Sundial', { notificationSender: props.sender, notificationIdentity: props.senderIdentity });
  return { stack, sundial, notifications: sundial.notifications };
}

function synth(props?: Pick<SundialNotificationsProps, 'sender' | 'senderIdentity'>) {
  const { stack, notifications } = build(newApp(), props);
  return { template: Template.fromStack(stack), notifications };
}

/** Statements (with their owner) that name any SES action. */
function sesStatements(template: Template) {
  return allPolicyStatements(template).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('ses:')));
}

/** Every policy owner's role ids that a statement's policy is attached to. */
function rolesOfPolicy(template: Template, policyId: string): unknown[] {
  return template.findResources('AWS::IAM::Policy')[policyId]?.Properties.Roles ?? [];
}

describe('SES permission', () => {
  it('lets only the notify function send, to any identity (the SES sandbox checks recipients too), only as the configured address', () => {
    // Prepare
    const { template } = synth();
    const notifyRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Notifications/Handler/Role/Resource');

    // Act
    const statements = sesStatements(template);

    // Assess
    expect(statements).toHaveLength(1);
    const [{ owner, statement }] = statements as [(typeof statements)[number]];
    expect(rolesOfPolicy(template, owner)).toEqual([{ Ref: notifyRoleId }]);
    expect(statement).toEqual({
      Effect: 'Allow',
      Action: ['ses:SendEmail', 'ses:SendRawEmail'],
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':identity/*']],
      },
      Condition: { StringEquals: { 'ses:FromAddress': SENDER } },
    });
  });

  it('knows the domain identity when the sender is verified under its domain, still bound to the address', () => {
    // Act
    const { template, notifications } = synth({ sender: SENDER, senderIdentity: 'example.com' });

    // Assess
    const statements = sesStatements(template);
    expect(statements).toHaveLength(1);
    const statement = statements[0]!.statement;
    expect(JSON.stringify(statement.Resource)).toContain(':identity/*"');
    expect(statement.Condition).toEqual({ StringEquals: { 'ses:FromAddress': SENDER } });
    expect(JSON.stringify(Stack.of(notifications).resolve(notifications.senderIdentityArn))).toContain(':identity/example.com"');
  });

  it('grants no SES action at all and sets no sender when none is configured', () => {
    // Act
    const { template } = synth({});

    // Assess
    expect(sesStatements(template)).toEqual([]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Sundial notifications'),
      Environment: { Variables: Match.objectLike({ NOTIFY_SENDER: Match.absent() }) },
    });
  });

  test.each([
    ['a display name', { sender: 'Sundial <sundial@example.com>' }, 'invalid notification sender'],
    ['no domain', { sender: 'sundial' }, 'invalid notification sender'],
    ['an identity that is neither address nor domain', { sender: SENDER, senderIdentity: 'not a domain' }, 'invalid notification senderIdentity'],
    ['an identity without a sender', { senderIdentity: 'example.com' }, 'invalid notification senderIdentity'],
  ])('refuses %s', (_case, props, message) => {
    // Act
    const act = () => synth(props);

    // Assess
    expect(act).toThrow(InvalidNotificationSenderError);
    expect(act).toThrow(message);
  });
});

describe('the notify function', () => {
  const { template } = synth();

  it('gets the sender, the table and the PagerDuty hosts, and no API URL (emails link to the console, not the SigV4 API)', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Sundial notifications'),
      Runtime: 'nodejs24.x',
      Timeout: 90,
      Environment: {
        Variables: Match.objectLike({
          NOTIFY_SENDER: SENDER,
          TABLE_NAME: Match.anyValue(),
          SUNDIAL_PAGERDUTY_HOSTS: 'events.pagerduty.com,events.eu.pagerduty.com',
          SUNDIAL_URL: Match.absent(),
        }),
      },
    });
  });

  it('is retried twice by Lambda, then parks the event in an encrypted, TLS-only dead-letter queue', () => {
    // Prepare
    const queueId = logicalIdByPath(template, 'AWS::SQS::Queue', '/Notifications/DeadLetterQueue/Resource');

    // Assess
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('is invoked by the engine and API functions only, on its own ARN (no version or alias wildcard)', () => {
    // Prepare
    const notifyFunctionId = logicalIdByPath(template, 'AWS::Lambda::Function', '/Notifications/Handler/Function/Resource');
    const engineRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Engine/Handler/Role/Resource');
    const apiRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Api/ApiHandler/Role/Resource');

    // Act
    const invokers = allPolicyStatements(template).filter(
      ({ statement }) => actionsOf(statement).includes('lambda:InvokeFunction') && JSON.stringify(statement.Resource).includes(`"${notifyFunctionId}"`),
    );

    // Assess: CDK merges a role's Invoke grants into one statement (the API function's also names the engine
    // function, for the hand-off of large runs), so each statement's resources naming this function are checked.
    const naming = invokers.flatMap(({ statement }) =>
      [statement.Resource].flat().filter((r: unknown) => JSON.stringify(r).includes(`"${notifyFunctionId}"`)),
    );
    expect(naming).toEqual([
      { 'Fn::GetAtt': [notifyFunctionId, 'Arn'] },
      { 'Fn::GetAtt': [notifyFunctionId, 'Arn'] },
    ]);
    const roles = invokers.flatMap(({ owner }) => rolesOfPolicy(template, owner));
    expect(roles).toHaveLength(2);
    expect(roles).toEqual(expect.arrayContaining([{ Ref: engineRoleId }, { Ref: apiRoleId }]));
    for (const suffix of ['/Engine/Handler/Function/Resource', '/Api/ApiHandler/Function/Resource']) {
      const fn = template.findResources('AWS::Lambda::Function')[logicalIdByPath(template, 'AWS::Lambda::Function', suffix)];
      expect(fn?.Properties.Environment.Variables.NOTIFY_FUNCTION_NAME).toEqual({ Ref: notifyFunctionId });
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding with notifications composed in', () => {
    // Act
    const findings = nagFindings((app) => build(app));

    // Assess
    expect(findings, JSON.stringify(findings, null, 2)).toEqual([]);
  });
});

/** The environment variables of the function at `pathSuffix`. */
function envOf(template: Template, pathSuffix: string): Record<string, unknown> {
  return template.findResources('AWS::Lambda::Function')[logicalIdByPath(template, 'AWS::Lambda::Function', pathSuffix)]?.Properties.Environment.Variables;
}

const NOTIFY_FN = '/Notifications/Handler/Function/Resource';
const API_FN = '/Api/ApiHandler/Function/Resource';

describe('PagerDuty hosts', () => {
  it('are extended by the cdk context value sundial:pagerDutyHosts, on the notify and API functions', () => {
    // Prepare: as `cdk deploy -c sundial:pagerDutyHosts=a.example.com,B.example.com` gives it
    const app = newApp();
    app.node.setContext(PAGERDUTY_HOSTS_CONTEXT, 'a.example.com,B.example.com');

    // Act
    const template = Template.fromStack(build(app).stack);

    // Assess
    const hosts = 'events.pagerduty.com,events.eu.pagerduty.com,a.example.com,b.example.com';
    expect(envOf(template, NOTIFY_FN).SUNDIAL_PAGERDUTY_HOSTS).toBe(hosts);
    expect(envOf(template, API_FN).SUNDIAL_PAGERDUTY_HOSTS).toBe(hosts);
  });

  it('refuse a context value that is not a list of host names, quoting it', () => {
    // Prepare
    const app = newApp();
    app.node.setContext(PAGERDUTY_HOSTS_CONTEXT, 'a.example.com,https://evil.example.com/x');

    // Act / Assess
    expect(() => build(app)).toThrow('got "https://evil.example.com/x"');
  });
});

describe('links to runs', () => {
  it('go to the console: the notify function gets the CloudFront URL', () => {
    // Prepare
    const { stack, sundial } = build();
    const template = Template.fromStack(stack);
    const distributionId = logicalIdByPath(template, 'AWS::CloudFront::Distribution', '/Console/Distribution/Resource');

    // Assess
    expect(sundial.console).toBeDefined();
    expect(envOf(template, NOTIFY_FN).SUNDIAL_CONSOLE_URL).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] });
  });

  it('are not made without a console (console: false): no console URL, and no API URL to link to instead', () => {
    // Prepare
    const stack = new Stack(newApp(), 'NoConsole');
    new Sundial(stack, 'Sundial', { console: false });

    // Act
    const env = envOf(Template.fromStack(stack), NOTIFY_FN);

    // Assess
    expect(env.SUNDIAL_CONSOLE_URL).toBeUndefined();
    expect(env.SUNDIAL_URL).toBeUndefined();
  });
});
