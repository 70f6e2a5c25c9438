/**
 * Bounded concurrency: the helpers every fan-out uses (store reads and writes, the engine's trigger,
 * kill and retry), so that no loop over a run's tasks (up to 10,000) sends every call at once.
 */

/**
 * How many calls to another AWS service the engine has in flight at once when it fans out over a
 * run's tasks (trigger: StartExecution; kill: StopExecution, then Batch TerminateJob or ECS StopTask;
 * retry: StartExecution). The tightest quota on those paths is AWS Batch's: 50 transactions per
 * second per account, not adjustable
 * (https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html; AWS re:Post
 * https://repost.aws/knowledge-center/aws-batch-requests-error: every Batch API call counts).
 * Step Functions throttles StartExecution/StopExecution with token buckets per account and Region
 * (hundreds of tokens, refilled at 25 to 300 a second depending on the action and Region:
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Quotas related to API
 * action throttling"), and ECS throttles StopTask with a token bucket too
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/request-throttling.html).
 * With 10 calls in flight a burst never exceeds 10 requests and, at the ~50–100 ms an AWS call
 * takes from Lambda, the sustained rate stays near 100–200 a second: below every bucket's size, so a
 * kill of 1,000 tasks drains at most a bucket's burst, and what the refill rate still refuses is
 * retried by the SDK with exponential backoff (lambdas/adapters/retry.ts). Within an API request this
 * bounds runs of up to IN_REQUEST_TASKS_MAX tasks (lambdas/engine/fan-out.ts); larger ones are handed to
 * the engine function, which also paces its calls to the quotas (lambdas/engine/pace.ts, docs/SCALE.md).
 */
export const AWS_FAN_OUT_CONCURRENCY = 10;

/** Maps with at most `limit` calls of `fn` in flight, keeping order; the first rejection rejects. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Like {@link mapLimited} for work that may stop half-way: no item starts once `stop()` holds, and the
 * items started finish. Items start in order, so those done are always the first ones: answers how many.
 */
export async function mapUntil<T>(items: readonly T[], limit: number, stop: () => boolean, fn: (item: T, index: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return next;
}
