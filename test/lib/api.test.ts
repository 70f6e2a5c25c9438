import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { SundialApi, SundialStore, TaskTokens } from '../../lib/index';
import { logicalIdByPath, newApp, synthSundial } from './support';

const FUNCTION_PATHS = { api: '/Api/ApiHandler/Function/Resource', callbacks: '/Api/CallbacksHandler/Function/Resource' };

describe('SundialApi', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();
  const functionId = (fn: keyof typeof FUNCTION_PATHS) =>
    logicalIdByPath(template, 'AWS::Lambda::Function', FUNCTION_PATHS[fn]);

  describe('functions', () => {
    it.each(['api', 'callbacks'] as const)('%s runs on nodejs24.x, arm64, ESM bundle, JSON logs', (fn) => {
      // Act
      const resource = template.toJSON().Resources[functionId(fn)];

      // Assess
      expect(resource.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' },
      });
    });

    it.each([
      ['api', 1024],
      ['callbacks', 512],
    ] as const)('%s has the memory its measured requests call for (%i MB, docs/PERFORMANCE.md)', (fn, memory) => {
      // Act
      const resource = template.toJSON().Resources[functionId(fn)];

      // Assess
      expect(resource.Properties.MemorySize).toBe(memory);
    });

    it.each(['api', 'callbacks'] as const)('%s gets the common environment and TABLE_NAME', (fn) => {
      // Act
      const variables = template.toJSON().Resources[functionId(fn)].Properties.Environment.Variables;

      // Assess
      expect(variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'sundial',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NODE_OPTIONS: '--enable-source-maps',
        TABLE_NAME: { Ref: logicalIdByPath(template, 'AWS::DynamoDB::GlobalTable', '/Store/Table/Resource') },
      });
    });

    it('gives TOKEN_SECRET_ARN to the callbacks function only', () => {
      // Act
      const secretId = logicalIdByPath(template, 'AWS::SecretsManager::Secret', '/TaskTokens/SigningKey/Resource');
      const env = (fn: keyof typeof FUNCTION_PATHS) =>
        template.toJSON().Resources[functionId(fn)].Properties.Environment.Variables;

      // Assess
      expect(env('callbacks').TOKEN_SECRET_ARN).toEqual({ Ref: secretId });
      expect(env('api')).not.toHaveProperty('TOKEN_SECRET_ARN');
    });

    it.each(['api', 'callbacks'] as const)('%s writes to its own log group, kept one month and retained', (fn) => {
      // Act
      const logGroupRef = template.toJSON().Resources[functionId(fn)].Properties.LoggingConfig.LogGroup;
      const logGroup = template.toJSON().Resources[logGroupRef.Ref];

      // Assess
      expect(logGroup).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30 },
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    });

    it('uses roles of its own without AWS managed policies (but CDK\'s own default-SG custom resource)', () => {
      // Assess: the one exception is the provider CDK adds to strip the VPC's default security group
      for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
        if (id.startsWith('CustomVpcRestrictDefaultSGCustomResourceProviderRole')) continue;
        expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
      }
    });
  });

  // Which routes are deployed, to which function, authorized how: routes.test.ts, against the handlers.
  describe('routes', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));

    it('leaves open only the metrics route, the five callbacks and the CORS preflight', () => {
      // Act
      const open = routes.filter((r) => r.Properties.AuthorizationType === 'NONE').map((r) => r.Properties.RouteKey);

      // Assess
      expect(open.sort()).toEqual([
        'GET /_internal_/metrics',
        'OPTIONS /{proxy+}',
        'POST /api/tasks/{task_id}/fail',
        'POST /api/tasks/{task_id}/log_entries',
        'POST /api/tasks/{task_id}/metadata',
        'POST /api/tasks/{task_id}/progress',
        'POST /api/tasks/{task_id}/succeed',
      ]);
    });
  });

  describe('stage', () => {
    it('is the auto-deployed $default stage, throttled at burst 200 / rate 100', () => {
      // Assess
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 },
      });
    });

    it('writes JSON access logs to a log group kept one month', () => {
      // Act
      const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
      const settings = stage?.Properties.AccessLogSettings;
      const logGroup = template.toJSON().Resources[settings.DestinationArn['Fn::GetAtt'][0]];

      // Assess
      expect(JSON.parse(settings.Format)).toMatchObject({
        requestId: '$context.requestId',
        routeKey: '$context.routeKey',
        status: '$context.status',
        userArn: '$context.identity.userArn',
      });
      expect(logGroup).toMatchObject({ Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
    });

    it('takes throttling and retention from props', () => {
      // Prepare, Act
      const custom = synthSundial({
        sundial: { throttle: { rateLimit: 5, burstLimit: 10 }, logRetention: RetentionDays.ONE_WEEK },
      }).template;

      // Assess
      custom.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5 },
      });
      const retentions = Object.values(custom.findResources('AWS::Logs::LogGroup')).map(
        (g) => g.Properties.RetentionInDays,
      );
      expect(retentions.length).toBeGreaterThanOrEqual(3);
      expect(new Set(retentions)).toEqual(new Set([7]));
    });
  });

  it('outputs the API URL without a trailing slash, so paths append as ${url}/api/...', () => {
    // Act
    const output = template.findOutputs('ApiUrl').ApiUrl;

    // Assess
    expect(output?.Value).toEqual({
      'Fn::GetAtt': [logicalIdByPath(template, 'AWS::ApiGatewayV2::Api', '/Api/HttpApi/Resource'), 'ApiEndpoint'],
    });
  });

  it('grants operators execute-api:Invoke on /api/* of any stage and method', () => {
    // Prepare
    const stack = new Stack(newApp(), 'Operators');
    const api = new SundialApi(stack, 'Api', {
      store: new SundialStore(stack, 'Store'),
      taskTokens: new TaskTokens(stack, 'TaskTokens'),
    });
    const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });

    // Act
    api.grantOperatorAccess(operator);

    // Assess
    const granted = Template.fromStack(stack);
    const apiId = logicalIdByPath(granted, 'AWS::ApiGatewayV2::Api', '/Api/HttpApi/Resource');
    granted.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalIdByPath(granted, 'AWS::IAM::Role', '/Operator/Resource') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'execute-api:Invoke',
            Resource: {
              'Fn::Join': ['', Match.arrayWith([':execute-api:', { Ref: apiId }, '/*/*/api/*'])],
            },
          },
        ],
      },
    });
  });
});
