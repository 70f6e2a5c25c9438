/**
 * AWS's own limits that Sundial can reach, each with what AWS answers past it and the page that says so.
 * The local runtime enforces them (local/http-adapter.ts, local/engine/orchestrator.ts,
 * local/dynalite-worker.mjs, local/scheduler.ts) so that what would fail deployed fails in a test here.
 * Pure data: no I/O, importable from every layer.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- Lambda ------------------------------------------------------------------------------------

/**
 * Largest response of a synchronous invocation (RequestResponse): 6 MB, counted by Lambda as 6,291,556
 * bytes. Past it the invocation fails with `Function.ResponseSizeTooLarge` ("Response payload size
 * exceeded maximum allowed payload size (6291556 bytes).") and API Gateway answers its integration error
 * (see {@link HTTP_API_INTEGRATION_ERROR}).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html ("For synchronous invocations, the maximum payload size is 6 MB")
 */
export const LAMBDA_SYNC_RESPONSE_MAX_BYTES = 6_291_556;

/**
 * Largest event of a synchronous invocation: 6 MB ("Invocation payload (request and response): 6 MB each
 * for request and response (synchronous)"), 6,291,456 bytes: past it Invoke fails with
 * `RequestEntityTooLargeException` "Request must be smaller than 6291456 bytes for the InvokeFunction
 * operation". Behind an HTTP API the event is the request as payload 2.0 JSON: the body a JSON string in
 * it (escaped, so a JSON body grows by its quotes; or base64, 4/3 of a binary body: see
 * {@link HTTP_API_TEXT_MEDIA_TYPES}) beside the headers. API Gateway then answers {@link LAMBDA_REQUEST_TOO_LARGE}
 * without the function running.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html ("For synchronous invocations, the maximum payload size is 6 MB")
 */
export const LAMBDA_SYNC_REQUEST_MAX_BYTES = 6_291_456;

/**
 * What API Gateway answers when the request's event passes {@link LAMBDA_SYNC_REQUEST_MAX_BYTES}: 413
 * `{"message": "Request Too Long"}` (observed in https://github.com/koki-develop/lgtm-generator/issues/10;
 * AWS documents the limit, not the answer).
 */
export const LAMBDA_REQUEST_TOO_LARGE = { statusCode: 413, body: '{"message": "Request Too Long"}' } as const;

/**
 * Largest event of an asynchronous invocation (InvocationType `Event`): 1 MB today ("For asynchronous
 * invocations, the maximum payload size is 1 MB"); it was 256 KB, which the deprecated InvokeAsync keeps.
 * Past it Invoke fails with `RequestEntityTooLargeException` (HTTP 413). Sundial's asynchronous events
 * (a run's end to the notify function, a fan-out step to the engine function) carry ids and a cursor,
 * never a run's tasks: a large run's tasks go to the store (its plan, lambdas/store/fan-outs.ts), as
 * 10,000 task definitions can be larger than this.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/API_InvokeAsync.html
 */
export const LAMBDA_ASYNC_PAYLOAD_MAX_BYTES = 1 * MiB;

// ---- API Gateway HTTP API ----------------------------------------------------------------------

/**
 * Largest request payload of an HTTP API: 10 MB (not adjustable). API Gateway answers 413 before any
 * integration runs; the body observed is plain text, `HTTP content length exceeded 10485760 bytes.`
 * (https://github.com/koki-develop/lgtm-generator/issues/10 — AWS documents the limit, not the body).
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
 */
export const HTTP_API_PAYLOAD_MAX_BYTES = 10 * MiB;

/**
 * The request bodies an HTTP API hands its Lambda function as text: it "infers the need for encoding based
 * on the content-type header passed with the request", and a body of any other type arrives base64-encoded
 * with `isBase64Encoded: true` (AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs",
 * https://aws.amazon.com/blogs/compute/handling-binary-data-using-amazon-api-gateway-http-apis/). AWS does
 * not list the text types; observed against AWS (https://github.com/ministackorg/ministack/pull/766):
 * `text/*`, `application/json`, `application/xml`, `application/javascript` are text, everything else (no
 * Content-Type too) base64. Content-Encoding is not said to count: a gzip body sent as `application/json`
 * would be handed over as text, its bytes lost, so Sundial's compressed bodies travel as
 * `application/octet-stream` (lambdas/http/route.ts).
 */
export const HTTP_API_TEXT_MEDIA_TYPES = /^(?:text\/[^;\s]+|application\/(?:json|xml|javascript))\s*(?:;.*)?$/i;

/** Whether HTTP API hands a body of `contentType` to the function as text (else base64): {@link HTTP_API_TEXT_MEDIA_TYPES}. */
export function httpApiPassesAsText(contentType: string | undefined): boolean {
  return contentType !== undefined && HTTP_API_TEXT_MEDIA_TYPES.test(contentType.trim());
}

/** API Gateway's answer to a request over {@link HTTP_API_PAYLOAD_MAX_BYTES}. */
export const HTTP_API_PAYLOAD_TOO_LARGE = {
  statusCode: 413,
  contentType: 'text/plain; charset=utf-8',
  body: `HTTP content length exceeded ${HTTP_API_PAYLOAD_MAX_BYTES} bytes.`,
} as const;

/**
 * Longest integration of an HTTP API: 30 seconds (not adjustable). Past it API Gateway answers
 * 503 `{"message":"Service Unavailable"}` while the function keeps running to its own timeout
 * (observed: https://github.com/anomalyco/sst/issues/2232; 30 s, not REST's 29 s, per the API Gateway team in
 * https://github.com/awsdocs/amazon-api-gateway-developer-guide/pull/74).
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
 */
export const HTTP_API_INTEGRATION_TIMEOUT_MS = 30_000;

/** API Gateway's answer when the integration outlives {@link HTTP_API_INTEGRATION_TIMEOUT_MS}. */
export const HTTP_API_INTEGRATION_TIMEOUT = { statusCode: 503, body: '{"message":"Service Unavailable"}' } as const;

/**
 * API Gateway's answer when a Lambda integration fails (function error, a response over
 * {@link LAMBDA_SYNC_RESPONSE_MAX_BYTES}, a response it cannot read): 500 `{"message":"Internal Server Error"}`,
 * the reason only in the access log's `$context.integrationErrorMessage`.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
 */
export const HTTP_API_INTEGRATION_ERROR = { statusCode: 500, body: '{"message":"Internal Server Error"}' } as const;

// ---- Step Functions (Standard) -----------------------------------------------------------------

/**
 * Largest input or output of a task, state or execution: 262,144 bytes as UTF-8. Past it the
 * execution input is refused by StartExecution (`InvalidExecutionInput`), and a state's output fails the
 * execution with `States.DataLimitExceeded`, a terminal error that no `States.ALL` catcher catches.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html ("Maximum input or output size for a task, state, or execution")
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (States.DataLimitExceeded)
 */
export const SFN_PAYLOAD_MAX_BYTES = 262_144;

/**
 * Most events in one Standard execution's history: 25,000 (a hard quota). "When an execution reaches
 * 24,999 events, it waits for the next event to happen. If the event number 25,000 is ExecutionSucceeded,
 * the execution finishes successfully. If [not], the ExecutionFailed event is logged and the state
 * machine execution fails because of reaching the history limit."
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html
 */
export const SFN_HISTORY_MAX_EVENTS = 25_000;

/**
 * Execution (and state machine) names: 1–80 characters, none of whitespace, `< > { } [ ]`, `? *`,
 * `" # % \ ^ | ~ \` $ & , ; : /`, control characters (U+0000–001F, U+007F–009F). StartExecution answers
 * `InvalidName` (HTTP 400). Only `0-9 A-Z a-z - _` work with CloudWatch Logs.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html ("Names in Step Functions")
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 */
export const SFN_NAME_MAX_LENGTH = 80;

/** Characters a Step Functions name must not contain (see {@link SFN_NAME_MAX_LENGTH}). */
export const SFN_NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

/** Whether `name` is a name StartExecution accepts. */
export function isValidSfnName(name: string): boolean {
  return name.length >= 1 && name.length <= SFN_NAME_MAX_LENGTH && !SFN_NAME_FORBIDDEN.test(name);
}

/** A token bucket quota of an API action: `bucket` calls at once, refilled `perSecond` a second. */
export interface ApiRateQuota {
  bucket: number;
  perSecond: number;
}

/**
 * Step Functions throttles its API actions per account and Region with a token bucket each; a call on an
 * empty bucket fails with `ThrottlingException` (HTTP 400, "Rate exceeded"; the SDK retries it). The
 * figures outside us-east-1, us-west-2 and eu-west-1 are the lower ones, kept here (what fails in one
 * Region fails in a test): DescribeExecution 250 refilled 10/s (300 and 15/s in those three), ListExecutions
 * 100 refilled 2/s (200 and 5/s). AWS "may increase both the bucket size and refill rate at any time".
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html ("Quotas related to API action throttling", "Other quotas")
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html (ThrottlingException)
 */
export const SFN_API_QUOTAS = {
  DescribeExecution: { bucket: 250, perSecond: 10 },
  ListExecutions: { bucket: 100, perSecond: 2 },
} as const satisfies Record<string, ApiRateQuota>;

/** What Step Functions answers a call its bucket has no token for (see {@link SFN_API_QUOTAS}). */
export const SFN_THROTTLED = { name: 'ThrottlingException', message: 'Rate exceeded', statusCode: 400 } as const;

/**
 * Largest page of ListExecutions: `maxResults` 1–1000 (0 or none: 100), the rest behind `nextToken` (valid
 * 24 hours; keep every other argument unchanged). A page may hold fewer than asked. The listing is
 * eventually consistent: "results are best effort and may not reflect very recent updates and changes"
 * (an execution started or ended a moment ago may be missing or still listed).
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
 */
export const SFN_LIST_EXECUTIONS_MAX_RESULTS = 1000;

// ---- DynamoDB ----------------------------------------------------------------------------------

/**
 * Largest item, attribute names and values together: 400 KB. PutItem/UpdateItem/BatchWriteItem answer
 * `ValidationException: Item size has exceeded the maximum allowed size` (dynalite says the same).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const DYNAMODB_ITEM_MAX_BYTES = 400 * KiB;

/**
 * One Query or Scan page reads at most 1 MB, then answers `LastEvaluatedKey` (no error: the caller pages).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
 */
export const DYNAMODB_PAGE_MAX_BYTES = 1 * MiB;

/**
 * The `IN` comparator takes at most 100 values. Past it: `ValidationException: Invalid FilterExpression:
 * The IN operator is provided with too many operands; number of operands: 163` (the expression's kind
 * names itself: Condition, Filter, KeyCondition; message observed in
 * https://github.com/reapit/foundations/issues/8255).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters
 */
export const DYNAMODB_IN_MAX_OPERANDS = 100;

/**
 * BatchWriteItem: at most 25 put or delete requests and 16 MB. Past 25: `ValidationException` "…Member must
 * have length less than or equal to 25".
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
 */
export const DYNAMODB_BATCH_WRITE_MAX_ITEMS = 25;

/**
 * BatchGetItem: at most 100 items and 16 MB. Past 100: `ValidationException: Too many items requested for
 * the BatchGetItem call`.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
 */
export const DYNAMODB_BATCH_GET_MAX_ITEMS = 100;

/**
 * TransactWriteItems: at most 100 actions and 4 MB in all. Sundial uses no transaction (dynalite 4 has
 * none: docs/STORAGE.md), so nothing enforces this locally.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export const DYNAMODB_TRANSACT_MAX_ITEMS = 100;

// ---- EventBridge Scheduler ---------------------------------------------------------------------

/**
 * Scheduler fires with 60-second precision, and `rate()` counts whole minutes (`minute | minutes | hour |
 * hours | day | days`), the shortest `rate(1 minute)`. A shorter or seconds-level interval cannot be expressed:
 * CreateSchedule answers `ValidationException`.
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
export const SCHEDULER_MIN_INTERVAL_SECONDS = 60;

// ---- ECS and Batch (the executor requests Prepare builds) --------------------------------------

/**
 * ECS RunTask `overrides`: "A total of 8192 characters are allowed for overrides. This limit includes the
 * JSON formatting characters of the override structure." Sundial's overrides hold the container's command,
 * its whole environment (the task's variables, the trigger's, Sundial's `SUNDIAL_*`: the task token, ids and
 * URL) and the Fargate size. Past it RunTask answers `InvalidParameterException: Container Overrides length
 * must be at most 8192` (HTTP 400), which a `ecs:runTask.sync` step fails with as
 * `ECS.InvalidParameterException` (see {@link ECS_OVERRIDES_TOO_LONG}).
 * @see https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html (`overrides`)
 */
export const ECS_OVERRIDES_MAX_CHARACTERS = 8192;

/**
 * How an `ecs:runTask.sync` step fails when RunTask refuses the overrides: a service error is named
 * `ECS.<exception>` (as `ECS.InvalidParameterException` in https://github.com/cdklabs/construct-hub/pull/415),
 * its Cause the exception's message with the SDK's request details; the message as observed in
 * https://github.com/convox/rack/issues/1906 and
 * https://github.com/aws-samples/sample-autonomous-cloud-coding-agents/issues/502.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html
 */
export const ECS_OVERRIDES_TOO_LONG = {
  error: 'ECS.InvalidParameterException',
  message: `Container Overrides length must be at most ${ECS_OVERRIDES_MAX_CHARACTERS}`,
  cause: (requestId: string) =>
    `Container Overrides length must be at most ${ECS_OVERRIDES_MAX_CHARACTERS} (Service: AmazonECS; Status Code: 400; Error Code: InvalidParameterException; Request ID: ${requestId}; Proxy: null)`,
} as const;

/**
 * Batch SubmitJob: "Maximum job payload size (for SubmitJob API operations): 30 KiB" (not adjustable).
 * Sundial's request is the one `RunBatchJob` sends (job name, queue, definition, container overrides with
 * the command — a `shell_script_command`'s whole script — and the environment, timeout); it is measured as
 * UTF-8 JSON. Past it SubmitJob answers `ClientException` "Job size must be less than 30 KiB, got 47 KiB",
 * which a `batch:submitJob.sync` step fails with as `Batch.ClientException` (see {@link BATCH_JOB_TOO_LARGE}).
 *
 * Batch documents no limit of its own on `containerOverrides`, the number of environment variables or the
 * command: none is enforced here. Observed, though not documented by Batch: a job on Fargate whose
 * container overrides pass ECS's {@link ECS_OVERRIDES_MAX_CHARACTERS} is accepted by SubmitJob and then ends
 * FAILED with the StatusReason "Container Overrides length must be at most 8192"
 * (https://github.com/Netflix/metaflow/issues/977, https://github.com/Netflix/metaflow/issues/1482,
 * https://github.com/ASFHyP3/hyp3/issues/3041); lambdas/domain/attempt-failure.ts reads that reason.
 * @see https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html
 * @see https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
 */
export const BATCH_JOB_PAYLOAD_MAX_BYTES = 30 * KiB;

/**
 * How a `batch:submitJob.sync` step fails when SubmitJob refuses the job's size, as observed through Step
 * Functions in https://github.com/ASFHyP3/hyp3/issues/3041 (error `Batch.ClientException`, Cause "Error
 * executing request, Exception : Job size must be less than 30 KiB, got 47 KiB, RequestId: … (Service:
 * AWSBatch; Status Code: 400; Error Code: ClientException; …)").
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-batch.html
 */
export const BATCH_JOB_TOO_LARGE = {
  error: 'Batch.ClientException',
  cause: (gotKiB: number, requestId: string) =>
    `Error executing request, Exception : Job size must be less than ${BATCH_JOB_PAYLOAD_MAX_BYTES / KiB} KiB, got ${gotKiB} KiB, RequestId: ${requestId} (Service: AWSBatch; Status Code: 400; Error Code: ClientException; Request ID: ${requestId}; Proxy: null)`,
} as const;

// The Step Functions state of a task execution (SFN_PAYLOAD_MAX_BYTES, 256 KB) stays far under its limit once
// the executor request fits the limits above: the execution input is `{process_id, task_definition_name}` (ids
// and a name of at most 64 characters), Prepare's result (`$.attempt`) is the request plus a few fields, and
// the state Record reads adds the job or task description (which repeats the environment). A request of
// BATCH_JOB_PAYLOAD_MAX_BYTES makes a state of about three times that: lambdas/engine/request-limits.ts
// refuses a request past the limits, test/limits/overrides.test.ts checks that the state then fits.
