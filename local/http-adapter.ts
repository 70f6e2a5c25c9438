/**
 * The local HTTP front door: a Node `http` request becomes the API Gateway HTTP API (payload 2.0) event
 * the Lambda handlers take, and their result becomes the response. Nothing else knows which runtime
 * it is in.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'aws-lambda';
import {
  HTTP_API_INTEGRATION_ERROR,
  HTTP_API_INTEGRATION_TIMEOUT,
  HTTP_API_INTEGRATION_TIMEOUT_MS,
  HTTP_API_PAYLOAD_MAX_BYTES,
  HTTP_API_PAYLOAD_TOO_LARGE,
  httpApiPassesAsText,
  LAMBDA_REQUEST_TOO_LARGE,
  LAMBDA_SYNC_REQUEST_MAX_BYTES,
  LAMBDA_SYNC_RESPONSE_MAX_BYTES,
} from '../lambdas/domain/aws-limits';
import type { HttpEvent, HttpHandler, HttpResult } from '../lambdas/http/types';

/** Reads the body, keeping at most `limit` bytes: undefined when the body is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.time` as API Gateway writes it: `12/Mar/2020:19:03:58 +0000` (test/fixtures/aws/apigw-v2-event.json). */
export function requestTime(t: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())} +0000`;
}

/** What an HTTP request is made of, as an API Gateway HTTP API event carries it. */
export interface HttpRequestParts {
  method: string;
  path: string;
  /** Repeated keys as one value joined by commas, as API Gateway does. */
  query: Record<string, string>;
  /** The query string as sent; made from `query` when absent. */
  rawQueryString?: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  /** The body is base64 (a body of a type HTTP API does not pass as text: HTTP_API_TEXT_MEDIA_TYPES). */
  isBase64Encoded?: boolean;
  requestId: string;
  protocol?: string;
  sourceIp?: string;
}

/**
 * The API Gateway HTTP API (payload 2.0) event of a request: what the Lambda handlers take, in the shape of
 * test/fixtures/aws/apigw-v2-event.json (AWS's example). Locally every request takes the `$default` route,
 * so there are no `pathParameters` (the router sets them) and the route key is `$default`; there is no
 * authorizer (operator routes are open on loopback), no mTLS `authentication` and no stage variables.
 */
export function httpEvent(r: HttpRequestParts): HttpEvent {
  const now = Date.now();
  const rawQueryString = r.rawQueryString ?? new URLSearchParams(r.query).toString();
  const cookie = r.headers.cookie;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: r.path,
    rawQueryString,
    // Payload 2.0 hands the request's cookies over one by one, beside the headers.
    ...(cookie ? { cookies: cookie.split(';').map((c) => c.trim()).filter((c) => c.length > 0) } : {}),
    headers: r.headers,
    queryStringParameters: Object.keys(r.query).length > 0 ? r.query : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: r.headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: r.method.toUpperCase(),
        path: r.path,
        protocol: r.protocol ?? 'HTTP/1.1',
        sourceIp: r.sourceIp ?? '127.0.0.1',
        userAgent: r.headers['user-agent'] ?? '',
      },
      requestId: r.requestId,
      routeKey: '$default',
      stage: '$default',
      time: requestTime(new Date(now)),
      timeEpoch: now,
    },
    body: r.body !== undefined && r.body.length > 0 ? r.body : undefined,
    isBase64Encoded: r.isBase64Encoded ?? false,
  };
}

/**
 * The event of a Node HTTP request (its body read already): the body as text when HTTP API would pass it
 * so (its Content-Type: HTTP_API_TEXT_MEDIA_TYPES), else base64, as HTTP API does.
 */
export function toEvent(req: IncomingMessage, body: Buffer, requestId: string): HttpEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const text = httpApiPassesAsText(headers['content-type']);
  return httpEvent({
    method: req.method ?? 'GET',
    path: url.pathname,
    query,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    body: body.toString(text ? 'utf8' : 'base64'),
    isBase64Encoded: !text && body.length > 0,
    requestId,
    protocol: `HTTP/${req.httpVersion}`,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  });
}

function lambdaContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'sundial-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:sundial-local',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Sends the function's result as API Gateway does: a base64 body (`isBase64Encoded`) as its bytes. */
function send(res: ServerResponse, result: HttpResult): void {
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode, { ...result.headers, 'content-length': body.length });
  res.end(body);
}

const GATEWAY_JSON = { 'content-type': 'application/json' };

/** What API Gateway's integration with the function answers for `result`, the function's response. */
function integrationResponse(result: HttpResult, log: (line: string) => void): HttpResult {
  // Lambda counts the response as the JSON it returns to API Gateway, not the body alone.
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size > LAMBDA_SYNC_RESPONSE_MAX_BYTES) {
    log(`error the response (${size} bytes) exceeds Lambda's maximum allowed payload size (${LAMBDA_SYNC_RESPONSE_MAX_BYTES} bytes): API Gateway answers 500`);
    return { statusCode: HTTP_API_INTEGRATION_ERROR.statusCode, headers: GATEWAY_JSON, body: HTTP_API_INTEGRATION_ERROR.body };
  }
  return result;
}

export interface NodeListenerOptions {
  /** API Gateway's integration timeout; shorter in tests. @default HTTP_API_INTEGRATION_TIMEOUT_MS (30 s) */
  integrationTimeoutMs?: number;
}

/**
 * A Node request listener that serves `handler`, logging one line per request, and answering as API
 * Gateway would where its limits or Lambda's are passed (lambdas/domain/aws-limits.ts): a request over
 * 10 MB, an event over 6 MB, a response over 6 MB, a handler still running after 30 s (it goes on
 * running, as deployed).
 */
export function nodeListener(handler: HttpHandler, log: (line: string) => void, options: NodeListenerOptions = {}) {
  const timeoutMs = options.integrationTimeoutMs ?? HTTP_API_INTEGRATION_TIMEOUT_MS;
  return async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = randomUUID();
    let status = 500;
    try {
      const body = await readBody(req, HTTP_API_PAYLOAD_MAX_BYTES);
      const event = body === undefined ? undefined : toEvent(req, body, requestId);
      let result: HttpResult;
      if (event === undefined) {
        result = { statusCode: HTTP_API_PAYLOAD_TOO_LARGE.statusCode, headers: { 'content-type': HTTP_API_PAYLOAD_TOO_LARGE.contentType }, body: HTTP_API_PAYLOAD_TOO_LARGE.body };
      } else if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_SYNC_REQUEST_MAX_BYTES) {
        // Lambda refuses the invocation: the function never runs.
        result = { statusCode: LAMBDA_REQUEST_TOO_LARGE.statusCode, headers: GATEWAY_JSON, body: LAMBDA_REQUEST_TOO_LARGE.body };
      } else {
        const invocation = handler(event, lambdaContext(requestId));
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        const outcome = await Promise.race([invocation, timedOut]).finally(() => clearTimeout(timer));
        if (outcome === 'timeout') {
          log(`error ${req.method} ${req.url} still running after ${timeoutMs} ms: API Gateway answers 503 (the handler goes on)`);
          invocation.catch((err) => log(`error ${req.method} ${req.url} after its timeout: ${(err as Error).stack ?? String(err)}`));
          result = { statusCode: HTTP_API_INTEGRATION_TIMEOUT.statusCode, headers: GATEWAY_JSON, body: HTTP_API_INTEGRATION_TIMEOUT.body };
        } else {
          result = integrationResponse(outcome, log);
        }
      }
      status = result.statusCode;
      send(res, result);
    } catch (err) {
      log(`error serving ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, { statusCode: 500, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"internal_error","message":"internal error"}}' });
    } finally {
      log(`${req.method} ${req.url} ${status} ${(performance.now() - started).toFixed(1)}ms`);
    }
  };
}
