/**
 * Which deployed Lambda function the code running now stands for. Locally every function runs in one
 * process, so the local runtime marks its entry points (an HTTP request by its route table, a task
 * execution's Prepare/Record, a schedule tick, the sweep, a notification) with {@link runAs}, and
 * anything that wants to know — the IAM harness in test/iam, which evaluates each AWS SDK call against
 * that function's role — reads {@link currentFunction}. The mark follows the async work it started
 * (AsyncLocalStorage), and the innermost mark wins: a Prepare started by an API request is the engine's.
 *
 * Marks are kept only once {@link markFunctions} is called (the tests' local mode does): AsyncLocalStorage
 * hooks every promise of the process: 0.09 ms more of the server thread's CPU per store call, a sixth
 * (docs/PERFORMANCE.md), and nothing but the tests reads the marks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { HttpEvent } from '../lambdas/http/types';

/**
 * The Lambda functions of the stack (lib/api.ts, lib/engine.ts, lib/notifications.ts), and `local`:
 * work of the local runtime that has no function deployed (server start-up and shutdown, the local
 * executor standing in for Batch/ECS, expiry that DynamoDB TTL does deployed).
 */
export type SundialFunction = 'api' | 'callbacks' | 'engine' | 'notify' | 'local';

const current = new AsyncLocalStorage<SundialFunction>();
let marking = false;

/** Keeps the marks of {@link runAs} from now on (for the IAM harness and the tests that read them). */
export function markFunctions(): void {
  marking = true;
}

/** Runs `body` (and all the async work it starts) as function `fn`, marked so once {@link markFunctions} was called. */
export function runAs<T>(fn: SundialFunction, body: () => T): T {
  return marking ? current.run(fn, body) : body();
}

/** The function the running code stands for, or undefined outside any entry point (and while nothing marks). */
export function currentFunction(): SundialFunction | undefined {
  return current.getStore();
}

/**
 * A predicate: does an HTTP event hit one of `routes` (`{method, path}` with `{param}` segments), as
 * API Gateway's route keys would send it to that table's function?
 */
export function matchesRoutes(routes: readonly { method: string; path: string }[]): (event: HttpEvent) => boolean {
  const patterns = routes.map((r) => ({
    method: r.method.toUpperCase(),
    regex: new RegExp(`^${r.path.replace(/\/$/, '').replace(/\{[^/]+\}/g, '[^/]+')}/?$`),
  }));
  return (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    return patterns.some((p) => p.method === method && p.regex.test(event.rawPath));
  };
}
