/**
 * The local runtime keeps AWS's time: an attempt may outlive the local interpreter's 60 s default Task
 * timeout (every Task state sets its own), and a backoff past Node's 24.8-day timer limit still waits
 * (AWS's Wait honours it). The synthesized task state machine runs in the local orchestrator on a fake
 * clock (vitest's timers: the interpreter times Task states and Waits with `setTimeout`), with an engine
 * and an executor that record what the state machine asks of them.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PreparedAttempt, RecordRequest } from '../../../lambdas/engine/contract';
import type { Engine } from '../../../lambdas/engine/engine';
import type { Preparation } from '../../../lambdas/engine/prepare';
import { loadTaskDefinition } from '../../../local/engine/asl';
import type { LocalExecutor } from '../../../local/engine/executor';
import { longSetTimeout, MAX_TIMER_DELAY_MS } from '../../../local/engine/long-timers';
import { LocalOrchestrator } from '../../../local/engine/orchestrator';
import { syncFixture } from '../../fixtures/aws/sync';

const DAY_MS = 86_400_000;
const input = { process_id: 'run-1', task_definition_name: 'long' };

/** An attempt as Prepare answers it (only what the state machine reads). */
function prepared(executor: 'batch' | 'ecs', backoffSeconds: number): PreparedAttempt {
  const env = { ContainerOverrides: { Environment: [] } };
  return {
    skip: false,
    task_id: 'task-1',
    backoff_seconds: backoffSeconds,
    timeout_seconds: 600,
    executor,
    ...(executor === 'batch'
      ? { batch: { JobName: 'task-1', JobQueue: 'local', JobDefinition: 'local', ...env, Timeout: { AttemptDurationSeconds: 600 } } }
      : { ecs: { TaskDefinition: 'local', StartedBy: 'task-1', Overrides: { ContainerOverrides: [{ Name: 'task', Environment: [] }] } } }),
    claimed: { round: 0, attempts: 1, max_attempts: 1, require_explicit_success: false },
  };
}

/** The local orchestrator over the synthesized definition, with a recording engine and executor. */
async function harness(attempt: PreparedAttempt) {
  const started: string[] = [];
  const recorded: RecordRequest[] = [];
  let finish: (output: unknown) => void = () => undefined;
  const job = new Promise((resolve) => {
    finish = resolve;
  });
  const executor = {
    runBatchJob: async () => {
      started.push('batch');
      return job;
    },
    runEcsTask: async () => {
      started.push('ecs');
      return job;
    },
  } as unknown as LocalExecutor;
  const preparation = { prepare: async () => attempt } as unknown as Preparation;
  const engine = {
    record: async (request: RecordRequest) => {
      recorded.push(request);
      return { ...input, recorded: { retry: false } };
    },
    abandon: async (_: unknown, reason: string) => {
      throw new Error(`the execution failed: ${reason}`);
    },
  } as unknown as Engine;
  const orchestrator = new LocalOrchestrator(await loadTaskDefinition(), executor, () => undefined);
  orchestrator.attach(engine, preparation);
  await orchestrator.startTask('exec-1', input);
  return { started, recorded, finish, orchestrator };
}

/** Lets the interpreter's promise chains run until `done` holds (real macrotasks: the fake clock stands still). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await nextMacrotask();
  if (!done()) throw new Error('the state machine never got there');
}

beforeEach(async () => {
  await loadTaskDefinition(); // synthesized (or read) before the clock is faked
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a local attempt outlives the interpreter’s 60 s default', () => {
  it.each(['batch', 'ecs'] as const)('%s: running 61 s, then ending, is recorded as ended, not timed out', async (kind) => {
    // Prepare
    const { started, recorded, finish } = await harness(prepared(kind, 0));
    await until(() => started.length === 1);
    // Act: the attempt runs past a minute, then its job or task ends well
    await vi.advanceTimersByTimeAsync(61_000);
    finish(syncFixture(kind === 'batch' ? 'batch-succeeded' : 'ecs-succeeded').output);
    await until(() => recorded.length === 1);
    // Assess
    expect(recorded[0]?.state.error).toBeUndefined();
    expect(recorded[0]?.state.result).toEqual(kind === 'batch' ? { Status: 'SUCCEEDED', JobId: syncFixture('batch-succeeded').output?.JobId } : expect.objectContaining({ Error: 'Sundial.AttemptEnded' }));
  });
});

describe('a local backoff past 24.8 days', () => {
  it('30 days: still waiting after 25 days, the next attempt starts after 30', async () => {
    // Prepare: an attempt after a 30-day backoff (Route? → BatchBackoff)
    const { started } = await harness(prepared('batch', 30 * 86_400));
    // Act
    await vi.advanceTimersByTimeAsync(25 * DAY_MS);
    const after25Days = [...started];
    await vi.advanceTimersByTimeAsync(5 * DAY_MS);
    await until(() => started.length === 1);
    // Assess
    expect(after25Days).toEqual([]);
    expect(started).toEqual(['batch']);
  });

  it('longSetTimeout re-arms one timer in chunks under the limit, and calls back once, at the end', () => {
    // Prepare: a recording timer API
    const armed: number[] = [];
    let fire: () => void = () => undefined;
    let refreshed = 0;
    const timer = { refresh: () => refreshed++ };
    const original = (callback: () => void, ms?: number) => {
      armed.push(ms ?? 0);
      fire = callback;
      return timer;
    };
    const calls: string[] = [];
    // Act
    const handle = longSetTimeout(original)(() => calls.push('done'), 30 * DAY_MS);
    fire();
    const afterFirstChunk = [...calls];
    fire();
    // Assess
    expect(handle).toBe(timer);
    expect(armed).toEqual([15 * DAY_MS]);
    expect(armed[0]).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
    expect(refreshed).toBe(1);
    expect(afterFirstChunk).toEqual([]);
    expect(calls).toEqual(['done']);
  });

  it('longSetTimeout leaves delays Node holds alone', () => {
    const armed: Array<number | undefined> = [];
    longSetTimeout((_cb: () => void, ms?: number) => {
      armed.push(ms);
      return { refresh: () => undefined };
    })(() => undefined, MAX_TIMER_DELAY_MS);
    expect(armed).toEqual([MAX_TIMER_DELAY_MS]);
  });
});
