/**
 * A sweep over a run with many running tasks reads their attempts' records side by side, at most
 * AWS_FAN_OUT_CONCURRENCY at once (lambdas/engine/reaper.ts): one after another, a run of 10,000 running
 * tasks is 10,000 round trips, past the engine function's 30 s timeout deployed at a few ms each. The run is
 * seeded in the store as the engine writes it (slots running, each with its attempt's record), over real
 * dynalite; the listing names every execution, so nothing is lost and nothing is reaped.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../../lambdas/domain/concurrency';
import { executionName, stableUuid } from '../../lambdas/domain/ids';
import { plannedSlots } from '../../lambdas/engine/fan-out';
import { Reaper } from '../../lambdas/engine/reaper';
import { Store } from '../../lambdas/store';
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

/** The most GetItems of attempt records in flight at once while `work` runs, and how many there were. */
async function attemptReads(work: () => Promise<unknown>): Promise<{ max: number; total: number }> {
  let inFlight = 0;
  const seen = { max: 0, total: 0 };
  const middleware = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    const key = (args as { input: { Key?: { sk?: string } } }).input.Key;
    if (context.commandName !== 'GetItemCommand' || !String(key?.sk ?? '').startsWith('TASK#')) return next(args);
    seen.total++;
    seen.max = Math.max(seen.max, ++inFlight);
    try {
      return await next(args);
    } finally {
      inFlight--;
    }
  };
  dynamo().db.client.middlewareStack.add(middleware as never, { step: 'initialize', name: 'attempt-reads' });
  try {
    await work();
  } finally {
    dynamo().db.client.middlewareStack.remove('attempt-reads');
  }
  return seen;
}

describe('a reaper sweep over many running tasks', () => {
  it(`reads their attempts side by side, at most ${AWS_FAN_OUT_CONCURRENCY} at once, and reaps none that runs`, async () => {
    // Prepare
    const store = new Store(dynamo().db);
    const { executions } = await seedRunningRun(store);
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
    const reads = await attemptReads(() => reaper.reap());
    console.log(`reaper sweep over ${TASKS} running tasks: ${Math.round(performance.now() - started)} ms, ${reads.total} attempt reads, at most ${reads.max} at once`);

    // Assess
    expect(reads.total).toBe(TASKS);
    expect(reads.max).toBeGreaterThan(1);
    expect(reads.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);
    expect(reaped).toEqual([]);
  }, 600_000);
});
