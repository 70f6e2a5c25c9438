/**
 * Fuzzing helpers: a raw HTTP client (any method, any path bytes Node lets through, any body and
 * content type), a snapshot of the whole table (to prove a refused request wrote nothing), the check
 * every answer must pass, and a JSON mutator for fast-check.
 */
import { Agent, request } from 'node:http';
import { ScanCommand } from '../../lambdas/store/sdk';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Services } from '../../lambdas/api/ports';

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Node refuses request paths with characters outside `\x21`–`\xff`; everything else goes on the wire. */
export function wirePath(path: string): string {
  return path.replace(/[^\x21-\xff]/gu, (c) => encodeURIComponent(c));
}

/** One request with nothing normalised on the way (unlike fetch, which resolves `..` and re-encodes). */
export function raw(baseUrl: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, method, path: wirePath(path), headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Every item of the table, in key order, as one string (tests only: the table is small). */
export async function snapshot(services: Services): Promise<string> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await services.store.db.doc.send(new ScanCommand({ TableName: services.store.db.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...((out.Items ?? []) as Record<string, unknown>[]));
    start = out.LastEvaluatedKey;
  } while (start);
  const key = (i: Record<string, unknown>) => `${String(i.pk)}\u0000${String(i.sk)}`;
  items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return JSON.stringify(items, (_k, v: unknown) => (v instanceof Set ? [...v].sort() : v));
}

/**
 * What every answer must be: never a 5xx, and every refusal a 4xx in the JSON error shape
 * `{"error": {"code", "message", "field"?}}` (HEAD answers carry no body).
 */
export function expectWellFormed(res: RawResponse, method: string, what: string): void {
  expect(res.status, `${what} answered ${res.status}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  if (res.status < 400 || method === 'HEAD') return;
  expect(res.contentType, what).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as { error?: Record<string, unknown>; errors?: Array<Record<string, unknown>> };
  // `errors` (every problem of a 400) is the only addition beside `error`, and starts with it.
  expect(Object.keys(body).filter((k) => k !== 'errors'), what).toEqual(['error']);
  for (const error of [body.error ?? {}, ...(body.errors ?? [])]) {
    expect(typeof error.code, what).toBe('string');
    expect(typeof error.message, what).toBe('string');
    for (const k of Object.keys(error)) expect(['code', 'message', 'field'], what).toContain(k);
    if (error.field !== undefined) expect(typeof error.field, what).toBe('string');
  }
  if (body.errors !== undefined) expect(body.errors[0], what).toEqual(body.error);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Paths (as key lists) of every node of a JSON value, the root first. */
function nodePaths(value: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const out = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...nodePaths(v, [...at, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...nodePaths(v, [...at, k]));
  return out;
}

function setAt(root: Json, path: Array<string | number>, replace: (old: Json) => Json | undefined): Json {
  if (path.length === 0) return replace(root) ?? null;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = [...root];
    const next = setAt(copy[head as number] ?? null, rest, replace);
    if (rest.length === 0 && replace(copy[head as number] ?? null) === undefined) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  if (root !== null && typeof root === 'object') {
    const copy: { [key: string]: Json } = { ...root };
    if (rest.length === 0 && replace(copy[head as string] ?? null) === undefined) delete copy[head as string];
    else copy[head as string] = setAt(copy[head as string] ?? null, rest, replace);
    return copy;
  }
  return root;
}

const nasty = fc.constantFrom<Json>(
  '', ' ', '\u0000', '💥', 'a'.repeat(70), 'x'.repeat(40_000), '../../etc/passwd', '${jndi:x}', '<script>', '__proto__', 'constructor',
  -1, 0, 1e308, -1e-308, 2 ** 53 + 1, 1.5, Number.MAX_SAFE_INTEGER, true, false, null, [], {}, JSON.parse('{"__proto__":{"polluted":true}}') as Json,
  '2026-13-45T99:99:99Z', '1970-01-01T00:00:00Z', 'NaN', '0/15', '?', 'L', '5#9',
);

/** A JSON value anywhere from tame to hostile. */
export const anyJson: fc.Arbitrary<Json> = fc.oneof({ weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> }, { weight: 2, arbitrary: nasty });

/**
 * `valid` changed by 1–4 mutations: a node replaced (by any JSON or a hostile value), removed,
 * doubled (arrays), or given an unknown key (objects).
 */
export function mutated(valid: Json): fc.Arbitrary<Json> {
  const mutation = fc.tuple(fc.nat(), fc.constantFrom('replace', 'remove', 'extra', 'double'), anyJson, fc.string({ maxLength: 12 }));
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => {
    let value = valid;
    for (const [pick, op, replacement, key] of ms) {
      const paths = nodePaths(value);
      const path = paths[pick % paths.length] ?? [];
      value = setAt(value, path, (old) => {
        if (op === 'replace') return replacement;
        if (op === 'remove') return path.length === 0 ? replacement : undefined;
        if (op === 'double' && Array.isArray(old)) return [...old, ...old];
        if (op === 'extra' && old !== null && typeof old === 'object' && !Array.isArray(old)) return { ...old, [key]: replacement };
        return replacement;
      });
    }
    return value;
  });
}
