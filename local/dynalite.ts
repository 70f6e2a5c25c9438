/**
 * The embedded DynamoDB: dynalite in a worker thread of this process (local/dynalite-worker.mjs), its
 * LevelDB under `<dataDir>/dynamodb` so that data survives restarts (in memory without a data
 * directory). The table is created with the same keys and indexes as the deployed one
 * (lambdas/store/keys.ts). Its loopback endpoint answers any other DynamoDB client too.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { createDb, type Db } from '../lambdas/store';
import { INDEXES, type IndexName } from '../lambdas/store/keys';

export const LOCAL_TABLE_NAME = 'sundial';

export interface EmbeddedDynamo {
  endpoint: string;
  db: Db;
  /** Settles when the store stops by itself (its thread crashed or exited), never after close(). */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/**
 * Client settings for the local store: no real credentials exist or are needed. Requests are serialized by
 * the SDK as for DynamoDB (with an authorization header of SigV4's form: {@link signWithoutKeys}) and
 * answered by dynalite's own HTTP request handler, in a worker thread of this process (see {@link WorkerHandler}).
 */
function clientConfig(endpoint: string, handler: WorkerHandler) {
  return {
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    requestHandler: handler,
  };
}

/** The parts of an SDK HTTP request and response the handler reads and writes. */
interface SdkRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}
interface SdkResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** A message of the store's worker thread (local/dynalite-worker.mjs has the protocol). */
type WorkerMessage =
  | { t: 'ready'; port: number }
  | { t: 'response'; id: number; statusCode: number; headers: Record<string, string>; body: string }
  | { t: 'failed'; id: number; message: string }
  | { t: 'closed'; error?: string };

/**
 * The SDK's HTTP handler for the embedded store: hands each request to dynalite's HTTP request listener,
 * which runs in a worker thread (local/dynalite-worker.mjs), without a socket. A loopback round trip
 * (HTTP parsing on both sides) cost about a fifth of each store call's CPU time; dynalite's own work, about
 * two fifths, now runs on another core than the server's (docs/PERFORMANCE.md). What dynalite reads of
 * the request (method, url, headers, body) and writes to the response (status, headers, body) is the
 * whole of its HTTP surface. The worker keeps the process alive only while requests are in flight.
 */
class WorkerHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly pending = new Map<number, { resolve: (r: { response: SdkResponse }) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  /** Set once the worker is gone: every request then fails with it. */
  private stopped: Error | undefined;
  private closed: ((error?: string) => void) | undefined;
  private closing = false;
  readonly ready: Promise<number>;
  /** Settles with the reason when the worker stops without close(): every request fails from then on. */
  readonly failed: Promise<Error>;

  constructor(private readonly worker: Worker) {
    let started: (port: number) => void;
    let failedToStart: (err: Error) => void;
    this.ready = new Promise<number>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    worker.on('message', (m: WorkerMessage) => {
      if (m.t === 'ready') {
        worker.unref();
        started(m.port);
      }
      else if (m.t === 'closed') this.closed?.(m.error);
      else {
        const waiter = this.pending.get(m.id);
        if (!waiter) return;
        this.settled(m.id);
        if (m.t === 'failed') waiter.reject(new Error(`the local DynamoDB store failed a request: ${m.message}`));
        else waiter.resolve({ response: { statusCode: m.statusCode, headers: m.headers, body: Buffer.from(m.body) } });
      }
    });
    let failed: (err: Error) => void;
    this.failed = new Promise<Error>((resolve) => {
      failed = resolve;
    });
    const stop = (err: Error) => {
      this.stopped ??= err;
      failedToStart(err);
      if (!this.closing) failed(err);
      for (const [id, waiter] of this.pending) {
        this.settled(id);
        waiter.reject(err);
      }
      this.closed?.(err.message);
    };
    worker.on('error', (err) => stop(new Error(`the local DynamoDB store stopped: ${err.stack ?? err.message}`)));
    worker.on('exit', (code) => stop(new LocalStoreClosedError(`its thread exited (code ${code})`)));
  }

  handle(request: SdkRequest): Promise<{ response: SdkResponse }> {
    if (this.stopped) return Promise.reject(this.stopped);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(request.query ?? {})) for (const x of [v ?? ''].flat()) query.append(k, x);
    const body = request.body;
    // A plain view of the bytes (postMessage copies them): the SDK's JSON body is a Uint8Array subclass
    // whose valueOf (which Buffer.from calls) decodes it to a string, with a warning.
    const bytes =
      body === undefined || body === null || body === ''
        ? undefined
        : typeof body === 'string'
          ? body
          : body instanceof Uint8Array
            ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
            : String(body);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ t: 'request', id, method: request.method, url: `${request.path}${query.size > 0 ? `?${query}` : ''}`, headers, body: bytes });
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  /** Closes dynalite (its LevelDB) in the worker, then lets the worker end. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.stopped) return;
    this.worker.ref();
    const error = await new Promise<string | undefined>((resolve) => {
      this.closed = resolve;
      this.worker.postMessage({ t: 'close' });
    });
    this.stopped ??= new LocalStoreClosedError();
    await this.worker.terminate();
    if (error) throw new Error(`the local DynamoDB store did not close cleanly: ${error}`);
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}
}

export async function startDynamo(dataDir: string | undefined): Promise<EmbeddedDynamo> {
  let path: string | undefined;
  if (dataDir) {
    path = join(dataDir, 'dynamodb');
    mkdirSync(path, { recursive: true });
    const holder = storeLockHolder(path);
    if (holder !== undefined) {
      throw new UnusableStoreError(`the data directory ${dataDir} is in use by another Sundial server (process ${holder}); stop it first, or set SUNDIAL_DATA_DIR to another directory`);
    }
  }
  const handler = new WorkerHandler(new Worker(new URL('./dynalite-worker.mjs', import.meta.url), { workerData: { path } }));
  const port = await handler.ready;
  const endpoint = `http://127.0.0.1:${port}`;
  const config = clientConfig(endpoint, handler);
  const setup = new DynamoDBClient(config);
  let missingIndexes: IndexName[];
  try {
    missingIndexes = await ensureTable(setup, LOCAL_TABLE_NAME, path);
  } catch (err) {
    await handler.close().catch(() => undefined);
    throw err;
  }
  const db: Db = { ...createDb(LOCAL_TABLE_NAME, config), ...(missingIndexes.length > 0 ? { missingIndexes } : {}) };
  signWithoutKeys(db);
  const gate = trackInFlight(db);
  return {
    endpoint,
    db,
    failed: handler.failed,
    close: async () => {
      // dynalite closes its LevelDB between two steps of an action still running (it waits only for the
      // step in progress), and the failed step then throws out of its callback: an uncaught exception.
      // So: refuse new requests, let those already sent finish, and only then close the store.
      await gate.drain(CLOSE_DRAIN_MS);
      db.client.destroy();
      await handler.close();
    },
  };
}

/** How long close waits for requests already sent to the store before closing it anyway. */
const CLOSE_DRAIN_MS = 10_000;

/** The error a request gets once the local store is closing. */
export class LocalStoreClosedError extends Error {
  override readonly name = 'LocalStoreClosedError';
  constructor(detail = 'the local server is stopping') {
    super(`the local DynamoDB store is closed (${detail})`);
  }
}

/**
 * The local store's requests carry an `Authorization` header of SigV4's form with no signature worked out:
 * dynalite checks that the header names `Credential`, `Signature` and `SignedHeaders`, and that a date
 * header is there, but not the signature itself (it knows no key to check it with), and the local store has
 * no real credentials to sign with. Everything else of each request (the middleware, serialization,
 * retries, the handler) is the SDK's, as deployed. Signing was ≈ 30 % of the server thread's CPU per store
 * call locally (docs/PERFORMANCE.md, "Store calls"). Deployed, the clients sign with the SDK's default.
 */
function signWithoutKeys(db: Db): void {
  const config = db.client.config;
  config.signer = async () => ({
    sign: async (request: { headers: Record<string, string> }, options?: { signingDate?: Date }) => {
      const at = (options?.signingDate ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      request.headers['x-amz-date'] = at;
      request.headers.authorization = `AWS4-HMAC-SHA256 Credential=local/${at.slice(0, 8)}/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
      return request;
    },
  }) as unknown as Awaited<ReturnType<typeof config.signer>>;
}

/** Counts the requests in flight through the store; `drain` refuses new ones and resolves when none is left, or after `timeoutMs`. */
function trackInFlight(db: Db): { drain(timeoutMs: number): Promise<void> } {
  let inFlight = 0;
  let closing = false;
  let idle: (() => void) | undefined;
  db.doc.observe(async (_call, next) => {
    if (closing) throw new LocalStoreClosedError();
    inFlight++;
    try {
      return await next();
    } finally {
      inFlight--;
      if (inFlight === 0) idle?.();
    }
  });
  return {
    drain: async (timeoutMs) => {
      closing = true;
      if (inFlight === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        idle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    },
  };
}

/**
 * The process holding the store's LevelDB lock, when another one does: LevelDB locks `<store>/LOCK` with
 * fcntl (a POSIX lock, which Linux lists in /proc/locks with its holder's pid and the file's device and
 * inode, proc(5)). A second server on the same data dir would otherwise fail with dynalite's "Database is
 * closed" and a stack trace. Undefined when no other process holds it, or when it cannot be told (no
 * /proc/locks, no store yet).
 */
function storeLockHolder(storeDir: string): number | undefined {
  try {
    const { dev, ino } = statSync(join(storeDir, 'LOCK'), { bigint: true });
    // The device's major and minor numbers, as glibc's sys/sysmacros.h takes them out of a dev_t; /proc/locks
    // prints them in hex.
    const major = ((dev & 0xfff00n) >> 8n) | ((dev & 0xfffff00000000000n) >> 32n);
    const minor = (dev & 0xffn) | ((dev & 0xffffff00000n) >> 12n);
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      // `1: POSIX  ADVISORY  WRITE 32548 fe:00:2679114 0 EOF` (a `->` marks a waiter: not a holder)
      const m = /^\d+:\s+POSIX\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (!m || BigInt(m[4]!) !== ino || BigInt(`0x${m[2]}`) !== major || BigInt(`0x${m[3]}`) !== minor) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid) return pid;
    }
  } catch {
    /* no store yet, or no /proc/locks: dynalite's own error then */
  }
  return undefined;
}

/** A store the local mode cannot open, for a reason the user can mend (its message says how): `npm start` prints it without a stack. */
export class UnusableStoreError extends Error {
  override name = 'UnusableStoreError';
}

/** The local table's CreateTable input, with `indexes` (all of `INDEXES` when the local mode creates it). */
export function localTableInput(tableName: string, indexes: readonly (typeof INDEXES)[IndexName][]): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: ['pk', 'sk', ...indexes.flatMap((i) => [i.pk, i.sk])].map((name) => ({
      AttributeName: name,
      AttributeType: 'S',
    })),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map((i) => ({
            IndexName: i.name,
            KeySchema: [
              { AttributeName: i.pk, KeyType: 'HASH' },
              { AttributeName: i.sk, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: i.projection },
          })),
        }),
  };
}

/**
 * Creates the table unless it exists; answers the indexes of `INDEXES` an existing table lacks (one made
 * before they were added: dynalite cannot add an index to a table, so the store works around their absence).
 */
async function ensureTable(client: DynamoDBClient, tableName: string, path: string | undefined): Promise<IndexName[]> {
  const indexes = Object.values(INDEXES);
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // dynalite makes a created table ACTIVE by a timer of the process that created it: a start that
    // stopped in between left it CREATING for good, and every query of it is refused. It never held an
    // item (nothing is written to a CREATING table), and dynalite cannot delete it while it is CREATING.
    if (Table?.TableStatus === 'CREATING') {
      throw new UnusableStoreError(
        `the local store's table ${tableName}${path ? ` in ${path}` : ''} was left CREATING by a start that stopped before it was ready; it holds no data: remove ${path ?? 'the data dir'} and start again`,
      );
    }
    const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    return indexes.filter((i) => !present.has(i.name)).map((i) => i.name);
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  try {
    await client.send(new CreateTableCommand(localTableInput(tableName, indexes)));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  // dynalite answers CreateTable with CREATING and turns the table ACTIVE a tick later (createTableMs: 0);
  // a query in between is refused with ResourceNotFoundException.
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE')) return [];
    await new Promise((r) => setTimeout(r, 10));
  }
  return [];
}
