/**
 * Turns a route table into one middy Lambda handler: routing (@middy/http-router), then one place that
 * maps errors to responses. An `HttpError` becomes its JSON shape; anything else is logged and answered
 * with a plain 500 that reveals nothing. An answer too large for Lambda goes compressed (compression.ts).
 */
import middy from '@middy/core';
import httpRouter from '@middy/http-router';
import type { Context } from 'aws-lambda';
import { HttpError, MethodNotAllowedError, NotFoundError, ServiceUnavailableError } from '../domain/errors';
import type { Logger } from '../logger';
import { fitResponse } from './compression';
import type { Route } from './route';
import { type HttpEvent, type HttpHandler, type HttpResult, json } from './types';

/** AWS SDK errors that mean "try again later" rather than a bug. */
const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'ServiceUnavailable',
  'InternalServerError',
]);

export function errorResponse(err: unknown, logger: Logger): HttpResult {
  if (err instanceof MethodNotAllowedError) return json(err.statusCode, err.toJSON(), { allow: err.allow.join(', ') });
  if (err instanceof HttpError) return json(err.statusCode, err.toJSON());
  if (RETRYABLE.has((err as { name?: string })?.name ?? '')) {
    logger.warn('dependency refused for now', { error: err as Error });
    const e = new ServiceUnavailableError('the service is busy; retry shortly');
    return json(e.statusCode, e.toJSON(), { 'retry-after': '1' });
  }
  logger.error('unhandled error', { error: err as Error });
  return json(500, { error: { code: 'internal_error', message: 'internal error' } });
}

function requestPath(event: HttpEvent): string {
  return event.rawPath ?? event.requestContext?.http?.path ?? '/';
}

/** One handler serving `routes`; unknown paths answer 404, known paths with another method 405. */
export function createRouter(routes: readonly Route[], logger: Logger): HttpHandler {
  const patterns = routes.map((r) => ({
    route: r,
    regex: new RegExp(`^${r.path.replace(/\/$/, '').replace(/\{[^/]+\}/g, '[^/]+')}/?$`),
  }));
  const router = httpRouter({
    routes: routes.map((r) => ({ method: r.method, path: r.path, handler: (event: HttpEvent) => r.handle(event) })),
    notFoundResponse: ({ method, path }: { method: string; path: string }) => {
      const allowed = patterns.filter((p) => p.regex.test(path)).map((p) => p.route.method);
      const allow = [...new Set(allowed)];
      if (allow.length > 0) throw new MethodNotAllowedError(`${method} is not allowed on ${path}; use ${allow.join(', ')}`, allow);
      throw new NotFoundError(`no route for ${method} ${path}`);
    },
  });
  const handler = middy<HttpEvent, HttpResult>({ timeoutEarlyInMillis: 0 })
    .handler(router as unknown as (event: HttpEvent, context: Context) => Promise<HttpResult>)
    .onError((request) => {
      request.response = errorResponse(request.error, logger);
    });
  return async (event, context) => {
    const result = await handler(event, context);
    // An answer past what Lambda may return goes compressed (compression.ts).
    return fitResponse(event, result ?? errorResponse(new Error(`no response for ${requestPath(event)}`), logger));
  };
}
