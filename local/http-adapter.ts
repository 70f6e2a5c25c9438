/**
 * The local HTTP front door: a Node `http` request becomes the API Gateway HTTP API (payload 2.0) event
 * the Lambda handlers take, and their result becomes the response. Nothing else knows which runtime
 * it is in.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../lambdas/http/route';
import type { HttpEvent, HttpHandler, HttpResult } from '../lambdas/http/types';

/** Reads at most `limit` bytes of body; answers undefined when the body is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
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
  requestId: string;
  protocol?: string;
  sourceIp?: string;
}

/** The API Gateway HTTP API (payload 2.0) event of a request: what the Lambda handlers take. */
export function httpEvent(r: HttpRequestParts): HttpEvent {
  const now = Date.now();
  const rawQueryString = r.rawQueryString ?? new URLSearchParams(r.query).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: r.path,
    rawQueryString,
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
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body: r.body !== undefined && r.body.length > 0 ? r.body : undefined,
    isBase64Encoded: false,
  };
}

/** The event of a Node HTTP request (its body read already). */
export function toEvent(req: IncomingMessage, body: Buffer, requestId: string): HttpEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  return httpEvent({
    method: req.method ?? 'GET',
    path: url.pathname,
    query,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    body: body.toString('utf8'),
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

function send(res: ServerResponse, result: HttpResult): void {
  const body = result.body ?? '';
  res.writeHead(result.statusCode, { ...result.headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A Node request listener that serves `handler`, logging one line per request. */
export function nodeListener(handler: HttpHandler, log: (line: string) => void) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = randomUUID();
    let status = 500;
    try {
      const body = await readBody(req, MAX_BODY_BYTES);
      let result: HttpResult;
      if (body === undefined) {
        result = {
          statusCode: 413,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ error: { code: 'payload_too_large', message: `body is larger than ${MAX_BODY_BYTES} bytes`, field: 'body' } }),
        };
      } else {
        result = await handler(toEvent(req, body, requestId), lambdaContext(requestId));
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
