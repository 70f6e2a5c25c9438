/** Unit tests of lambdas/http/route.ts: query and body parsing shared by every route. */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, test } from 'vitest';
import { MAX_BODY_BYTES, MAX_COMPRESSED_BODY_BYTES, MAX_DECOMPRESSED_BODY_BYTES, parseBody, parseQuery } from '../../lambdas/http/route';
import { refusalOf } from '../helpers/assert';
import { httpEvent } from '../helpers/factories';

describe('parseQuery', () => {
  test.each([
    [undefined, {}],
    ['', {}],
    ['a=1', { a: '1' }],
    ['a=1&b=2', { a: '1', b: '2' }],
    ['s=a&s=b', { s: ['a', 'b'] }],
    ['s=a&x=1&s=b&s=c', { s: ['a', 'b', 'c'], x: '1' }],
    ['s=a,b', { s: 'a,b' }],
    ['flag', { flag: '' }],
    ['name=a%20b&t=2026-03-01T12%3A00%3A00%2B01%3A00', { name: 'a b', t: '2026-03-01T12:00:00+01:00' }],
    ['plus=a+b', { plus: 'a b' }],
  ])('reads %j as %j', (raw, expected) => {
    // Act
    const query = parseQuery(raw);

    // Assess
    expect(query).toEqual(expected);
  });

  it('keeps a repeated key in the order given', () => {
    // Act
    const query = parseQuery('allowed_statuses=failed&allowed_statuses=running');

    // Assess
    expect(query.allowed_statuses).toEqual(['failed', 'running']);
  });

  it('treats __proto__ as an ordinary key, never as the prototype', () => {
    // Act
    const query = parseQuery('__proto__=x&constructor=y');

    // Assess
    expect(Object.getPrototypeOf(query)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(query, '__proto__')?.value).toBe('x');
    expect(query.constructor).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('parseBody', () => {
  it('parses a JSON body', () => {
    // Act
    const body = parseBody(httpEvent({ method: 'PUT', body: '{"a":1}', headers: { 'content-type': 'application/json' } }), false);

    // Assess
    expect(body).toEqual({ a: 1 });
  });

  test.each(['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json', 'application/vnd.api+json'])(
    'accepts the content type %s',
    (contentType) => {
      // Act
      const body = parseBody(httpEvent({ body: '[1]', headers: { 'Content-Type': contentType } }), false);

      // Assess
      expect(body).toEqual([1]);
    },
  );

  it('accepts a body without a content type', () => {
    // Act + Assess
    expect(parseBody(httpEvent({ body: '{}' }), false)).toEqual({});
  });

  it('decodes a base64-encoded body', () => {
    // Act
    const body = parseBody(httpEvent({ body: Buffer.from('{"b":2}').toString('base64'), isBase64Encoded: true }), false);

    // Assess
    expect(body).toEqual({ b: 2 });
  });

  test.each(['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp', 'text/json'])('refuses the content type %s with 415', (contentType) => {
    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: '{}', headers: { 'content-type': contentType } }), false));

    // Assess
    expect(err.statusCode).toBe(415);
    expect(err.field).toBe('content-type');
    expect(err.message).toContain(contentType);
  });

  it(`refuses a body of more than ${MAX_BODY_BYTES} bytes with 413`, () => {
    // Prepare
    const raw = JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) });

    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: raw }), false));

    // Assess
    expect(err.statusCode).toBe(413);
    expect(err.field).toBe('body');
  });

  it('counts the limit in bytes, not characters', () => {
    // Prepare: fewer characters than the limit, three bytes each
    const raw = JSON.stringify({ padding: '€'.repeat(Math.ceil(MAX_BODY_BYTES / 2)) });

    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: raw }), false));

    // Assess
    expect(err.statusCode).toBe(413);
  });

  it('names the limit, and how to send more, when it refuses a body as text', () => {
    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: 'x'.repeat(MAX_BODY_BYTES + 1) }), false));

    // Assess
    expect(err.message).toContain(String(MAX_BODY_BYTES));
    expect(err.message).toContain('Content-Encoding: gzip');
  });

  test.each(['application/octet-stream', 'application/json'])('decodes a gzip-compressed body sent as %s (base64 in the event)', (contentType) => {
    // Prepare: larger than a text body may be
    const raw = JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) });
    const event = httpEvent({ body: gzipSync(raw).toString('base64'), isBase64Encoded: true, headers: { 'Content-Encoding': 'gzip', 'content-type': contentType } });

    // Act
    const body = parseBody(event, false);

    // Assess
    expect(body).toEqual(JSON.parse(raw));
  });

  test.each([
    ['compressed bytes handed over as text (a JSON Content-Type, deployed)', { body: gzipSync('{}').toString('latin1'), headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' } }, 415, 'content-type'],
    ['a Content-Encoding other than gzip', { body: Buffer.from('{}').toString('base64'), isBase64Encoded: true, headers: { 'content-encoding': 'br' } }, 415, 'content-encoding'],
    ['bytes that are not gzip', { body: Buffer.from('{}').toString('base64'), isBase64Encoded: true, headers: { 'content-encoding': 'gzip' } }, 400, 'body'],
    [`more than ${MAX_COMPRESSED_BODY_BYTES} bytes compressed`, { body: randomBytes(MAX_COMPRESSED_BODY_BYTES + 1).toString('base64'), isBase64Encoded: true, headers: { 'content-encoding': 'gzip' } }, 413, 'body'],
    [`more than ${MAX_DECOMPRESSED_BODY_BYTES} bytes decompressed`, { body: gzipSync(Buffer.alloc(MAX_DECOMPRESSED_BODY_BYTES + 1, ' ')).toString('base64'), isBase64Encoded: true, headers: { 'content-encoding': 'gzip' } }, 413, 'body'],
    ['application/octet-stream not compressed', { body: Buffer.from('{}').toString('base64'), isBase64Encoded: true, headers: { 'content-type': 'application/octet-stream' } }, 415, 'content-type'],
  ])('refuses %s', (_case, event, status, field) => {
    // Act
    const err = refusalOf(() => parseBody(httpEvent(event), false));

    // Assess
    expect(err.statusCode).toBe(status);
    expect(err.field).toBe(field);
  });

  test.each([undefined, '', '   '])('refuses a missing body %j when one is required', (raw) => {
    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: raw }), false));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('invalid_json');
    expect(err.field).toBe('body');
  });

  it('answers undefined for an empty body when the body is optional', () => {
    // Act + Assess
    expect(parseBody(httpEvent({ body: '' }), true)).toBeUndefined();
  });

  test.each(['{', '{"a":1,}', "{'a':1}", 'undefined', 'not json'])('refuses malformed JSON %j with 400 on body', (raw) => {
    // Act
    const err = refusalOf(() => parseBody(httpEvent({ body: raw, headers: { 'content-type': 'application/json' } }), false));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('invalid_json');
    expect(err.field).toBe('body');
    expect(err.message).toMatch(/^body is not valid JSON/);
  });
});
