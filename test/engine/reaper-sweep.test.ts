/**
 * A sweep over a run with many running tasks reads their attempts' records side by side, at most
 * AWS_FAN_OUT_CONCURRENCY at once (lambdas/engine/reaper.ts): one after another, a run of 10,000 running
 * tasks is 10,000 round trips, past the engine function's 30 s timeout deployed at a few ms each. The run is
 * seeded in the store as the engine writes it (slots running, each with its attempt's record), over real
 * dynalite; the listing names every execution, so nothing is lost and nothing is reaped.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../../lambdas/domain/concurrency';
import { executionName, stableUuid } from '../../lambdas/domain/ids';
import { plannedSlots } from '../../lambdas/engine/fan-out';
import { Reaper } from '../../lambdas/engine/reaper';
import { Store } from '../../lambdas/store';
import { dynamoItemBytes } from '../../lambdas/store/item-size';
import { startDynamo } from '../../local/dynalite';
import { perFile } from '../helpers/per-file';
import { shellTask } from '../helpers/factories';
import { processDefinition } from '../../lambdas/domain/models';

/** 300 by default; `REAPER_SWEEP_TASKS=10000` seeds a run at the limit and prints the sweep's time (docs/SCALE.md). */
const TASKS = Number(process.env.REAPER_SWEEP_TASKS ?? 300);

const dynamo = perFile('dynalite', () => startDynamo(undefined));

/** A run of `TASKS` independent tasks, every one running its first attempt in its own execution. */
async function seedRunningRun(store: Store): Promise<{ processId: string; executions: string[] }> {
  const processId = randomUUID();
  const name = 'sweep';
  const now = new Date().toISOString();
  const tasks = processDefinition.parse({ process_definition_name: name, task_definitions: Array.from({ length: TASKS }, (_, i) => shellTask(`t${i}`)) }).task_definitions;
  await store.runs.createRun({ process_id: processId, process_definition_name: name, start_time: now, status: 'running' });
  const slots = plannedSlots(processId, tasks, name).map((slot) => ({
    ...slot,
    status: 'running' as const,
    attempts: 1,
    execution_name: executionName(processId, slot.name, 0),
    current_task_id: stableUuid(processId, slot.name, 0, 0),
  }));
  await store.slots.createSlots(slots);
  await mapLimited(slots, 16, (slot) =>
    store.runs.createTask({
      task_id: slot.current_task_id,
      process_id: processId,
      process_definition_name: name,
      task_definition_name: slot.name,
      start_time: now,
      previous_attempt_count: 0,
      status: 'running',
    }),
  );
  return { processId, executions: slots.map((s) => s.execution_name) };
}

/** What a sweep asked the store: its attempt-record reads, and the Queries of slots with what they answered. */
interface SweepReads {
  /** GetItems of attempt records: how many, and the most in flight at once. */
  attempts: { max: number; total: number };
  /** Queries of slots: how many, each one's ProjectionExpression, the bytes of the items they answered (DynamoDB's item size), the attribute names of the items. */
  slots: { queries: number; projections: Array<string | undefined>; bytes: number; attributes: Set<string> };
}

/** Watches the store's client while `work` runs (the document client's input and output). */
async function sweepReads(work: () => Promise<unknown>): Promise<SweepReads> {
  let inFlight = 0;
  const seen: SweepReads = { attempts: { max: 0, total: 0 }, slots: { queries: 0, projections: [], bytes: 0, attributes: new Set() } };
  const stop = dynamo().db.doc.observe(async (call, next) => {
    const input = call.input as { Key?: { sk?: string }; ExpressionAttributeValues?: Record<string, unknown>; ProjectionExpression?: string };
    if (call.name === 'QueryCommand' && input.ExpressionAttributeValues?.[':prefix'] === 'SLOT#') {
      const result = (await next()) as { Items?: Array<Record<string, unknown>> };
      seen.slots.queries++;
      seen.slots.projections.push(input.ProjectionExpression);
      for (const item of result.Items ?? []) {
        seen.slots.bytes += dynamoItemBytes(item);
        for (const [name, value] of Object.entries(item)) {
          seen.slots.attributes.add(name);
          // A map's own attributes (the definition's), as `definition.<name>`.
          if (value && typeof value === 'object' && !(value instanceof Set) && !Array.isArray(value)) for (const inner of Object.keys(value)) seen.slots.attributes.add(`${name}.${inner}`);
        }
      }
      return result;
    }
    if (call.name !== 'GetItemCommand' || !String(input.Key?.sk ?? '').startsWith('TASK#')) return next();
    seen.attempts.total++;
    seen.attempts.max = Math.max(seen.attempts.max, ++inFlight);
    try {
      return await next();
    } finally {
      inFlight--;
    }
  });
  try {
    await work();
  } finally {
    stop();
  }
  return seen;
}

/** A full garbage collection (V8's `gc`, exposed at run time: the test runner starts without --expose-gc). */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** How long `read` takes (ms), and the heap (MB) that what it answers holds, measured between two full collections. */
async function heapHeldBy(read: () => Promise<unknown>): Promise<{ ms: number; mb: number }> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const started = performance.now();
  const held = await read();
  const ms = performance.now() - started;
  gc();
  const after = process.memoryUsage().heapUsed;
  return { ms, mb: held === undefined ? Number.NaN : (after - before) / 2 ** 20 };
}

/** What a sweep may read of a slot (lambdas/store/slots.ts `listAttemptStates`): never its definition whole, nor its dependents. */
const SWEEP_ATTRIBUTES = ['name', 'status', 'round', 'attempts', 'current_task_id', 'execution_name', 'process_id', 'definition', 'definition.max_runtime_seconds'];

describe('a reaper sweep over many running tasks', () => {
  it(`reads their attempts side by side, at most ${AWS_FAN_OUT_CONCURRENCY} at once, and reaps none that runs`, async () => {
    // Prepare
    const store = new Store(dynamo().db);
    const { processId, executions } = await seedRunningRun(store);
    const reaped: string[] = [];
    const reaper = new Reaper({
      store,
      engine: { reap: async (input) => void reaped.push(input.task_definition_name), settle: async () => undefined },
      now: () => new Date(),
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      listRunningExecutions: async () => ({ names: executions }),
    });

    // Act
    const started = performance.now();
    const { attempts, slots } = await sweepReads(() => reaper.reap());
    const ms = Math.round(performance.now() - started);
    // The heap a run's slots hold in the engine function, read whole (as sweeps did until 2026-12-04) and as a sweep reads them now.
    const whole = await heapHeldBy(() => store.slots.list(processId));
    const projected = await heapHeldBy(() => store.slots.listAttemptStates(processId));
    console.log(
      `reaper sweep over ${TASKS} running tasks: ${ms} ms, ${attempts.total} attempt reads, at most ${attempts.max} at once; ` +
        `${slots.queries} slot Queries answering ${(slots.bytes / 1e6).toFixed(2)} MB (${Math.round(slots.bytes / TASKS)} B a slot); ` +
        `a run's slots read whole: ${Math.round(whole.ms)} ms, ${whole.mb.toFixed(1)} MB of heap held; as the sweep reads them: ${Math.round(projected.ms)} ms, ${projected.mb.toFixed(1)} MB`,
    );

    // Assess
    expect(attempts.total).toBe(TASKS);
    expect(attempts.max).toBeGreaterThan(1);
    expect(attempts.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);
    expect(reaped).toEqual([]);
    // Each slot's Query is projected: the answer carries what the sweep uses, not the task's definition and dependents.
    expect(slots.queries).toBeGreaterThan(0);
    for (const projection of slots.projections) expect(projection).toBeDefined();
    expect([...slots.attributes].filter((a) => !SWEEP_ATTRIBUTES.includes(a))).toEqual([]);
  }, 600_000);
});
