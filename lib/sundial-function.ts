import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Root of this repository (holds package.json, package-lock.json and `lambdas/`). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of the entry point of one Lambda: `lambdas/functions/<name>.ts`. */
export function lambdaEntry(name: string): string {
  return join(PROJECT_ROOT, 'lambdas', 'functions', `${name}.ts`);
}

/**
 * The Lambda runtime of every Sundial function. nodejs24.x: the newest Node.js
 * Lambda offers (cdk-nag AwsSolutions-L1 flags older ones).
 */
export const SUNDIAL_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Environment every Sundial function gets, whatever it does. */
export const COMMON_ENVIRONMENT: Readonly<Record<string, string>> = {
  // Powertools Logger/Metrics read their service name here.
  POWERTOOLS_SERVICE_NAME: 'sundial',
  // The SDK warns about Node versions; Lambda's runtime is recent enough.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // Stack traces point at the TypeScript sources through the bundled source map.
  NODE_OPTIONS: '--enable-source-maps',
};

/**
 * The bundles are ES modules (`index.mjs`): the runtime code and its
 * dependencies (middy 6 among them) are ESM-first, and top-level await is
 * available for cold-start configuration. CommonJS dependencies that call
 * `require` on Node built-ins need a real `require`, which this banner provides.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __sundialCreateRequire } from 'node:module';" +
  'const require = __sundialCreateRequire(import.meta.url);';

/** Properties of {@link SundialFunction}. */
export interface SundialFunctionProps {
  /** Absolute path of the TypeScript entry point (see {@link lambdaEntry}). */
  readonly entry: string;

  /**
   * Exported name of the handler in `entry`.
   *
   * @default 'handler'
   */
  readonly handler?: string;

  /**
   * Description of the function, shown in the console.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Memory of the function, in MiB (CPU grows with it).
   *
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Longest an invocation may run.
   *
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;

  /**
   * How long the function's log group keeps logs.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the function's log group when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * Lowest level of the application's own log lines that reaches CloudWatch
   * (exposed to Powertools Logger as `AWS_LAMBDA_LOG_LEVEL`).
   *
   * @default lambda.ApplicationLogLevel.INFO
   */
  readonly applicationLogLevel?: lambda.ApplicationLogLevel;

  /**
   * Environment beside {@link COMMON_ENVIRONMENT}; grants add their own
   * variables (`TABLE_NAME`, `TOKEN_SECRET_ARN`) when they are given.
   *
   * @default - none
   */
  readonly environment?: Record<string, string>;
}

/**
 * A Sundial Lambda as every one of them is deployed: TypeScript bundled locally
 * with esbuild (ESM, minified, source maps, the AWS SDK left to the runtime),
 * nodejs24.x on arm64, JSON logs into its own log group with a
 * retention, and a role of its own that may write that log group and nothing
 * else until grants add to it (no `AWSLambdaBasicExecutionRole`).
 */
export class SundialFunction extends Construct {
  /** The function. */
  public readonly function: NodejsFunction;

  /** The function's execution role. */
  public readonly role: iam.Role;

  /** The log group the function writes to. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SundialFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    const lockFile = join(PROJECT_ROOT, 'package-lock.json');
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: SUNDIAL_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: props.applicationLogLevel ?? lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment: { ...COMMON_ENVIRONMENT, ...props.environment },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: existsSync(lockFile) ? lockFile : undefined,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // Stack traces need the mappings only; leaving the sources out keeps the map small to parse at cold start.
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        // The AWS SDK v3 is not bundled: `@aws-sdk/*` (and `@smithy/*`, cdk.json's
        // `sdkV3ExcludeSmithyPackages`) stay external and resolve to the copy the
        // nodejs24.x runtime ships. A bundled SDK costs ≈ 300 KB per function before any
        // of Sundial's code and was most of each bundle (422–801 KB; now 60–247 KB,
        // docs/PERFORMANCE.md row 4). The trade-offs: the functions run the runtime's SDK
        // version, which Lambda updates on its own schedule, not the one package-lock.json
        // pins (and tests run against); the calls used (DynamoDB document client, Step
        // Functions, Batch, ECS, Scheduler, Logs, Lambda Invoke, Secrets Manager, SES v1)
        // are long-stable APIs. And the runtime's unminified SDK loads slower than a
        // bundled copy did (measured locally, docs/PERFORMANCE.md "What is left"), which is
        // why the adapters import every client but DynamoDB's at first use. lambdas/ imports
        // nothing else the runtime lacks: middy, zod, croner, Powertools Logger are bundled.
        bundleAwsSDK: false,
      },
    });
  }
}
