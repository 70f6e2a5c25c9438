/** Unit tests of lambdas/http/compression.ts: an answer past what Lambda may return goes compressed. */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, test } from 'vitest';
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { acceptsGzip, fitResponse, resultBytes } from '../../lambdas/http/compression';
import { json } from '../../lambdas/http/types';
import { httpEvent } from '../helpers/factories';

/** A JSON answer of about `bytes` bytes as Lambda counts it (its quotes escaped once more). */
const answerOf = (bytes: number) => json(200, { padding: 'x'.repeat(bytes) });

describe('acceptsGzip', () => {
  test.each([
    ['gzip, deflate', true],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', true],
    ['*', true],
    ['GZIP', true],
    ['identity', false],
    ['gzip;q=0', false],
    ['gzip;q=0.0, deflate', false],
    ['', false],
  ])('reads Accept-Encoding %j as %s', (header, expected) => {
    // Act + Assess
    expect(acceptsGzip(httpEvent({ headers: { 'Accept-Encoding': header } }))).toBe(expected);
  });
});

describe('fitResponse', () => {
  it('leaves an answer that fits as it is, whatever the client takes', () => {
    // Prepare
    const answer = answerOf(LAMBDA_SYNC_RESPONSE_MAX_BYTES - 1000);

    // Act
    const fitted = fitResponse(httpEvent({ headers: { 'accept-encoding': 'gzip' } }), answer);

    // Assess
    expect(resultBytes(answer)).toBeLessThanOrEqual(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    expect(fitted).toBe(answer);
  });

  it('compresses an answer past the limit for a client that takes gzip: base64, isBase64Encoded, Content-Encoding', () => {
    // Prepare
    const answer = answerOf(LAMBDA_SYNC_RESPONSE_MAX_BYTES);

    // Act
    const fitted = fitResponse(httpEvent({ headers: { 'accept-encoding': 'gzip, deflate' } }), answer);

    // Assess
    expect(fitted.isBase64Encoded).toBe(true);
    expect(fitted.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-type': answer.headers['content-type'] });
    expect(gunzipSync(Buffer.from(fitted.body!, 'base64')).toString('utf8')).toBe(answer.body);
    expect(resultBytes(fitted)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
  });

  it('answers 406 naming the limit and Accept-Encoding to a client that does not take gzip', () => {
    // Prepare: escaped quotes make the answer pass the limit with a body under it
    const answer = json(200, { quotes: '"'.repeat(LAMBDA_SYNC_RESPONSE_MAX_BYTES / 3) });

    // Act
    const fitted = fitResponse(httpEvent({ headers: {} }), answer);

    // Assess
    expect(Buffer.byteLength(answer.body!)).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    expect(fitted.statusCode).toBe(406);
    expect(JSON.parse(fitted.body!).error).toMatchObject({ code: 'response_too_large', field: 'accept-encoding' });
    expect(JSON.parse(fitted.body!).error.message).toContain(String(LAMBDA_SYNC_RESPONSE_MAX_BYTES));
  });
});
