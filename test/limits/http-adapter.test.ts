/**
 * The local HTTP front door answers as API Gateway's HTTP API does where AWS's limits are passed
 * (lambdas/domain/aws-limits.ts), and hands the handlers an event of the shape AWS documents
 * (test/fixtures/aws/apigw-v2-event.json).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HTTP_API_INTEGRATION_TIMEOUT_MS,
  HTTP_API_PAYLOAD_MAX_BYTES,
  LAMBDA_SYNC_REQUEST_MAX_BYTES,
  LAMBDA_SYNC_RESPONSE_MAX_BYTES,
} from '../../lambdas/domain/aws-limits';
import type { HttpEvent, HttpHandler, HttpResult } from '../../lambdas/http/types';
import { httpEvent, nodeListener, type NodeListenerOptions } from '../../local/http-adapter';

const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/aws/apigw-v2-event.json'), 'utf8')) as {
  event: Record<string, unknown>;
};

/** Maps whose keys are the request's own (headers, query parameters): only their value types are compared. */
const OPEN_MAPS = new Set(['headers', 'queryStringParameters']);

/** The event's shape: each key with its JSON type, recursively; open maps and arrays by their item type. */
function shape(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return [...new Set(value.map((v) => shape(v)))];
  if (value !== null && typeof value === 'object') {
    if (OPEN_MAPS.has(key)) return { '*': [...new Set(Object.values(value).map((v) => shape(v)))] };
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v, k)]),
    );
  }
  return typeof value;
}

/** The fixture without the parts API Gateway adds only for what Sundial does not use locally (see its `conditional`). */
function expectedLocalShape(): unknown {
  const event = structuredClone(fixture.event) as Record<string, any>;
  delete event.pathParameters;
  delete event.stageVariables;
  delete event.requestContext.authentication;
  delete event.requestContext.authorizer;
  return shape(event);
}

describe('httpEvent: the API Gateway HTTP API (payload 2.0) event, as AWS documents it', () => {
  it('has exactly the keys and types of the documented event, for a request with a query, cookies and a body', () => {
    // Prepare
    const request = {
      method: 'post',
      path: '/api/process_definitions/a/trigger',
      query: { parameter1: 'value1,value2', parameter2: 'value' },
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      headers: { host: 'localhost:3000', 'content-type': 'application/json', cookie: 'a=1; b=2', 'user-agent': 'curl/8' },
      body: '{}',
      requestId: 'id',
    };

    // Act
    const event = httpEvent(request);

    // Assess
    expect(shape(event)).toEqual(expectedLocalShape());
    expect(event.cookies).toEqual(['a=1', 'b=2']);
  });

  it('writes requestContext.time as API Gateway does (`12/Mar/2020:19:03:58 +0000`)', () => {
    // Prepare
    const documented = (fixture.event.requestContext as { time: string }).time;
    const format = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;

    // Act
    const event = httpEvent({ method: 'GET', path: '/', query: {}, headers: {}, requestId: 'r' });

    // Assess
    expect(documented).toMatch(format);
    expect(event.requestContext.time).toMatch(format);
    expect(Date.parse(event.requestContext.time.replace(/^(\d{2})\/(\w{3})\/(\d{4}):/, '$1 $2 $3 '))).toBe(
      Math.floor(event.requestContext.timeEpoch / 1000) * 1000,
    );
  });
});

describe("nodeListener: API Gateway's and Lambda's limits", () => {
  let server: Server | undefined;
  const lines: string[] = [];

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    lines.length = 0;
  });

  async function serve(handler: HttpHandler, options?: NodeListenerOptions): Promise<string> {
    server = createServer(nodeListener(handler, (line) => lines.push(line), options));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const ok = (body: string): HttpResult => ({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body });

  it(`answers a request body over ${HTTP_API_PAYLOAD_MAX_BYTES} bytes as HTTP API does (413, before the function)`, async () => {
    // Prepare
    let called = false;
    const url = await serve(async () => {
      called = true;
      return ok('');
    });

    // Act
    const res = await fetch(url, { method: 'POST', body: 'x'.repeat(HTTP_API_PAYLOAD_MAX_BYTES + 1) });

    // Assess
    expect(res.status).toBe(413);
    expect(await res.text()).toBe('HTTP content length exceeded 10485760 bytes.');
    expect(called).toBe(false);
  });

  it(`answers 413 {"message": "Request Too Long"} when the event passes Lambda's ${LAMBDA_SYNC_REQUEST_MAX_BYTES} bytes, before the function`, async () => {
    // Prepare: a JSON body grows in the event by its escaped quotes; a binary one is base64 there (4/3)
    let calls = 0;
    const url = await serve(async () => {
      calls++;
      return ok('');
    });
    const quotes = '"'.repeat(3_200_000); // 3.2 MB, 6.4 MB escaped
    const binary = Buffer.alloc(4_800_000); // 4.8 MB, 6.4 MB as base64

    // Act
    const text = await fetch(url, { method: 'PUT', body: JSON.stringify([quotes]), headers: { 'content-type': 'application/json' } });
    const bytes = await fetch(url, { method: 'PUT', body: binary, headers: { 'content-type': 'application/octet-stream' } });
    const fits = await fetch(url, { method: 'PUT', body: Buffer.alloc(4_000_000), headers: { 'content-type': 'application/octet-stream' } });

    // Assess
    for (const res of [text, bytes]) {
      expect(res.status).toBe(413);
      expect(await res.text()).toBe('{"message": "Request Too Long"}');
    }
    expect(fits.status).toBe(200);
    expect(calls).toBe(1);
  });

  it('hands a body of a text type over as text and any other base64-encoded, as HTTP API does', async () => {
    // Prepare
    const events: HttpEvent[] = [];
    const url = await serve(async (event) => {
      events.push(event);
      return ok('');
    });
    const gzipped = gzipSync('{"a":1}');

    // Act
    await fetch(url, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    await fetch(url, { method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } });
    await fetch(url, { method: 'POST', body: gzipped, headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' } });
    await fetch(url, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });

    // Assess
    expect(events.map((e) => [e.body, e.isBase64Encoded])).toEqual([
      ['{"a":1}', false],
      ['a=1', false],
      [gzipped.toString('base64'), true],
      [Buffer.from('a=1').toString('base64'), true],
    ]);
  });

  it('sends a base64-encoded result (isBase64Encoded) as its bytes, as HTTP API does', async () => {
    // Prepare
    const bytes = gzipSync('{"a":1}');
    const url = await serve(async () => ({ statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true }));

    // Act
    const res = await fetch(url);

    // Assess
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });

  it("answers 500 {\"message\":\"Internal Server Error\"} when the function's response passes Lambda's 6 MB", async () => {
    // Prepare: the response Lambda counts is the JSON of the result, so a body a little under the limit passes it.
    const url = await serve(async (event) => ok('x'.repeat(Number(event.queryStringParameters?.n))));
    const under = LAMBDA_SYNC_RESPONSE_MAX_BYTES - 1000;

    // Act
    const small = await fetch(`${url}/?n=${under}`);
    const large = await fetch(`${url}/?n=${LAMBDA_SYNC_RESPONSE_MAX_BYTES - 10}`);

    // Assess
    expect(small.status).toBe(200);
    expect((await small.text()).length).toBe(under);
    expect(large.status).toBe(500);
    expect(await large.text()).toBe('{"message":"Internal Server Error"}');
    expect(lines.some((l) => l.includes('maximum allowed payload size (6291556 bytes)'))).toBe(true);
  });

  it('answers 503 {"message":"Service Unavailable"} when the function outlives the integration timeout, and lets it finish', async () => {
    // Prepare
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const url = await serve(
      async () => {
        await released;
        finished();
        return ok('late');
      },
      { integrationTimeoutMs: 50 },
    );

    // Act
    const res = await fetch(url);
    release();

    // Assess
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('{"message":"Service Unavailable"}');
    await done;
    expect(HTTP_API_INTEGRATION_TIMEOUT_MS).toBe(30_000);
  });
});
