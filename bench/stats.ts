/** Small statistics and DynamoDB call counting shared by the benchmarks. */
import type { Db } from '../lambdas/store';

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
};

export const round = (x: number, digits = 2): number => +x.toFixed(digits);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What DynamoDB was asked, counted by a middleware on the client's stack. */
export interface DynamoCounts {
  /** Calls by command name (GetCommand, UpdateCommand, …). */
  calls: Record<string, number>;
  /** Read and write requests as DynamoDB on demand bills them (RRU/WRU), from ConsumedCapacity. */
  readUnits: number;
  writeUnits: number;
  /** Calls that read (Get, Query, BatchGet) and that write (Put, Update, Delete, BatchWrite items). */
  reads: number;
  writes: number;
  /**
   * Writes by the kind of item written ({@link itemKind}: SLOT, TASK, TASKID, STATS, DONE, RUN, ENTRY, …),
   * with `:create` for the items of a BatchWrite (a run's slots and done shards, at its trigger), `:expiry`
   * for the writes that only set or remove a finished run's `expires_at` (run-retention.ts), and the
   * counters a STATS write moves ({@link writeLabel}).
   */
  writesByKind: Record<string, number>;
}

/** One store call as the trace keeps it (`performance.now()` times). */
export interface TracedCall {
  start: number;
  end: number;
  command: string;
  kind: string;
}

/**
 * The kind of an item, from its key: the sort key's prefix in a run's partition (`RUN`, `SLOT`, `TASK`,
 * `DONE`, `ENTRY`, `NOTIFIED`), else the partition key's (`TASKID`, `STATS`, `SCHED`, `DEF`).
 */
export function itemKind(key: { pk?: unknown; sk?: unknown } | undefined): string {
  const pk = String(key?.pk ?? '?');
  const sk = String(key?.sk ?? '?');
  return pk.startsWith('RUN#') ? (sk.split('#')[0] ?? sk) : (pk.split('#')[0] ?? pk);
}

/**
 * The label of a write: its item's kind, with `:expiry` for an update that only sets or removes the TTL
 * attribute (retention, at a run's end: no status moved, no set added to, as the end writes that stamp
 * their own expiry do), and for a counter shard which counters it moves (`STATS:tasks`, `STATS:runs`,
 * `STATS:other`).
 */
function writeLabel(kind: string, input: Record<string, unknown>): string {
  const names = Object.values((input.ExpressionAttributeNames ?? {}) as Record<string, string>);
  const addsToASet = /\b(ADD|DELETE)\b/.test(String(input.UpdateExpression ?? ''));
  if (names.includes('expires_at') && !names.includes('status') && !addsToASet) return `${kind}:expiry`;
  if (kind !== 'STATS') return kind;
  const moved = new Set(names.map((n) => (n.startsWith('tasks_') ? 'tasks' : n.startsWith('runs_') ? 'runs' : 'other')));
  return `STATS:${[...moved].sort().join('+')}`;
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/**
 * Counts every command sent through the store's client (an observer of its document client) and asks DynamoDB for the capacity each consumed (`ReturnConsumedCapacity:
 * TOTAL`, which dynalite answers like DynamoDB: 1 WRU per KB written, 1 RRU per 4 KB read consistently).
 * Answers a reader of the counts so far and a reset.
 */
export function countDynamo(db: Db): { read: () => DynamoCounts; reset: () => void; trace: (on: boolean) => TracedCall[] } {
  let c: DynamoCounts;
  let traced: TracedCall[] | undefined;
  const reset = () => {
    c = { calls: {}, readUnits: 0, writeUnits: 0, reads: 0, writes: 0, writesByKind: {} };
  };
  const wrote = (kind: string) => {
    c.writes++;
    c.writesByKind[kind] = (c.writesByKind[kind] ?? 0) + 1;
  };
  reset();
  db.doc.observe(async (call, next) => {
    const name = call.name;
    const input = call.input as Record<string, unknown>;
    input.ReturnConsumedCapacity ??= 'TOTAL';
    c.calls[name] = (c.calls[name] ?? 0) + 1;
    if (READS.has(name)) c.reads++;
    const kind = itemKind((input.Key ?? input.Item) as Record<string, unknown> | undefined);
    if (WRITES.has(name)) wrote(writeLabel(kind, input));
    if (name === 'BatchWriteItemCommand') {
      for (const reqs of Object.values((input.RequestItems ?? {}) as Record<string, Array<{ PutRequest?: { Item?: Record<string, unknown> }; DeleteRequest?: { Key?: Record<string, unknown> } }>>)) {
        for (const req of reqs) wrote(req.PutRequest ? `${itemKind(req.PutRequest.Item)}:create` : `${itemKind(req.DeleteRequest?.Key)}:delete`);
      }
    }
    const start = performance.now();
    const kept = traced; // a call that fails its condition is a call too
    const out = await next().finally(() => kept?.push({ start, end: performance.now(), command: name, kind }));
    const consumed = (out as { ConsumedCapacity?: unknown }).ConsumedCapacity;
    for (const cc of (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{ CapacityUnits?: number }>) {
      if (READS.has(name)) c.readUnits += cc.CapacityUnits ?? 0;
      else c.writeUnits += cc.CapacityUnits ?? 0;
    }
    return out;
  });
  return {
    read: () => structuredClone(c),
    reset,
    /** Starts (with `true`) or stops keeping every call's start and end; answers the calls kept so far. */
    trace: (on) => {
      const kept = traced ?? [];
      traced = on ? [] : undefined;
      return kept;
    },
  };
}
