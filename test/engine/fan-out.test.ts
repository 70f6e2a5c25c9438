/**
 * The engine's fan-outs over a run's tasks (trigger, kill, retry, and the dependents a finished task
 * starts) keep at most AWS_FAN_OUT_CONCURRENCY calls to the orchestrator and launcher in flight, for a
 * run of 300 tasks (FAN_OUT_TASKS) — past IN_REQUEST_TASKS_MAX, so that trigger, kill and retry go over them in the
 * engine function's steps (run in the caller here: the engine has no dispatcher) — and retry does run its
 * tasks side by side. 10,000 tasks take minutes: test/engine/large-runs.test.ts with LARGE_RUNS_TASKS=10000. The orchestrator and
 * launcher are recorders of the engine's own ports (no AWS client); the store is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_FAN_OUT_CONCURRENCY } from '../../lambdas/domain/concurrency';
import { LIMITS } from '../../lambdas/domain/models';
import type { PrepareState } from '../../lambdas/engine/contract';
import { Engine } from '../../lambdas/engine/engine';
import { type Preparation, preparationFor } from '../../lambdas/engine/prepare';
import type { AttemptToLaunch, Launcher, Orchestrator } from '../../lambdas/engine/ports';
import { InlineFanOuts } from '../helpers/inline-fan-outs';
import { shellTask, startTestSundial, type TestSundial } from '../helpers/local';

/** Counts calls in flight across every port method; each call yields a few turns so that others can start. */
class InFlight {
  current = 0;
  max = 0;
  calls = 0;
  async around(): Promise<void> {
    this.current++;
    this.calls++;
    this.max = Math.max(this.max, this.current);
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    this.current--;
  }
  reset(): void {
    this.current = 0;
    this.max = 0;
    this.calls = 0;
  }
}

let t: TestSundial;
let engine: Engine;
let preparation: Preparation;
const inFlight = new InFlight();
const started: PrepareState[] = [];

beforeAll(async () => {
  t = await startTestSundial();
  const orchestrator: Orchestrator = {
    startTask: async (_name, input) => {
      started.push(input);
      await inFlight.around();
    },
    stopTask: () => inFlight.around(),
  };
  const launcher: Launcher = {
    plan: async (a: AttemptToLaunch) => ({
      executor: 'batch' as const,
      batch: { JobName: a.task_id, JobQueue: 'q', JobDefinition: 'd', ContainerOverrides: { Environment: [] }, Timeout: { AttemptDurationSeconds: 60 } },
    }),
    stop: () => inFlight.around(),
  };
  const s = t.services;
  const fanOuts = new InlineFanOuts();
  const deps = { store: s.store, orchestrator, launcher, tokenKey: s.tokenKey, callbackUrl: () => 'http://sundial.test', now: s.now, logger: s.logger, retentionDays: 0, fanOuts };
  engine = new Engine(deps);
  fanOuts.attach(engine);
  preparation = preparationFor(engine, deps);
}, 60_000);
afterAll(() => t.close());

/**
 * 300 by default: past IN_REQUEST_TASKS_MAX (100), over three of a step's pages (100 slots), thirty times
 * AWS_FAN_OUT_CONCURRENCY (10): the bound is reached and held as at 1,000, the old default (31 s of the
 * suite in CI). `FAN_OUT_TASKS=1000` (up to the 10,000 a definition may have) runs it larger.
 */
const TASKS = Math.min(Number(process.env.FAN_OUT_TASKS ?? 300), LIMITS.taskDefinitionsPerProcess);

describe(`fan-out over a run of ${TASKS} tasks`, () => {
  it('trigger, kill and retry keep at most AWS_FAN_OUT_CONCURRENCY calls in flight, and retry runs them side by side', async () => {
    // Prepare
    await t.define('fan-out', Array.from({ length: TASKS }, (_, i) => shellTask(`t${i}`)));
    inFlight.reset();

    // Act: trigger
    const run = await engine.trigger('fan-out');

    // Assess
    expect(inFlight.calls).toBe(TASKS);
    expect(inFlight.max).toBeGreaterThan(1);
    expect(inFlight.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);

    // Act: kill (every slot is running: one StopExecution each)
    inFlight.reset();
    await engine.kill(run.process_id);

    // Assess
    expect(inFlight.calls).toBe(TASKS);
    expect(inFlight.max).toBeGreaterThan(1);
    expect(inFlight.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);

    // Act: retry (every task failed by the kill gets one more attempt)
    inFlight.reset();
    await engine.retry(run.process_id);

    // Assess
    expect(inFlight.calls).toBe(TASKS);
    expect(inFlight.max).toBeGreaterThan(1);
    expect(inFlight.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);
  }, 120_000);

  it('a task that finishes starts its dependents within the same bound', async () => {
    // Prepare: one root and every other task depending on it
    const dependents = Array.from({ length: TASKS - 1 }, (_, i) => shellTask(`d${i}`, { dependencies: [{ task_definition_name: 'root', success_required: true }] }));
    await t.define('fan-out-dependents', [shellTask('root'), ...dependents]);
    started.length = 0;
    await engine.trigger('fan-out-dependents');
    const [root] = started;
    const attempt = await preparation.prepare(root!);
    inFlight.reset();

    // Act
    await engine.record({ action: 'record', state: { ...root!, attempt, result: { Status: 'SUCCEEDED', ExitCode: 0 } } });

    // Assess
    expect(inFlight.calls).toBe(TASKS - 1);
    expect(inFlight.max).toBeGreaterThan(1);
    expect(inFlight.max).toBeLessThanOrEqual(AWS_FAN_OUT_CONCURRENCY);
  }, 120_000);
});
