/**
 * The history section's seeding (bench/run.ts): runs of 10 definitions, one task attempt each, in the item
 * shapes the store writes (`RunStore`, the keys of lambdas/store/keys.ts), put into the local store with
 * BatchWriteItem.
 *
 * Why not through the store's SDK client: 100,000 runs are 8,000 BatchWriteItem calls, and the SDK's share
 * of each (the client's serializer walking every attribute, the SigV4 hash of the body, the middleware)
 * kept the server's thread busy while dynalite's thread, which does the writing, waited
 * (docs/PERFORMANCE.md, "How each figure is measured" 3). Here each request body is the store's own
 * marshalling of the items (`toAttributes`), serialized once and handed to the same in-process handler the
 * SDK sends through (local/dynalite.ts `WorkerHandler`), so that dynalite's thread is the bound.
 */
import type { Db } from '../lambdas/store';
import { keys } from '../lambdas/store/keys';
import { toAttributes } from '../lambdas/store/sdk';

/** BatchWriteItem takes at most 25 put or delete requests per call (https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/client/dynamodb/command/BatchWriteItemCommand). */
const BATCH = 25;
/** Calls in flight: enough to keep dynalite's thread busy while the server's builds the next bodies. */
const IN_FLIGHT = 16;

type Doc = Record<string, unknown>;

/** The run and task items of runs `from` … `from + count − 1`, as the store's document client would be given them. */
export function* historyItems(from: number, count: number): Generator<Doc> {
  const base = Date.parse('2020-01-01T00:00:00.000Z');
  for (let i = from; i < from + count; i++) {
    const processId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const taskId = `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const def = `hist-${i % 10}`;
    const start = new Date(base + i * 60_000).toISOString();
    const end = new Date(base + i * 60_000 + 30_000).toISOString();
    yield {
      ...keys.run(processId),
      ...keys.runIndexes(def, start, processId),
      process_id: processId,
      process_definition_name: def,
      start_time: start,
      end_time: end,
      status: 'succeeded',
      tasks_total: 1,
      environment_variables: [],
      done_shards_total: 1,
      done_shards: new Set([0]),
    };
    yield {
      ...keys.task(processId, taskId),
      ...keys.taskIndexes(def, 'only', start, taskId),
      task_id: taskId,
      process_id: processId,
      process_definition_name: def,
      task_definition_name: 'only',
      start_time: start,
      end_time: end,
      previous_attempt_count: 0,
      status: 'succeeded',
    };
  }
}

/** The parts of an SDK HTTP request the local store's handler reads (local/dynalite.ts `SdkRequest`). */
interface Request {
  method: string;
  protocol: string;
  hostname: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/**
 * One BatchWriteItem call through the client's own request handler; answers the requests it left
 * unprocessed. Any answer but 200 throws with its body: an item is never dropped silently.
 */
async function batchWrite(db: Db, requests: unknown[]): Promise<unknown[]> {
  const handler = db.client.config.requestHandler as unknown as { handle(request: Request): Promise<{ response: { statusCode: number; body: Uint8Array } }> };
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const request: Request = {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    path: '/',
    query: {},
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.BatchWriteItem',
      'x-amz-date': now,
      // dynalite reads the header's shape (algorithm, Credential, SignedHeaders, Signature), not the
      // signature itself (node_modules/dynalite/index.js, httpHandler): the local store has no secret.
      authorization: `AWS4-HMAC-SHA256 Credential=local/${now.slice(0, 8)}/local/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0`,
    },
    body: JSON.stringify({ RequestItems: { [db.tableName]: requests } }),
  };
  const { response } = await handler.handle(request);
  const text = Buffer.from(response.body).toString('utf8');
  if (response.statusCode !== 200) throw new Error(`seeding: BatchWriteItem answered ${response.statusCode}: ${text}`);
  const out = JSON.parse(text) as { UnprocessedItems?: Record<string, unknown[]> };
  return out.UnprocessedItems?.[db.tableName] ?? [];
}

/** Seeds runs `from` … `from + count − 1` (two items each) into the local store `db`. */
export async function seedHistory(db: Db, from: number, count: number): Promise<void> {
  const source = historyItems(from, count);
  const worker = async () => {
    for (;;) {
      let requests: unknown[] = [];
      for (let k = 0; k < BATCH; k++) {
        const next = source.next();
        if (next.done) break;
        requests.push({ PutRequest: { Item: toAttributes(next.value) } });
      }
      if (requests.length === 0) return;
      while (requests.length > 0) requests = await batchWrite(db, requests);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}
