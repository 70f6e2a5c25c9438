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
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/**
 * Counts every command sent through the store's client (the DocumentClient shares the low-level
 * client's middleware stack) and asks DynamoDB for the capacity each consumed (`ReturnConsumedCapacity:
 * TOTAL`, which dynalite answers like DynamoDB: 1 WRU per KB written, 1 RRU per 4 KB read consistently).
 * Answers a reader of the counts so far and a reset.
 */
export function countDynamo(db: Db): { read: () => DynamoCounts; reset: () => void } {
  let c: DynamoCounts;
  const reset = () => {
    c = { calls: {}, readUnits: 0, writeUnits: 0, reads: 0, writes: 0 };
  };
  reset();
  db.client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity ??= 'TOTAL';
      c.calls[name] = (c.calls[name] ?? 0) + 1;
      if (READS.has(name)) c.reads++;
      if (WRITES.has(name)) c.writes++;
      if (name === 'BatchWriteItemCommand') {
        for (const reqs of Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>)) c.writes += reqs.length;
      }
      const out = await next(args);
      const consumed = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      for (const cc of (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{ CapacityUnits?: number }>) {
        if (READS.has(name)) c.readUnits += cc.CapacityUnits ?? 0;
        else c.writeUnits += cc.CapacityUnits ?? 0;
      }
      return out;
    },
    { step: 'initialize', name: 'benchCounter' },
  );
  return { read: () => structuredClone(c), reset };
}
