/**
 * The CLI's HTTP client: plain requests to the local mode, SigV4-signed requests (service
 * `execute-api`, credentials from the standard AWS chain) to a deployed API.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly path: string,
  ) {
    let message = body;
    try {
      // A 400 lists every problem of the request (`errors`); show them all, not only the first.
      const parsed = JSON.parse(body) as { error?: { message?: string }; errors?: { message?: string }[] };
      const all = (parsed.errors ?? []).map((e) => e.message).filter((m): m is string => typeof m === 'string');
      message = all.length > 1 ? all.join('; ') : (parsed.error?.message ?? body);
    } catch {
      // not JSON: keep the text
    }
    super(`${status} ${path}: ${message}`);
    this.name = 'ApiError';
  }
}

/** The API did not answer at all: nothing listens on its URL, its host name does not resolve, or it timed out. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    /** Why, in a few words: `connection refused`, `host not found`, `no answer within 30 s`, ... */
    readonly why: string,
  ) {
    super(`cannot reach Sundial at ${url} (${why})`);
    this.name = 'UnreachableError';
  }
}

/** Node's fetch fails with a bare `fetch failed`; the system error code in its cause says why. */
function unreachableWhy(e: unknown, timeoutMs: number): string | undefined {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  if (err.name !== 'TypeError' || err.message !== 'fetch failed') return undefined;
  const code = err.cause?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'connection closed',
  };
  return (code && words[code]) ?? err.cause?.message ?? code ?? 'fetch failed';
}

export interface ClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 or https://abc.execute-api.eu-west-1.amazonaws.com */
  url: string;
  /** Sign with SigV4. @default true unless the host is loopback */
  sign?: boolean;
  /** @default from the host name (`*.execute-api.<region>.amazonaws.com`), else AWS_REGION */
  region?: string;
  /** Longest wait for one answer. @default 30000 */
  timeoutMs?: number;
}

export interface Response<T> {
  status: number;
  headers: Headers;
  body: T;
}

const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 (and HMAC-SHA-256 with a secret) in the shape @smithy/signature-v4 takes. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** Whether a host name is this machine (the local mode), which is called unsigned. */
export const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\./.test(host);

export function regionOf(url: URL, fallback = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1] ?? fallback;
}

/** Bodies larger than this as JSON are sent gzip-compressed: the API's limit for a body as text (2.5 MiB). */
export const COMPRESS_BODIES_OVER = 2.5 * 1024 * 1024;

export class SundialClient {
  private readonly base: URL;
  private readonly sign: boolean;
  private signer?: Promise<{ sign: (req: any) => Promise<{ headers: Record<string, string> }> }>;

  constructor(private readonly options: ClientOptions) {
    this.base = new URL(options.url.replace(/\/+$/, ''));
    this.sign = options.sign ?? !isLoopback(this.base.hostname);
  }

  get url(): string {
    return this.base.toString().replace(/\/+$/, '');
  }

  private async signer_() {
    this.signer ??= (async () => {
      const [{ SignatureV4 }, { fromNodeProviderChain }] = await Promise.all([import('@smithy/signature-v4'), import('@aws-sdk/credential-providers')]);
      const region = this.options.region ?? regionOf(this.base);
      if (!region) throw new Error('cannot tell the AWS region of the API: set AWS_REGION or --region');
      return new SignatureV4({ service: 'execute-api', region, credentials: fromNodeProviderChain(), sha256: Sha256 });
    })();
    return this.signer;
  }

  async request<T = any>(method: string, path: string, options: { query?: Record<string, string | string[] | undefined>; body?: unknown } = {}): Promise<Response<T>> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v === undefined) continue;
      query[k] = v;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const json = options.body === undefined ? undefined : JSON.stringify(options.body);
    // Past what the API takes as text (2.5 MiB, MAX_BODY_BYTES in lambdas/http/route.ts: a 10,000-task
    // definition), the body goes gzip-compressed, as application/octet-stream (README "Limits").
    const compress = json !== undefined && Buffer.byteLength(json) > COMPRESS_BODIES_OVER;
    const body = compress ? gzipSync(json) : json;
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(compress ? { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' } : json !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    if (this.sign) {
      const signer = await this.signer_();
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        body,
      });
      headers = signed.headers;
    }
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    let res: globalThis.Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      const why = unreachableWhy(e, timeoutMs);
      if (why === undefined) throw e;
      throw new UnreachableError(this.url, why);
    }
    if (!res.ok) throw new ApiError(res.status, text, `${method} ${path}`);
    const isJson = /json/.test(res.headers.get('content-type') ?? '') && text !== '';
    return { status: res.status, headers: res.headers, body: (isJson ? JSON.parse(text) : text) as T };
  }
}
