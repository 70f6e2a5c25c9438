import { Arn, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CfnApi,
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
  type IHttpRouteAuthorizer,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type Auth, ROUTES } from '../lambdas/http/route-table';
import type { SundialStore } from './store';
import { SundialFunction, lambdaEntry } from './sundial-function';
import type { TaskTokens } from './task-tokens';

/**
 * Why a route without authorization at API Gateway is safe (cdk-nag AwsSolutions-APIG4), by who may call
 * it (the route table, lambdas/http/route-table.ts).
 */
const UNAUTHORIZED_BECAUSE: Readonly<Record<Exclude<Auth, 'operator'>, string>> = {
  public:
    'Metrics are scraped without credentials, as in Sundial. The route returns aggregate counters only ' +
    '(no definitions, runs, logs or identifiers) and is throttled with the stage.',
  task:
    'Task containers call back without AWS credentials. The callbacks function performs the equivalent check: ' +
    'it requires Authorization: Bearer <task token>, an HMAC-SHA256 of the task id under a key in Secrets ' +
    'Manager, and refuses a token issued for any other task.',
};

/**
 * Fields of one access-log line (JSON). All values are quoted so a `-` for an
 * absent value still yields valid JSON.
 */
const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTime: '$context.requestTime',
  requestTimeEpoch: '$context.requestTimeEpoch',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integrationErrorMessage',
  errorMessage: '$context.error.message',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
};

/** Properties of {@link SundialApi}. */
export interface SundialApiProps {
  /** The table both functions read and write. */
  readonly store: SundialStore;

  /** The key signing task tokens; only the `callbacks` function may read it. */
  readonly taskTokens: TaskTokens;

  /**
   * Throttling of every route on the `$default` stage.
   *
   * @default { rateLimit: 100, burstLimit: 200 }
   */
  readonly throttle?: ThrottleSettings;

  /**
   * How long the functions' logs and the access logs are kept.
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

  /**
   * Per-route CloudWatch metrics on the stage (billed per metric).
   *
   * @default false
   */
  readonly detailedMetrics?: boolean;

  /**
   * Entry point of the `api` function.
   *
   * @default lambdas/functions/api.ts
   */
  readonly apiEntry?: string;

  /**
   * Entry point of the `callbacks` function.
   *
   * @default lambdas/functions/callbacks.ts
   */
  readonly callbacksEntry?: string;
}

/**
 * Sundial's HTTP API: API Gateway HTTP API in front of two Lambdas.
 * - `api` serves the operator routes (IAM authorization) and the one open
 *   route, `GET /_internal_/metrics`;
 * - `callbacks` serves the task callback routes, which carry a task token
 *   instead of SigV4.
 * Anything else (`$default`) goes to `api` under IAM authorization, so a route
 * nobody declared is never open. The `$default` stage is throttled and writes
 * JSON access logs.
 */
export class SundialApi extends Construct {
  /** The HTTP API. */
  public readonly httpApi: HttpApi;

  /** The `$default` stage (throttling, access logs). */
  public readonly stage: HttpStage;

  /**
   * Base URL of the API without a trailing slash (`https://<id>.execute-api.<region>.amazonaws.com`):
   * paths are appended as `${url}/api/...`. This is the `SUNDIAL_URL` tasks call back to.
   */
  public readonly url: string;

  /** Function serving operator routes and metrics. Gets `TABLE_NAME`. */
  public readonly apiFunction: NodejsFunction;

  /** Function serving task callbacks. Gets `TABLE_NAME` and `TOKEN_SECRET_ARN`. */
  public readonly callbacksFunction: NodejsFunction;

  /** Log group of the stage's access logs. */
  public readonly accessLogGroup: logs.LogGroup;

  /** Every route declared, by route key (`GET /api/processes`, `$default`, ...). */
  public readonly routes: ReadonlyMap<string, HttpRoute>;

  private readonly apiIntegration: HttpLambdaIntegration;

  constructor(scope: Construct, id: string, props: SundialApiProps) {
    super(scope, id);

    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    const api = new SundialFunction(this, 'ApiHandler', {
      entry: props.apiEntry ?? lambdaEntry('api'),
      description: 'Sundial: operator API (process definitions, runs, tasks) and metrics',
      timeout: Duration.seconds(15),
      // Its list routes are CPU-bound (145–230 ms of CPU for a page of runs or attempts, peak RSS 149 MB:
      // `npm run bench`, docs/PERFORMANCE.md). Lambda allots CPU in proportion to memory, so 1,024 MB
      // answers them in about half the time of 512 MB for the same GB-seconds.
      memorySize: 1024,
      logRetention,
      logRemovalPolicy,
    });
    this.apiFunction = api.function;
    props.store.grantTo(this.apiFunction);

    const callbacks = new SundialFunction(this, 'CallbacksHandler', {
      entry: props.callbacksEntry ?? lambdaEntry('callbacks'),
      description: 'Sundial: task callbacks (log entries, metadata, progress, succeed, fail) authenticated by task token',
      timeout: Duration.seconds(10),
      logRetention,
      logRemovalPolicy,
    });
    this.callbacksFunction = callbacks.function;
    // Callbacks read the attempt, put entries (conditional puts), record progress and /succeed or /fail
    // (conditional updates): no query, no delete, no index.
    props.store.grantTo(this.callbacksFunction, { actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], indexes: [] });
    props.taskTokens.grantTo(this.callbacksFunction);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Sundial: scheduler of container job DAGs',
      // Secure by default: a route added without an authorizer requires SigV4.
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: logRemovalPolicy,
    });

    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
      detailedMetricsEnabled: props.detailedMetrics ?? false,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    // The stage is `$default`, so the API endpoint is its URL (without the trailing `/` of `stage.url`).
    this.url = this.httpApi.apiEndpoint;

    const apiIntegration = new HttpLambdaIntegration('ApiIntegration', this.apiFunction);
    this.apiIntegration = apiIntegration;
    const callbacksIntegration = new HttpLambdaIntegration('CallbacksIntegration', this.callbacksFunction);
    const iamAuthorizer = new HttpIamAuthorizer();
    const noAuthorizer = new HttpNoneAuthorizer();
    const routes = new Map<string, HttpRoute>();
    const addRoute = (routeKey: HttpRouteKey, integration: HttpLambdaIntegration, authorizer: IHttpRouteAuthorizer) => {
      const route = new HttpRoute(this, routeConstructId(routeKey), {
        httpApi: this.httpApi,
        routeKey,
        integration,
        authorizer,
      });
      routes.set(routeKey.key, route);
      return route;
    };

    // Every route of the table, by the function that serves it; operator routes IAM-authorized (SigV4),
    // the others checked by their function (task token) or open (metrics).
    const integrations = { api: apiIntegration, callbacks: callbacksIntegration };
    for (const { method, path, fn, auth } of Object.values(ROUTES)) {
      const route = addRoute(HttpRouteKey.with(path, HttpMethod[method]), integrations[fn], auth === 'operator' ? iamAuthorizer : noAuthorizer);
      if (auth !== 'operator') Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason: UNAUTHORIZED_BECAUSE[auth] });
    }
    // Sundial's clients call the list routes with a trailing slash (`/api/processes/`), which an HTTP API
    // route key cannot end with. Unless API Gateway folds the slash onto the declared route, such a request
    // matches `$default`, which goes to the same function, IAM-authorized as well; the function routes on
    // the path and ignores one trailing slash. Anything undeclared lands there too: never open.
    addRoute(HttpRouteKey.DEFAULT, apiIntegration, iamAuthorizer);
    this.routes = routes;
  }

  /**
   * Lets browser pages served from `origins` (e.g. the console's CloudFront URL) call the API: CORS on
   * the HTTP API for exactly those origins, and an `OPTIONS /{proxy+}` route without authorization, so
   * a preflight (which carries no signature) does not fall to the IAM-authorized `$default` route.
   * API Gateway answers the preflight itself from the CORS configuration.
   */
  public allowBrowserOrigins(origins: readonly string[]): void {
    (this.httpApi.node.defaultChild as CfnApi).corsConfiguration = {
      allowOrigins: [...origins],
      allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.PUT, CorsHttpMethod.POST, CorsHttpMethod.DELETE],
      allowHeaders: ['authorization', 'content-type', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
      // A list's next page (lambdas/api/routes.ts NEXT_CURSOR_HEADER): the console pages a large run's attempts.
      exposeHeaders: ['x-next-cursor'],
      maxAge: Duration.hours(1).toSeconds(),
    };
    const routeKey = HttpRouteKey.with('/{proxy+}', HttpMethod.OPTIONS);
    const route = new HttpRoute(this, routeConstructId(routeKey), {
      httpApi: this.httpApi,
      routeKey,
      integration: this.apiIntegration,
      authorizer: new HttpNoneAuthorizer(),
    });
    (this.routes as Map<string, HttpRoute>).set(routeKey.key, route);
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'CORS preflight: browsers send OPTIONS without credentials, so it cannot be IAM-authorized. API Gateway ' +
        'answers it from the CORS configuration (the console origin only); it reads and changes nothing.',
    });
  }

  /**
   * Lets a principal call every operator route (`execute-api:Invoke` on
   * `<api>/<any stage>/<any method>/api/*`, which also covers the
   * trailing-slash forms that reach the `$default` route).
   */
  public grantOperatorAccess(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.operatorRoutesArn],
    });
  }

  /** The ARN {@link grantOperatorAccess} allows: `execute-api:<region>:<account>:<api id>` and every stage and method of `/api/` paths. */
  public get operatorRoutesArn(): string {
    return Arn.format({ service: 'execute-api', resource: this.httpApi.apiId, resourceName: '*/*/api/*' }, Stack.of(this));
  }
}

/** `POST /api/processes/{process_id}/kill` → `PostApiProcessesProcessIdKill`; `$default` → `DefaultRoute`. */
function routeConstructId(routeKey: HttpRouteKey): string {
  if (!routeKey.path) return 'DefaultRoute';
  const words = [routeKey.method.toLowerCase(), ...routeKey.path.split(/[^A-Za-z0-9]+/)].filter(Boolean);
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
