/**
 * Trigger, kill and retry of a run of 10,000 tasks (lambdas/engine/fan-out.ts, docs/SCALE.md): each request
 * makes only the writes that decide its answer and hands the rest to the engine function; the steps that
 * follow (handed over to a recorder here, run by the test) write, start, stop and reopen every task, in
 * several steps, paced, and a step delivered again — after the fan-out, or twice at once — does nothing
 * twice. The orchestrator and launcher are recorders of the engine's ports; the store is real. Timings
 * are logged (docs/SCALE.md quotes them), never asserted.
 *
 * Size: the first test goes through 2,000 tasks by default, `LARGE_RUNS_TASKS=10000` at the limit
 * (docs/SCALE.md's figures; 150 s of the suite's time when it was the default). 2,000 tasks take the same
 * paths: past IN_REQUEST_TASKS_MAX (100) the request writes no slot; every phase reads and writes the
 * slots a PAGE (100) at a time over four steps, each stopping at its budget and handing on the rest; replays
 * and the retry's new round are checked on every slot. What 10,000 adds is time and memory, which
 * `npm run bench` measures. The limit itself stays proven where it is cheap: a 10,000-task definition is
 * validated (test/domain/validate.test.ts), planned (test/domain/dag.test.ts), accepted, stored and read
 * back (test/api/large-definition.test.ts), and a finished run of that size answered (test/api/large-run.test.ts).
 * (A 10,000-task run left half-started here would be killed by the server's close, past its hook's timeout.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionName } from '../../lambdas/domain/ids';
import { LIMITS, type Process } from '../../lambdas/domain/models';
import { Engine } from '../../lambdas/engine/engine';
import { type FanOutEvent, IN_REQUEST_TASKS_MAX, plannedSlots, RunFanOut } from '../../lambdas/engine/fan-out';
import { FanOutSteps, fanOutStepsFor } from '../../lambdas/engine/fan-out-steps';
import { type Clock, DEPLOYED_FAN_OUT_PACE } from '../../lambdas/engine/pace';
import type { FanOutDispatcher, Launcher, Orchestrator, RunListener } from '../../lambdas/engine/ports';
import { type Slot, startedSlot } from '../../lambdas/store/slots';
import { shellTask, startTestSundial, type TestSundial } from '../helpers/local';
import { isSlotQuery, type StoreCall, storeCallsDuring } from '../helpers/store-calls';

/** The largest run (LIMITS.taskDefinitionsPerProcess), for what is measured at scale: `LARGE_RUNS_TASKS=10000`. */
const TASKS = Math.min(Number(process.env.LARGE_RUNS_TASKS ?? 2_000), LIMITS.taskDefinitionsPerProcess);
/** One task in a hundred without dependencies (100 at the limit), the others shared among them. */
const ROOTS = Math.max(1, Math.floor(TASKS / 100));
/** A step's budget: each phase of the first test takes four steps or more, whatever TASKS is. */
const STEP_ITEMS = Math.ceil(TASKS / 4);
/** A run still handed to the engine function, for how its steps behave (replays, races), at less cost. */
const SMALLER = { tasks: 1_000, roots: 10 };

/** `roots` tasks without dependencies, each with its share of the other tasks depending on it. */
const largeDefinition = (tasks: number, roots: number) => [
  ...Array.from({ length: roots }, (_, i) => shellTask(`r${i}`)),
  ...Array.from({ length: tasks - roots }, (_, i) => shellTask(`t${i}`, { dependencies: [{ task_definition_name: `r${i % roots}`, success_required: true }] })),
];

/** The engine's ports, recorded: how often each execution was started, and the stops. */
class Ports {
  starts = new Map<string, number>();
  stops = 0;
  jobStops = 0;
  ended: string[] = [];
  readonly orchestrator: Orchestrator = {
    startTask: async (name) => {
      this.starts.set(name, (this.starts.get(name) ?? 0) + 1);
    },
    stopTask: async () => {
      this.stops++;
    },
  };
  readonly launcher: Launcher = {
    plan: async () => {
      throw new Error('no attempt is prepared in this test');
    },
    stop: async () => {
      this.jobStops++;
    },
  };
  readonly listener: RunListener = {
    runEnded: async (run) => {
      this.ended.push(run.process_id);
    },
  };
  startedTwice(): string[] {
    return [...this.starts].filter(([, n]) => n > 1).map(([name]) => name);
  }
}

/** The engine function, as the test runs it: every hand-off queued and kept, each step stopping after `items` of its work. */
class Steps implements FanOutDispatcher {
  readonly handed: FanOutEvent[] = [];
  readonly queue: FanOutEvent[] = [];
  runner!: FanOutSteps;

  async handOff(event: FanOutEvent): Promise<void> {
    this.handed.push(event);
    this.queue.push(event);
  }

  /** Runs one step, as the engine function does (`deadline`: its function's time). */
  run(event: FanOutEvent, deadline?: () => boolean): Promise<void> {
    return this.runner.step(event, deadline);
  }

  /** Runs the queued steps and those they hand on, in turn; answers how many ran. */
  async drain(items = Infinity): Promise<number> {
    let steps = 0;
    for (let event = this.queue.shift(); event; event = this.queue.shift(), steps++) await this.run(event, budget(items));
    return steps;
  }
}

/** A deadline that holds once it has been asked `items` times (a step asks it before each task). */
const budget = (items: number) => {
  let asked = 0;
  return () => ++asked > items;
};

let t: TestSundial;
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

beforeAll(async () => {
  t = await startTestSundial();
  await t.define('large', largeDefinition(TASKS, ROOTS));
  await t.define('smaller', largeDefinition(SMALLER.tasks, SMALLER.roots));
}, 120_000);
afterAll(() => t.close());

function largeEngine(): { engine: Engine; ports: Ports; steps: Steps } {
  const ports = new Ports();
  const steps = new Steps();
  const s = t.services;
  const engine = new Engine({
    store: s.store,
    orchestrator: ports.orchestrator,
    launcher: ports.launcher,
    tokenKey: s.tokenKey,
    callbackUrl: () => 'http://sundial.test',
    now,
    logger: s.logger,
    listeners: [ports.listener],
    retentionDays: 0,
    fanOuts: steps,
  });
  steps.runner = fanOutStepsFor(engine);
  return { engine, ports, steps };
}

/**
 * A large run of `smaller` triggered, its first step taken from the queue, and its slots written as a step
 * from before tasks were written started wrote them: all waiting.
 */
async function startedBefore(): Promise<ReturnType<typeof largeEngine> & { run: Process; first: FanOutEvent }> {
  const engineAndPorts = largeEngine();
  const run = await engineAndPorts.engine.trigger('smaller');
  const first = engineAndPorts.steps.queue.shift()!;
  const tasks = (await t.services.store.fanOuts.getPlan(run.process_id))!;
  for (const slot of plannedSlots(run.process_id, tasks, 'smaller')) await t.services.store.slots.createSlot(slot);
  return { ...engineAndPorts, run, first };
}

const slotsOf = (processId: string) => t.services.store.slots.list(processId);
/**
 * The Queries of a run's slots that `work` makes reading them all whole (no page `Limit`, no projection):
 * at 10,000 tasks ~10 MB in one engine function step.
 */
const slotListingsWhole = async (work: () => Promise<void>): Promise<unknown[]> =>
  (await storeCallsDuring(t.services.store.db, work)).calls.filter((c) => isSlotQuery(c) && c.input.Limit === undefined && c.input.ProjectionExpression === undefined);
const runOf = (processId: string) => t.services.store.runs.getRunRecord(processId);
/** The key of an item a call writes. */
const keyOf = (call: StoreCall): Record<string, unknown> => (call.input.Key ?? call.input.Item ?? {}) as Record<string, unknown>;
/** The running counts the counter writes among `calls` add (one per write). */
const countedRunning = (calls: StoreCall[]): unknown[] =>
  calls
    .filter((c) => c.name === 'UpdateItemCommand' && String(keyOf(c).pk).startsWith('STATS#'))
    .flatMap((c) => {
      const names = c.input.ExpressionAttributeNames as Record<string, string>;
      const values = c.input.ExpressionAttributeValues as Record<string, unknown>;
      return Object.entries(names).filter(([, n]) => n === 'tasks_running').map(([k]) => values[`:v${k.slice(2)}`]);
    });

/** What a replayed step could change of a slot. */
const stateOf = (slots: Slot[]) => slots.map((s) => `${s.name} ${s.status} ${s.round} ${s.attempts} ${s.max_attempts} ${[...(s.deps_done ?? [])].join()}`).sort();
const count = (slots: Slot[], status: Slot['status']) => slots.filter((s) => s.status === status).length;
const timed = async <T>(label: string, body: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await body();
  console.info(`${label}: ${Math.round(performance.now() - started)} ms`);
  return result;
};

describe('a run too large for its request', () => {
  it(`of ${TASKS} tasks is triggered, killed and retried by requests that answer once its status changed, its tasks following in steps that replays do not repeat`, async () => {
    const { engine, ports, steps } = largeEngine();
    let retried: Process | undefined;
    expect(TASKS).toBeGreaterThan(IN_REQUEST_TASKS_MAX);

    // Act: trigger — the request, then the engine function's steps
    let run!: Process;
    let triggered!: { starts: number; slots: number };
    let started = 0;
    const wholeAtStart = await slotListingsWhole(async () => {
      run = await timed(`trigger of ${TASKS} tasks, request`, () => engine.trigger('large'));
      triggered = { starts: ports.starts.size, slots: (await t.services.store.slots.listStates(run.process_id)).length };
      started = await timed('trigger, its steps', () => steps.drain(STEP_ITEMS));
    });

    // Assess: the answer is the running run; the steps wrote every slot and started the tasks without dependencies, once each
    expect(run.status).toBe('running');
    expect(triggered).toEqual({ starts: 0, slots: 0 });
    expect(wholeAtStart).toEqual([]);
    expect(started).toBeGreaterThan(2);
    let slots = await slotsOf(run.process_id);
    expect(slots).toHaveLength(TASKS);
    expect([count(slots, 'running'), count(slots, 'waiting')]).toEqual([ROOTS, TASKS - ROOTS]);
    expect(ports.starts.size).toBe(ROOTS);
    expect((await runOf(run.process_id))?.starting).toBeUndefined();
    // Only the tasks without dependents are counted in the done shards (slots.ts `countsDone`): not the roots.
    expect(slots.map((s) => [s.deps_total === 0, s.counts_done]).filter(([root, counted]) => root !== (counted === false))).toEqual([]);

    // Act: kill — a retry while its steps have not run is refused, as while a kill runs
    let killed!: Process;
    let early: unknown;
    const wholeAtKill = await slotListingsWhole(async () => {
      killed = await timed('kill, request', () => engine.kill(run.process_id));
      early = await engine.retry(run.process_id).catch((err: Error) => err);
      await timed('kill, its steps', () => steps.drain(STEP_ITEMS));
    });

    // Assess: the answer is the failed run; the steps stopped every running task and blocked the others, then told the listeners
    expect([killed.status, killed.reason]).toEqual(['failed', 'killed by operator']);
    expect(wholeAtKill).toEqual([]);
    expect(String(early)).toMatch(/still being killed/);
    slots = await slotsOf(run.process_id);
    expect([count(slots, 'failed'), count(slots, 'blocked')]).toEqual([ROOTS, TASKS - ROOTS]);
    expect(ports.stops).toBe(ROOTS);
    expect(ports.jobStops).toBeLessThanOrEqual(ROOTS); // a started task's first attempt may be claimed with its start
    expect(ports.ended).toEqual([run.process_id]);
    expect((await runOf(run.process_id))?.killing).toBeUndefined();

    // Act: every step handed so far, delivered again
    const before = stateOf(slots);
    const jobStops = ports.jobStops;
    for (const event of [...steps.handed]) await steps.run(event);

    // Assess: nothing moved, nothing was started, stopped or told again
    expect(stateOf(await slotsOf(run.process_id))).toEqual(before);
    expect([ports.starts.size, ports.startedTwice(), ports.stops, ports.ended.length]).toEqual([ROOTS, [], ROOTS, 1]);
    expect(ports.jobStops).toBe(jobStops);

    // Act: retry
    const wholeListings = await slotListingsWhole(async () => {
      retried = await timed('retry, request', () => engine.retry(run.process_id));
      await timed('retry, its steps', () => steps.drain(STEP_ITEMS));
    });

    // Assess: the answer is the running run; the failed tasks run again in a new round, the blocked ones wait, their dependency undone
    expect(retried?.status).toBe('running');
    expect(wholeListings).toEqual([]); // slots a page at a time, or by name and status: never every slot whole at once
    slots = await slotsOf(run.process_id);
    expect([count(slots, 'running'), count(slots, 'waiting')]).toEqual([ROOTS, TASKS - ROOTS]);
    expect(slots.filter((s) => s.status === 'running').every((s) => s.round === 1 && s.max_attempts === s.attempts + 1)).toBe(true);
    expect(slots.filter((s) => s.status === 'waiting').every((s) => (s.deps_done?.size ?? 0) === 0 && s.reason === undefined)).toBe(true);
    expect(slots.filter((s) => s.counts_done !== undefined)).toEqual([]); // a retry counts every task it reopens
    expect(ports.starts.size).toBe(2 * ROOTS);
    expect((await runOf(run.process_id))?.reopening).toBeUndefined();

    // Act: every step delivered again
    const after = stateOf(slots);
    for (const event of [...steps.handed]) await steps.run(event);

    // Assess
    expect(stateOf(await slotsOf(run.process_id))).toEqual(after);
    expect([ports.starts.size, ports.startedTwice()]).toEqual([2 * ROOTS, []]);

    // The run ends here, not in the server's close (afterAll), where its kill's steps would run past the hook's timeout on a busy machine.
    await engine.kill(run.process_id);
    await steps.drain();
  }, 900_000);

  it('a step delivered twice at once writes and starts each task once', async () => {
    const { engine, ports, steps } = largeEngine();

    // Act: each step runs twice side by side
    const run = await engine.trigger('smaller');
    while (steps.queue.length > 0) {
      const event = steps.queue.shift()!;
      await Promise.all([steps.run(event, budget(400)), steps.run(event, budget(400))]);
    }

    // Assess
    const slots = await slotsOf(run.process_id);
    expect([slots.length, count(slots, 'running')]).toEqual([SMALLER.tasks, SMALLER.roots]);
    expect([ports.starts.size, ports.startedTwice()]).toEqual([SMALLER.roots, []]);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a kill while the tasks are being written leaves them all blocked, ends the run once they are, and its retry runs them', async () => {
    const { engine, ports, steps } = largeEngine();
    const run = await engine.trigger('smaller');
    await steps.run(steps.queue.shift()!, budget(100)); // a tenth of the slots, no task started

    // Act: the kill's step runs before the start's next one, past the slots written so far (where it waits for the rest), then each goes on
    await engine.kill(run.process_id);
    const kill = steps.queue.pop()!;
    await steps.run(kill, budget(150));
    const endedEarly = [...ports.ended];
    await steps.drain();

    // Assess
    let slots = await slotsOf(run.process_id);
    expect([slots.length, count(slots, 'blocked'), ports.starts.size]).toEqual([SMALLER.tasks, SMALLER.tasks, 0]);
    expect(endedEarly).toEqual([]);
    expect(ports.ended).toEqual([run.process_id]);

    // Act: retry; the reaper's settling of a stalled run (no task running, slots unchanged) comes before its steps
    await engine.retry(run.process_id);
    await engine.settle(run.process_id);
    const whileReopening = (await runOf(run.process_id))?.status;
    await steps.drain();

    // Assess: a reopening under way is not a stalled run; every task reopened, those without dependencies started
    expect(whileReopening).toBe('running');
    slots = await slotsOf(run.process_id);
    expect([count(slots, 'running'), count(slots, 'waiting'), ports.starts.size]).toEqual([SMALLER.roots, SMALLER.tasks - SMALLER.roots, SMALLER.roots]);

    // Act: every step, delivered again
    const before = stateOf(slots);
    for (const event of [...steps.handed]) await steps.run(event);

    // Assess
    expect(stateOf(await slotsOf(run.process_id))).toEqual(before);
    expect([ports.starts.size, ports.startedTwice(), ports.ended.length]).toEqual([SMALLER.roots, [], 1]);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a start whose steps died is handed on again by the reaper once its marker is stale', async () => {
    const { engine, ports, steps } = largeEngine();
    const run = await engine.trigger('smaller');
    steps.queue.length = 0; // its step never runs

    // Act: the reaper, before and after the marker went stale
    const fresh = await engine.fanOut.redriveStale(run.process_id);
    offsetMs = 901_000;
    const stale = await engine.fanOut.redriveStale(run.process_id);
    await steps.drain();
    offsetMs = 0;

    // Assess
    expect([fresh, stale]).toEqual([false, true]);
    const slots = await slotsOf(run.process_id);
    expect([slots.length, count(slots, 'running'), ports.starts.size]).toEqual([SMALLER.tasks, SMALLER.roots, SMALLER.roots]);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('writes its tasks without dependencies started: one write each, their claims counted in one write per page', async () => {
    const { engine, ports, steps } = largeEngine();
    const run = await engine.trigger('smaller');

    // Act
    const { calls } = await storeCallsDuring(t.services.store.db, () => steps.drain());

    // Assess: a slot's one write; no write starts a task; the 10 claims (one page) in one counter write
    const onSlots = (name: string) => calls.filter((c) => c.name === name && String(keyOf(c).sk).startsWith('SLOT#'));
    expect([onSlots('PutItemCommand').length, onSlots('UpdateItemCommand').length]).toEqual([SMALLER.tasks, 0]);
    expect(countedRunning(calls)).toEqual([SMALLER.roots]);
    const slots = await slotsOf(run.process_id);
    const started = slots.filter((s) => s.status === 'running');
    expect(started.map((s) => [s.deps_total, s.attempts, s.claim_counted, s.execution_name])).toEqual(
      started.map((s) => [0, 1, true, executionName(run.process_id, s.name, 0)]),
    );
    expect([started.length, ports.starts.size, ports.startedTwice()]).toEqual([SMALLER.roots, SMALLER.roots, []]);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a step that hands on before starting the tasks it wrote started has the next step start them, each once', async () => {
    const { engine, ports, steps } = largeEngine();
    const run = await engine.trigger('smaller');
    // The deadline comes once the last page's claims are counted: after its writes, before its starts.
    let counted = false;
    const stop = t.services.store.db.doc.observe((call, next) => {
      if (countedRunning([{ name: call.name, input: call.input }]).length > 0) counted = true;
      return next();
    });

    // Act
    try {
      await steps.run(steps.queue.shift()!, () => counted);
    } finally {
      stop();
    }
    const handed = steps.queue[0];
    const startedBefore = ports.starts.size;
    await steps.drain();
    const before = stateOf(await slotsOf(run.process_id));
    await steps.run(handed!); // delivered again, after the fan-out

    // Assess
    expect([startedBefore, handed?.unstarted, handed?.next]).toEqual([0, true, SMALLER.tasks - SMALLER.roots]);
    expect([ports.starts.size, ports.startedTwice()]).toEqual([SMALLER.roots, []]);
    expect(stateOf(await slotsOf(run.process_id))).toEqual(before);
    expect((await runOf(run.process_id))?.starting).toBeUndefined();
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a kill whose listing passed before its tasks without dependencies were written started fails them, unstarted, and takes their count back', async () => {
    const { engine, ports, steps } = largeEngine();
    const running = async () => (await t.services.store.stats.read()).tasks_running ?? 0;
    const runningBefore = await running();
    const run = await engine.trigger('smaller');
    // The kill, and its step over the slots, come as the first task without dependencies is written: its
    // listing (by name, `r…` before `t…`) has passed where they go before they are there.
    let killed = false;
    const stop = t.services.store.db.doc.observe(async (call, next) => {
      if (!killed && call.name === 'PutItemCommand' && keyOf({ name: call.name, input: call.input }).sk === 'SLOT#r0') {
        killed = true;
        await engine.kill(run.process_id);
        // Its step pages over the slots written, then waits for the start to end, and hands on.
        await steps.run(steps.queue.pop()!, budget(SMALLER.tasks + 20));
      }
      return next();
    });

    // Act
    try {
      await steps.drain();
    } finally {
      stop();
    }

    // Assess: nothing started; every task blocked or failed with the kill's reason; the gauge as before; the run ended once
    const slots = await slotsOf(run.process_id);
    expect(killed).toBe(true);
    expect([count(slots, 'failed'), count(slots, 'blocked'), ports.starts.size]).toEqual([SMALLER.roots, SMALLER.tasks - SMALLER.roots, 0]);
    expect(new Set(slots.map((s) => s.reason))).toEqual(new Set(['killed by operator']));
    expect(await running()).toBe(runningBefore);
    expect(ports.ended).toEqual([run.process_id]);
  }, 600_000);

  it('a start handed on before its tasks were written started (an event in flight across a deployment) starts them as before', async () => {
    const { engine, ports, steps, run, first } = await startedBefore();

    // Act: its second phase, `roots`
    const { calls } = await storeCallsDuring(t.services.store.db, () => steps.run({ ...first, phase: 'roots', next: 0 }));
    const startedByRoots = ports.starts.size;
    const markerAfter = (await runOf(run.process_id))?.starting;

    // Assess
    expect([startedByRoots, ports.startedTwice(), markerAfter]).toEqual([SMALLER.roots, [], undefined]);
    expect(calls.filter((c) => c.name === 'PutItemCommand')).toEqual([]); // it ends the start: no slot is written again
    expect(count(await slotsOf(run.process_id), 'running')).toBe(SMALLER.roots);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a step from before, in its first phase, that finds its tasks without dependencies written waiting starts them', async () => {
    const { engine, ports, steps, run, first } = await startedBefore();

    // Act
    await steps.run(first);

    // Assess
    expect([ports.starts.size, ports.startedTwice(), count(await slotsOf(run.process_id), 'running')]).toEqual([SMALLER.roots, [], SMALLER.roots]);
    expect((await runOf(run.process_id))?.starting).toBeUndefined();
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('a start that died between writing its tasks started and starting them is handed on again, and its redrive starts each once', async () => {
    const { engine, ports, steps } = largeEngine();
    const run = await engine.trigger('smaller');
    // The step dies at its first start: its tasks without dependencies are written started and counted.
    const startTask = ports.orchestrator.startTask;
    ports.orchestrator.startTask = async () => Promise.reject(new Error('the step died'));
    await expect(steps.run(steps.queue.shift()!)).rejects.toThrow('the step died');
    ports.orchestrator.startTask = startTask;
    const written = count(await slotsOf(run.process_id), 'running');

    // Act: the reaper, once the marker went stale
    offsetMs = 901_000;
    const redriven = await engine.fanOut.redriveStale(run.process_id);
    await steps.drain();
    offsetMs = 0;

    // Assess
    expect([written, redriven, steps.handed.at(-1)?.unstarted]).toEqual([SMALLER.roots, true, true]);
    expect([ports.starts.size, ports.startedTwice()]).toEqual([SMALLER.roots, []]);
    expect((await runOf(run.process_id))?.starting).toBeUndefined();
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);

  it('paced as deployed, a step starts tasks no faster than their bucket refills', async () => {
    const { engine, steps } = largeEngine();
    const run = await engine.trigger('smaller');
    const clock = new FakeClock();
    const startedAt: number[] = [];
    const s = t.services;
    const paced = new RunFanOut({
      store: s.store,
      orchestrator: { startTask: async () => undefined, stopTask: async () => undefined },
      launcher: { plan: async () => Promise.reject(new Error('unused')), stop: async () => undefined },
      now,
      logger: s.logger,
      pace: DEPLOYED_FAN_OUT_PACE,
      clock,
      startSlot: async () => Promise.reject(new Error('unused: the tasks are written started')),
      startedAtCreation: (slot) => startedSlot(slot, executionName(slot.process_id, slot.name, 0), `${slot.name}-0`),
      startExecution: async () => {
        startedAt.push(clock.now());
      },
      endCurrentAttempt: async () => undefined,
      runEnded: async () => undefined,
    });

    // Act
    await new FanOutSteps(paced).step(steps.queue.shift()!);

    // Assess: the write units of the slots took their time, then `burst` starts at once and `perSecond` after
    const { starts, writeUnits } = DEPLOYED_FAN_OUT_PACE;
    expect(startedAt).toHaveLength(SMALLER.roots);
    expect(startedAt[0]).toBeGreaterThanOrEqual(((SMALLER.tasks - writeUnits.burst) / writeUnits.perSecond) * 1000);
    expect(startedAt.at(-1)! - startedAt[0]!).toBeGreaterThanOrEqual(((SMALLER.roots - starts.burst) / starts.perSecond) * 1000 - 1);
    await engine.kill(run.process_id);
    await steps.drain();
  }, 600_000);
});

/** Time that passes only when slept (sleepers side by side wake at the latest of their times): a step's pace measured without waiting for it. */
class FakeClock implements Clock {
  private at = 0;
  now(): number {
    return this.at;
  }
  async sleep(ms: number): Promise<void> {
    const wake = this.at + ms;
    await Promise.resolve();
    this.at = Math.max(this.at, wake);
  }
}
