import { join } from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { consoleConfig, writeConsoleSync } from '../web/build';
import type { SundialApi } from './api';
import { acknowledgeWildcardResources } from './nag';
import { PROJECT_ROOT } from './sundial-function';

/** Properties of {@link SundialConsole}. */
export interface SundialConsoleProps {
  /** The API the console calls; its operator routes are what signed-in operators may invoke. */
  readonly api: SundialApi;

  /**
   * Retention of the deployment function's log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Days CloudFront and S3 access logs are kept in the log bucket.
   *
   * @default 90
   */
  readonly accessLogDays?: number;
}

/**
 * The web console, deployed: the static files (web/, built by esbuild at synth time, locally) in a
 * private S3 bucket behind CloudFront (origin access control, HTTPS only, security headers), and the
 * sign-in of operators without AWS keys in the page:
 *
 * - a Cognito user pool (users created by an administrator only; strong password policy; optional TOTP),
 *   whose app client signs in with USER_PASSWORD_AUTH;
 * - a Cognito identity pool (authenticated identities only) trading the ID token for temporary
 *   credentials of {@link operatorRole}, which may only `execute-api:Invoke` the API's operator routes;
 * - CORS on the HTTP API for the CloudFront origin only.
 *
 * `ui/config.js` (written at deploy time) tells the page the API URL and the Cognito ids; the page signs
 * every call with SigV4 (web/auth.ts). Buckets and the user pool are **retained** with the stack.
 */
export class SundialConsole extends Construct {
  /** The private bucket holding the console's files (read by CloudFront only). */
  public readonly bucket: s3.Bucket;

  /** The bucket of the S3 server access logs (`s3/`) and CloudFront standard logs (`cloudfront/`). */
  public readonly logBucket: s3.Bucket;

  /** The CloudFront distribution serving the console. */
  public readonly distribution: cloudfront.Distribution;

  /** The console's URL, `https://<distribution domain>` (no trailing slash): also its CORS origin. */
  public readonly url: string;

  /** The user pool of operators (`aws cognito-idp admin-create-user`). */
  public readonly userPool: cognito.UserPool;

  /** The app client the page signs in with (no secret: it runs in the browser). */
  public readonly userPoolClient: cognito.UserPoolClient;

  /** The identity pool trading the pool's ID tokens for temporary credentials. */
  public readonly identityPool: cognito.CfnIdentityPool;

  /** The role of signed-in operators: `execute-api:Invoke` on the operator routes, nothing else. */
  public readonly operatorRole: iam.Role;

  constructor(scope: Construct, id: string, props: SundialConsoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { api } = props;

    // ---- buckets ------------------------------------------------------------------------------
    this.logBucket = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      // CloudFront standard logs are delivered with an ACL: the bucket must accept ACLs (it stays private).
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogDays ?? 90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself (S3 server access logs and CloudFront logs of the console); logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3/',
      // Retained like the table and the logs: nothing is deleted by a mistaken `cdk destroy`. The files
      // are rebuilt from the repository on every deploy, so deleting the bucket by hand loses nothing.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ---- sign-in --------------------------------------------------------------------------------
    this.userPool = new cognito.UserPool(this, 'Operators', {
      selfSignUpEnabled: false, // administrators create users (admin-create-user)
      signInAliases: { username: true },
      signInCaseSensitive: false,
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.NONE, // an administrator resets passwords (admin-set-user-password)
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const userPoolResource = this.userPool.node.defaultChild as cognito.CfnUserPool;
    Validations.of(userPoolResource).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional: TOTP is offered (operators enrol with associate-software-token, and the console then asks ' +
        'for the code). Users exist only if an administrator creates them, passwords are 14+ characters of four ' +
        'classes, and a session grants execute-api:Invoke on the operator routes only.',
    });
    Validations.of(userPoolResource).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'Threat protection needs the Cognito Plus feature plan (billed per monthly active user) for a pool of a few ' +
        'administrator-created operators with no self sign-up; enable featurePlan PLUS where policy requires it.',
    });

    this.userPoolClient = this.userPool.addClient('Console', {
      generateSecret: false, // a browser cannot keep a secret
      authFlows: { userPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });

    this.identityPool = new cognito.CfnIdentityPool(this, 'Identities', {
      allowUnauthenticatedIdentities: false,
      allowClassicFlow: false,
      cognitoIdentityProviders: [
        { clientId: this.userPoolClient.userPoolClientId, providerName: this.userPool.userPoolProviderName, serverSideTokenCheck: true },
      ],
    });

    this.operatorRole = new iam.Role(this, 'OperatorRole', {
      description: 'Sundial console operators (Cognito identity pool, authenticated): execute-api:Invoke on the operator routes',
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
    });
    api.grantOperatorAccess(this.operatorRole);
    acknowledgeWildcardResources(
      this.operatorRole,
      [api.operatorRoutesArn],
      'Operators may call every operator route of this API (any stage, any method, paths under /api/), and nothing else.',
    );

    new cognito.CfnIdentityPoolRoleAttachment(this, 'IdentityRoles', {
      identityPoolId: this.identityPool.ref,
      roles: { authenticated: this.operatorRole.roleArn }, // no unauthenticated role
    });

    // ---- CloudFront -----------------------------------------------------------------------------
    const region = stack.region;
    const cognitoEndpoints = ['cognito-idp', 'cognito-identity'].map((s) => `https://${s}.${region}.${stack.urlSuffix}`);
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Sundial console: CSP (API and Cognito only), HSTS, no framing, no sniffing',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          override: true,
          contentSecurityPolicy: [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'", // the run timeline positions its bars with style attributes
            "img-src 'self' data:",
            // The API's own URL would make a cycle (its CORS names this distribution): any HTTP API of the region.
            `connect-src https://*.execute-api.${region}.${stack.urlSuffix} ${cognitoEndpoints.join(' ')}`,
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
          ].join('; '),
        },
        strictTransportSecurity: { override: true, accessControlMaxAge: Duration.days(365), includeSubdomains: true },
        contentTypeOptions: { override: true },
        frameOptions: { override: true, frameOption: cloudfront.HeadersFrameOption.DENY },
        referrerPolicy: { override: true, referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER },
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Sundial web console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    const distributionResource = this.distribution.node.defaultChild as cloudfront.CfnDistribution;
    Validations.of(distributionResource).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Operators may work from anywhere; access is controlled by sign-in and IAM, not by geography.',
    });
    Validations.of(distributionResource).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'The distribution serves static files only (GET/HEAD, cached); every API call goes to API Gateway, throttled and ' +
        'IAM-authorized. Attach a web ACL (webAclId) where policy requires WAF.',
    });
    Validations.of(distributionResource).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'The console uses the default *.cloudfront.net certificate, whose minimum protocol CloudFront fixes; a custom ' +
        'domain with its ACM certificate (TLSv1.2_2021) is the way to raise it.',
    });
    this.url = `https://${this.distribution.distributionDomainName}`;
    api.allowBrowserOrigins([this.url]);

    // ---- the files ------------------------------------------------------------------------------
    // Built by esbuild at synth time, locally (no Docker): index.html, ui/app.js, ui/style.css.
    const files = new s3assets.Asset(this, 'Bundle', {
      path: join(PROJECT_ROOT, 'web'),
      // Hash of the built files: a new dagre or signer version redeploys the console, an unchanged build does not.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        image: DockerImage.fromRegistry('local-bundling-only'), // never used: the local bundler always answers
        local: {
          tryBundle(outputDir: string): boolean {
            writeConsoleSync(outputDir, false);
            return true;
          },
        },
      },
    });
    // Written at deploy time, when the ids are known.
    const config = s3deploy.Source.data(
      'ui/config.js',
      consoleConfig(api.url, {
        region,
        userPoolId: this.userPool.userPoolId,
        userPoolClientId: this.userPoolClient.userPoolClientId,
        identityPoolId: this.identityPool.ref,
      }),
    );

    // The deployment function's role: exactly what it does, instead of BucketDeployment's wide grants
    // (s3:GetObject*, s3:List*, s3:DeleteObject*… on both buckets, cloudfront:* on "*"), which its
    // immutable view below discards.
    const deployLogs = new logs.LogGroup(this, 'DeployLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const deployRole = new iam.Role(this, 'DeployRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies the Sundial console files into their bucket and invalidates the CloudFront cache',
    });
    deployLogs.grantWrite(deployRole);
    const assetObjects = files.bucket.arnForObjects('*');
    deployRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [assetObjects] }));
    deployRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    const consoleObjects = this.bucket.arnForObjects('*');
    deployRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resources: [consoleObjects] }));
    deployRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
        resources: [stack.formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: this.distribution.distributionId })],
      }),
    );
    acknowledgeWildcardResources(
      deployRole,
      [assetObjects, consoleObjects],
      'The deployment reads its source zips (the console files and config.js) among the CDK asset objects, whose keys ' +
        'are content hashes, and replaces the objects of the console bucket (any key: it prunes removed files).',
    );

    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [s3deploy.Source.bucket(files.bucket, files.s3ObjectKey), config],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      role: deployRole.withoutPolicyUpdates(),
      logGroup: deployLogs,
      memoryLimit: 256,
    });
    deployment.node.addDependency(deployRole);
    // BucketDeployment's handler is one function per stack (a singleton at the stack's root).
    for (const child of stack.node.children) {
      if (child.node.id.startsWith('Custom::CDKBucketDeployment')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions-L1',
          reason:
            "aws-cdk-lib's BucketDeployment handler (Python, runs the AWS CLI at deploy time only) sets its own runtime; " +
            'it moves to newer runtimes with aws-cdk-lib upgrades.',
        });
      }
    }
  }
}
