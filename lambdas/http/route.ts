/**
 * One route of the API: its entry in the route table (method, path, who may call it), the schemas of
 * its path, query and body, and a handler that receives them parsed. Parsing and validation happen
 * here, once, for every route.
 */
import { gunzipSync } from 'node:zlib';
import type { z } from 'zod';
import { BadRequestError, type FieldError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../domain/errors';
import { knownKeysAt, parseWith, problemsOf, unknownField } from '../domain/validate';
import { type Auth, type Method, ROUTES, type RouteName } from './route-table';
import type { HttpEvent, HttpResult } from './types';

const MiB = 1024 * 1024;

/**
 * Largest request body as JSON text: 2.5 MiB. Deployed, the body travels inside the Lambda event as a JSON
 * string, where escaping can double it (`\"` → `\\\"`), and a synchronous invocation takes at most 6 MB
 * (LAMBDA_SYNC_REQUEST_MAX_BYTES, lambdas/domain/aws-limits.ts): twice 2.5 MiB plus the event's headers
 * stays under it. A larger body travels compressed ({@link MAX_COMPRESSED_BODY_BYTES}).
 */
export const MAX_BODY_BYTES = 2.5 * MiB;

/**
 * Largest compressed body (`Content-Encoding: gzip`) as received: 4 MiB. HTTP API hands a body of a binary
 * type base64-encoded (HTTP_API_TEXT_MEDIA_TYPES), 4/3 of it, 5.33 MiB: under Lambda's 6 MB with the
 * headers. The largest definition the limits are made for (README "Limits": 10,000 tasks, every field)
 * is about 1.1 MB gzipped (test/api/large-definition.test.ts).
 */
export const MAX_COMPRESSED_BODY_BYTES = 4 * MiB;

/**
 * Largest body once decompressed: 32 MiB, room for the largest definition (16 MB as compact JSON,
 * MAX_DEFINITION_BYTES in lambdas/engine/definitions.ts) pretty-printed. Decompression stops there, so a
 * small body that inflates without end costs no more than this.
 */
export const MAX_DECOMPRESSED_BODY_BYTES = 32 * MiB;

/** How a client sends a body too large as text (README "Large definitions"). */
const COMPRESS_HINT = `send it gzip-compressed (Content-Encoding: gzip, Content-Type: application/octet-stream): at most ${MAX_COMPRESSED_BODY_BYTES} bytes compressed, ${MAX_DECOMPRESSED_BODY_BYTES} decompressed`;

export interface Parsed<P, Q, B, A = undefined> {
  path: P;
  query: Q;
  body: B;
  /** What `authorize` answered (the caller's identity). */
  auth: A;
  event: HttpEvent;
}

/** What a route adds to its entry in the route table (route-table.ts). */
export interface RouteSpec<PS extends z.ZodType, QS extends z.ZodType, BS extends z.ZodType, A> {
  params?: PS;
  query?: QS;
  /** Absent: the route takes no body (one sent is ignored). `optionalBody`: an empty body is `undefined`. */
  body?: BS;
  optionalBody?: boolean;
  /** Runs after path and query are valid and before the body is parsed (token checks). */
  authorize?: (req: { path: z.output<PS>; event: HttpEvent }) => Promise<A>;
  handler: (req: Parsed<z.output<PS>, z.output<QS>, z.output<BS>, A>) => Promise<HttpResult>;
}

export interface Route {
  method: Method;
  /** API Gateway style: `/api/processes/{process_id}`. */
  path: string;
  auth: Auth;
  summary: string;
  schemas: { params?: z.ZodType; query?: z.ZodType; body?: z.ZodType };
  handle: (event: HttpEvent) => Promise<HttpResult>;
}

/** Query string → object; a key given more than once becomes an array. */
export function parseQuery(raw: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(raw ?? '')) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { ...out };
}

function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) return headers[k];
  return undefined;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * The body's text and whether it came compressed: as sent (a 413 past {@link MAX_BODY_BYTES}), or
 * decompressed when `Content-Encoding: gzip` (a 413 past {@link MAX_COMPRESSED_BODY_BYTES} compressed or
 * {@link MAX_DECOMPRESSED_BODY_BYTES} decompressed).
 */
function bodyText(event: HttpEvent): { text: string; compressed: boolean } {
  const sent = event.body === undefined || event.body === null ? '' : event.body;
  const encoding = header(event, 'content-encoding')?.trim().toLowerCase();
  if (encoding === undefined || encoding === '' || encoding === 'identity') {
    const raw = event.isBase64Encoded ? Buffer.from(sent, 'base64').toString('utf8') : sent;
    if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new PayloadTooLargeError(`body is larger than ${MAX_BODY_BYTES} bytes; ${COMPRESS_HINT}`, 'body');
    return { text: raw, compressed: false };
  }
  if (encoding !== 'gzip') throw new UnsupportedMediaTypeError(`content-encoding must be gzip, got "${encoding}"`, 'content-encoding');
  if (!event.isBase64Encoded) {
    // API Gateway handed the body over as text (its Content-Type is a text type): compressed bytes do not survive that.
    throw new UnsupportedMediaTypeError('a gzip-compressed body must be sent as Content-Type: application/octet-stream (API Gateway passes a JSON body as text, which compressed bytes do not survive)', 'content-type');
  }
  const compressed = Buffer.from(sent, 'base64');
  if (compressed.length > MAX_COMPRESSED_BODY_BYTES) throw new PayloadTooLargeError(`compressed body is larger than ${MAX_COMPRESSED_BODY_BYTES} bytes`, 'body');
  try {
    return { text: gunzipSync(compressed, { maxOutputLength: MAX_DECOMPRESSED_BODY_BYTES }).toString('utf8'), compressed: true };
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(`body is larger than ${MAX_DECOMPRESSED_BODY_BYTES} bytes once decompressed`, 'body');
    }
    throw new BadRequestError(`body is not valid gzip: ${(err as Error).message}`, 'body', 'invalid_body');
  }
}

/**
 * The JSON body of a request, or `undefined` when empty and allowed to be. A body may come gzip-compressed
 * (`Content-Encoding: gzip`, as `application/octet-stream` or JSON), for what is too large as text.
 */
export function parseBody(event: HttpEvent, optional: boolean): unknown {
  const { text: raw, compressed } = bodyText(event);
  if (raw.trim() === '') {
    if (optional) return undefined;
    throw new BadRequestError('body is required (JSON)', 'body', 'invalid_json');
  }
  const contentType = header(event, 'content-type')?.trim();
  if (contentType !== undefined && !JSON_TYPE.test(contentType) && !(compressed && /^application\/octet-stream\b/i.test(contentType))) {
    throw new UnsupportedMediaTypeError(`content-type must be application/json, got "${contentType}"`, 'content-type');
  }
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new BadRequestError(`body is not valid JSON: ${(err as Error).message}`, 'body', 'invalid_json');
  }
}

/** Path parameters as API Gateway gives them, or as the router matched them (still URL-encoded). */
function pathParams(event: HttpEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.pathParameters ?? {})) {
    if (v === undefined) continue;
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      throw new BadRequestError(`path parameter ${k} is not valid URL encoding`, k);
    }
  }
  return out;
}

/**
 * Path and query parsed together, so that every problem of both is answered at once. A query parameter
 * the route's schema does not name (any, when it has none) is refused, as an unknown body field is.
 */
function parsePathAndQuery(spec: { params?: z.ZodType; query?: z.ZodType }, event: HttpEvent): { path: unknown; query: unknown } {
  const problems: FieldError[] = [];
  const parse = (schema: z.ZodType | undefined, raw: Record<string, unknown>): unknown => {
    if (!schema) return {};
    const result = schema.safeParse(raw, { reportInput: true });
    if (result.success) return result.data;
    problems.push(...problemsOf(schema, result.error.issues));
    return undefined;
  };
  const path = parse(spec.params, pathParams(event));
  const rawQuery = parseQuery(event.rawQueryString);
  const known = spec.query ? knownKeysAt(spec.query, []) : [];
  for (const key of Object.keys(rawQuery)) {
    if (!known.includes(key)) problems.push(unknownField(key, key, known, 'query parameter'));
  }
  const query = parse(spec.query, rawQuery);
  if (problems.length > 0) throw BadRequestError.of(problems);
  return { path, query };
}

export function defineRoute<
  PS extends z.ZodType = z.ZodType,
  QS extends z.ZodType = z.ZodType,
  BS extends z.ZodType = z.ZodType,
  A = undefined,
>(name: RouteName, spec: RouteSpec<PS, QS, BS, A>): Route {
  const entry = ROUTES[name];
  return {
    method: entry.method,
    path: entry.path,
    auth: entry.auth,
    summary: entry.summary,
    schemas: { params: spec.params, query: spec.query, body: spec.body },
    handle: async (event) => {
      const parsed = parsePathAndQuery(spec, event);
      const path = parsed.path as z.output<PS>;
      const query = parsed.query as z.output<QS>;
      const auth = (spec.authorize ? await spec.authorize({ path, event }) : undefined) as A;
      let body = undefined as z.output<BS>;
      if (spec.body) {
        const raw = parseBody(event, spec.optionalBody ?? false);
        if (raw !== undefined) body = parseWith(spec.body, raw);
      }
      return spec.handler({ path, query, body, auth, event });
    },
  };
}

export { header };
