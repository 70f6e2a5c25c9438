/**
 * How the AWS SDK clients of the engine (Step Functions, Batch, ECS) retry a throttled call. A kill or
 * retry of a large run meets those services' rate quotas (lambdas/domain/concurrency.ts); the SDK's
 * default of 3 attempts is spent within about a second. AWS recommends `standard` mode for all
 * workloads (exponential backoff with jitter, retry quota as a circuit breaker; `adaptive` may delay
 * even first attempts and suits single-resource clients only):
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html. 6 attempts wait at
 * most about 3 s in all (base 100 ms, doubling), inside the API function's 15 s (lib/api.ts).
 */
export const THROTTLING_RETRY = { retryMode: 'standard', maxAttempts: 6 } as const;
