/**
 * Answers too large for Lambda, compressed. A synchronous invocation returns at most 6 MB, counted as the
 * JSON of the result (LAMBDA_SYNC_RESPONSE_MAX_BYTES, lambdas/domain/aws-limits.ts); past it API Gateway
 * answers a bare 500. The largest definition the limits allow is larger than that as JSON (README
 * "Limits"): such an answer goes gzip-compressed, base64-encoded with `isBase64Encoded`, which HTTP API
 * decodes before it sends the bytes on ("For the response path, API Gateway inspects the isBase64Encoded
 * flag": https://aws.amazon.com/blogs/compute/handling-binary-data-using-amazon-api-gateway-http-apis/).
 * Every answer that fits goes as it is, whatever the client accepts.
 */
import { gzipSync } from 'node:zlib';
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../domain/aws-limits';
import type { HttpEvent, HttpResult } from './types';

/** Bytes Lambda counts for `result`: the JSON it returns to API Gateway. */
export function resultBytes(result: HttpResult): number {
  return Buffer.byteLength(JSON.stringify(result));
}

/** Whether the request's `Accept-Encoding` takes gzip (`gzip` or `*`, without `q=0`). */
export function acceptsGzip(event: HttpEvent): boolean {
  const headers = event.headers ?? {};
  const value = Object.entries(headers).find(([k]) => k.toLowerCase() === 'accept-encoding')?.[1] ?? '';
  return value.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/**
 * `result` as Lambda can return it: unchanged when it fits; gzip-compressed when it does not and the
 * client takes gzip; else a 406 that says why (rather than API Gateway's bare 500).
 */
export function fitResponse(event: HttpEvent, result: HttpResult): HttpResult {
  const body = result.body ?? '';
  // Escaping at most doubles a body inside the result's JSON: most answers are known to fit without measuring.
  if (result.isBase64Encoded || 2 * Buffer.byteLength(body) + 64 * 1024 < LAMBDA_SYNC_RESPONSE_MAX_BYTES) return result;
  const size = resultBytes(result);
  if (size <= LAMBDA_SYNC_RESPONSE_MAX_BYTES) return result;
  if (!acceptsGzip(event)) {
    return {
      statusCode: 406,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        error: {
          code: 'response_too_large',
          message: `the answer is ${size} bytes, over the ${LAMBDA_SYNC_RESPONSE_MAX_BYTES} bytes a Lambda function may return; send Accept-Encoding: gzip to receive it compressed`,
          field: 'accept-encoding',
        },
      }),
    };
  }
  return {
    ...result,
    headers: { ...result.headers, 'content-encoding': 'gzip', vary: 'accept-encoding' },
    body: gzipSync(body).toString('base64'),
    isBase64Encoded: true,
  };
}
