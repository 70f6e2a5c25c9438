/**
 * The embedded DynamoDB: dynalite in this process, listening on loopback (random port), its LevelDB
 * under `<dataDir>/dynamodb` so that data survives restarts. The table is created with the same keys
 * and indexes as the deployed one (lambdas/store/keys.ts).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createDb, type Db } from '../lambdas/store';
import { INDEXES } from '../lambdas/store/keys';

export const LOCAL_TABLE_NAME = 'sundial';

export interface EmbeddedDynamo {
  endpoint: string;
  db: Db;
  close(): Promise<void>;
}

/**
 * Client settings for the local store: no real credentials exist or are needed. Requests are signed and
 * serialized by the SDK as for DynamoDB and answered by dynalite's own HTTP request handler, called in
 * this process (see {@link InProcessHandler}).
 */
function clientConfig(endpoint: string, listener: RequestListener) {
  return {
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    requestHandler: new InProcessHandler(listener),
  };
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

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

/**
 * The SDK's HTTP handler for the embedded store: hands each request to dynalite's request listener in
 * this process, without a socket. A loopback round trip (Nagle-free keep-alive sockets, HTTP parsing on
 * both sides) cost about a fifth of each store call's CPU time, and the engine makes ~15 calls per
 * attempt (docs/PERFORMANCE.md). What dynalite reads of the request (method, url, headers, body events)
 * and writes to the response (status, headers, body) is the whole of its HTTP surface.
 */
class InProcessHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  constructor(private readonly listener: RequestListener) {}

  handle(request: SdkRequest): Promise<{ response: SdkResponse }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(request.query ?? {})) for (const x of [v ?? ''].flat()) query.append(k, x);
      const req = Object.assign(new EventEmitter(), {
        method: request.method,
        url: `${request.path}${query.size > 0 ? `?${query}` : ''}`,
        headers,
      });
      const res = {
        statusCode: 200,
        contentType: undefined as string | undefined,
        headers: {} as Record<string, string>,
        setHeader(name: string, value: unknown) {
          this.headers[name.toLowerCase()] = String(value);
        },
        end(body?: string | Buffer) {
          resolve({ response: { statusCode: this.statusCode, headers: this.headers, body: Buffer.from(body ?? '') } });
        },
      };
      try {
        this.listener(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        const body = request.body;
        if (body !== undefined && body !== null && body !== '') {
          // A view of the bytes, not Buffer.from(body): the SDK's JSON body is a Uint8Array subclass whose
          // valueOf (which Buffer.from calls) decodes it to a string, with a warning.
          const bytes = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.from(String(body));
          req.emit('data', bytes);
        }
        req.emit('end');
      } catch (err) {
        reject(err as Error);
      }
    });
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
  }
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const listener = server.listeners('request')[0] as RequestListener | undefined;
  if (!listener) throw new Error('dynalite has no HTTP request listener');
  const config = clientConfig(endpoint, listener);
  const setup = new DynamoDBClient(config);
  try {
    await ensureTable(setup, LOCAL_TABLE_NAME);
  } finally {
    setup.destroy();
  }
  const db = createDb(LOCAL_TABLE_NAME, config);
  const gate = trackInFlight(db);
  return {
    endpoint,
    db,
    close: async () => {
      // dynalite closes its LevelDB between two steps of an action still running (it waits only for the
      // step in progress), and the failed step then throws out of its callback: an uncaught exception.
      // So: refuse new requests, let those already sent finish, and only then close the server.
      await gate.drain(CLOSE_DRAIN_MS);
      db.client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How long close waits for requests already sent to the store before closing it anyway. */
const CLOSE_DRAIN_MS = 10_000;

/** The error a request gets once the local store is closing. */
export class LocalStoreClosedError extends Error {
  override readonly name = 'LocalStoreClosedError';
  constructor() {
    super('the local DynamoDB store is closed (the local server is stopping)');
  }
}

/**
 * Counts the requests in flight through the client (the document client shares its middleware stack);
 * `drain` refuses new ones and resolves when none is left, or after `timeoutMs`.
 */
function trackInFlight(db: Db): { drain(timeoutMs: number): Promise<void> } {
  let inFlight = 0;
  let closing = false;
  let idle: (() => void) | undefined;
  db.client.middlewareStack.add(
    (next) => async (args) => {
      if (closing) throw new LocalStoreClosedError();
      inFlight++;
      try {
        return await next(args);
      } finally {
        inFlight--;
        if (inFlight === 0) idle?.();
      }
    },
    { step: 'initialize', name: 'sundialLocalInFlight', priority: 'high' },
  );
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

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  const indexes = Object.values(INDEXES);
  try {
    await client.send(
      new CreateTableCommand({
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
        GlobalSecondaryIndexes: indexes.map((i) => ({
          IndexName: i.name,
          KeySchema: [
            { AttributeName: i.pk, KeyType: 'HASH' },
            { AttributeName: i.sk, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  // dynalite answers CreateTable with CREATING and turns the table ACTIVE a tick later (createTableMs: 0);
  // a query in between is refused with ResourceNotFoundException.
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
