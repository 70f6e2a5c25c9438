import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { writeConsoleSync } from '../../web/build';
import { actionsOf, allPolicyStatements, logicalIdByPath, synthSundial, tempDir } from './support';

describe('SundialConsole', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();
  const resources = template.toJSON().Resources as Record<string, any>;
  const filesBucketId = logicalIdByPath(template, 'AWS::S3::Bucket', '/Console/Files/Resource');
  const logBucketId = logicalIdByPath(template, 'AWS::S3::Bucket', '/Console/Logs/Resource');
  const distributionId = logicalIdByPath(template, 'AWS::CloudFront::Distribution', '/Console/Distribution/Resource');
  const identityPoolId = logicalIdByPath(template, 'AWS::Cognito::IdentityPool', '/Console/Identities');
  const operatorRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Console/OperatorRole/Resource');
  const httpApiId = logicalIdByPath(template, 'AWS::ApiGatewayV2::Api', '/Api/HttpApi/Resource');
  const consoleOrigin = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] };

  describe('files bucket', () => {
    it('is private, encrypted, SSL only, logged and retained', () => {
      // Prepare
      const bucket = resources[filesBucketId];

      // Assess
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        LoggingConfiguration: { DestinationBucketName: { Ref: logBucketId }, LogFilePrefix: 's3/' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    });

    it('lets only this distribution read it (origin access control), and only over TLS', () => {
      // Prepare
      const policy = Object.values(template.findResources('AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === filesBucketId);
      const statements: any[] = policy?.Properties.PolicyDocument.Statement ?? [];
      const allows = statements.filter((s) => s.Effect === 'Allow');

      // Assess
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      expect(allows).toEqual([
        expect.objectContaining({
          Action: 's3:GetObject',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
        }),
      ]);
      expect(JSON.stringify(allows[0].Condition)).toContain(`{"Ref":"${distributionId}"}`);
      template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
      template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
        OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
      });
    });
  });

  describe('CloudFront', () => {
    it('serves index.html over HTTPS only, from the bucket through OAC, with security headers and access logs', () => {
      // Prepare
      const config = resources[distributionId].Properties.DistributionConfig;

      // Assess
      expect(config.DefaultRootObject).toBe('index.html');
      expect(config.DefaultCacheBehavior).toMatchObject({
        ViewerProtocolPolicy: 'redirect-to-https',
        AllowedMethods: ['GET', 'HEAD'],
        ResponseHeadersPolicyId: { Ref: expect.any(String) },
      });
      expect(config.Origins).toEqual([
        expect.objectContaining({
          DomainName: { 'Fn::GetAtt': [filesBucketId, 'RegionalDomainName'] },
          OriginAccessControlId: expect.anything(),
          S3OriginConfig: { OriginAccessIdentity: '' },
        }),
      ]);
      expect(config.Logging).toEqual({ Bucket: { 'Fn::GetAtt': [logBucketId, 'RegionalDomainName'] }, Prefix: 'cloudfront/' });
    });

    it('sends a CSP limited to the region\'s APIs and Cognito, HSTS and DENY framing', () => {
      // Prepare
      const policy = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'))[0];
      const headers = policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);

      // Assess
      expect(csp).toContain("default-src 'none'; script-src 'self'");
      expect(csp).toContain('connect-src https://*.execute-api.');
      expect(csp).toContain(' https://cognito-idp.');
      expect(csp).toContain(' https://cognito-identity.');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(headers).toMatchObject({
        StrictTransportSecurity: { AccessControlMaxAgeSec: 31536000, Override: true },
        FrameOptions: { FrameOption: 'DENY' },
        ContentTypeOptions: { Override: true },
      });
    });

    it('deploys the files and a config.js naming the API and the Cognito ids, then invalidates the cache', () => {
      // Prepare
      const deployment = Object.values(template.findResources('Custom::CDKBucketDeployment'))[0];
      const markers = JSON.stringify(deployment?.Properties.SourceMarkers);

      // Assess
      expect(deployment?.Properties).toMatchObject({
        DestinationBucketName: { Ref: filesBucketId },
        DistributionId: { Ref: distributionId },
        DistributionPaths: ['/*'],
        Prune: true,
      });
      expect(deployment?.Properties.SourceObjectKeys).toHaveLength(2);
      expect(markers).toContain(`{"Fn::GetAtt":["${httpApiId}","ApiEndpoint"]}`);
      expect(markers).toContain(`{"Ref":"${identityPoolId}"}`);
      expect(markers).toContain(`{"Ref":"${logicalIdByPath(template, 'AWS::Cognito::UserPool', '/Console/Operators/Resource')}"}`);
    });

    it('gives the deployment function exact actions: its asset objects, the console bucket, this distribution', () => {
      // Prepare
      const roleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Console/DeployRole/Resource');
      const actions = allPolicyStatements(template)
        .filter(({ owner }) => JSON.stringify(resources[owner]?.Properties?.Roles ?? []).includes(roleId))
        .flatMap(({ statement }) => actionsOf(statement));

      // Assess
      expect(actions.sort()).toEqual([
        'cloudfront:CreateInvalidation',
        'cloudfront:GetInvalidation',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:DeleteObject',
        's3:GetObject',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ]);
      expect(resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    });
  });

  describe('sign-in', () => {
    it('has a user pool where only administrators create users, with a strong password policy', () => {
      // Assess
      template.hasResourceProperties('AWS::Cognito::UserPool', {
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        Policies: {
          PasswordPolicy: { MinimumLength: 14, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
        },
        MfaConfiguration: 'OPTIONAL',
        EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      });
      template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        AllowedOAuthFlowsUserPoolClient: false,
        PreventUserExistenceErrors: 'ENABLED',
      });
    });

    it('has an identity pool without unauthenticated identities, mapping signed-in users to the operator role only', () => {
      // Assess
      expect(resources[identityPoolId].Properties).toMatchObject({ AllowUnauthenticatedIdentities: false, AllowClassicFlow: false });
      template.resourceCountIs('AWS::Cognito::IdentityPoolRoleAttachment', 1);
      template.hasResourceProperties('AWS::Cognito::IdentityPoolRoleAttachment', {
        IdentityPoolId: { Ref: identityPoolId },
        Roles: Match.exact({ authenticated: { 'Fn::GetAtt': [operatorRoleId, 'Arn'] } }),
      });
    });

    it('lets the operator role be assumed only by authenticated identities of this identity pool', () => {
      // Assess
      expect(resources[operatorRoleId].Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRoleWithWebIdentity',
          Principal: { Federated: 'cognito-identity.amazonaws.com' },
          Condition: {
            StringEquals: { 'cognito-identity.amazonaws.com:aud': { Ref: identityPoolId } },
            'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
          },
        },
      ]);
    });

    it('lets the operator role do nothing but invoke the operator routes of this API', () => {
      // Prepare
      const statements = allPolicyStatements(template).filter(
        ({ owner }) => owner === operatorRoleId || JSON.stringify(resources[owner]?.Properties?.Roles ?? []).includes(`"${operatorRoleId}"`),
      );

      // Assess
      expect(resources[operatorRoleId].Properties.ManagedPolicyArns).toBeUndefined();
      expect(statements.map(({ statement }) => statement)).toEqual([
        {
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':', { Ref: httpApiId }, '/*/*/api/*'],
            ],
          },
        },
      ]);
    });
  });

  describe('CORS on the API', () => {
    it('allows the console origin only, with the SigV4 headers, and lets it read the next page cursor', () => {
      // Assess
      expect(resources[httpApiId].Properties.CorsConfiguration).toEqual({
        AllowOrigins: [consoleOrigin],
        AllowMethods: ['GET', 'PUT', 'POST', 'DELETE'],
        AllowHeaders: ['authorization', 'content-type', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
        ExposeHeaders: ['x-next-cursor'],
        MaxAge: 3600,
      });
    });

    it('lets preflight requests through without IAM (OPTIONS /{proxy+}); every other method keeps its authorization', () => {
      // Assess
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'OPTIONS /{proxy+}', AuthorizationType: 'NONE' });
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default', AuthorizationType: 'AWS_IAM' });
    });
  });

  it('outputs the console URL and the user pool id', () => {
    // Assess
    template.hasOutput('ConsoleUrl', { Value: consoleOrigin });
    template.hasOutput('ConsoleUserPoolId', { Value: { Ref: logicalIdByPath(template, 'AWS::Cognito::UserPool', '/Console/Operators/Resource') } });
  });

  it('is left out with console: false (no CloudFront, Cognito or CORS)', () => {
    // Act
    const { template: bare } = synthSundial({ sundial: { console: false } });

    // Assess
    bare.resourceCountIs('AWS::CloudFront::Distribution', 0);
    bare.resourceCountIs('AWS::Cognito::UserPool', 0);
    bare.resourceCountIs('Custom::CDKBucketDeployment', 0);
    bare.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
    expect(Object.keys(bare.toJSON().Outputs)).not.toContain('ConsoleUrl');
  });

  it('builds the static files locally with esbuild (what the asset bundler writes at synth time)', () => {
    // Prepare
    const dir = tempDir('cdk-infra-console-');

    // Act
    writeConsoleSync(dir, false);

    // Assess: config.js comes from the deployment, not the bundle
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('/ui/config.js');
    // and the bundle stays small: ~91 KB minified today, dagre half of it (web/build.ts)
    const bundle = readFileSync(join(dir, 'ui', 'app.js'), 'utf8').length;
    expect(bundle).toBeGreaterThan(10_000);
    expect(bundle).toBeLessThan(120_000);
    expect(existsSync(join(dir, 'ui', 'style.css'))).toBe(true);
    expect(existsSync(join(dir, 'ui', 'config.js'))).toBe(false);
  });
});
