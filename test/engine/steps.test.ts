/**
 * The engine's two Lambda steps, `Prepare` and `Record`, called as the state machine calls them, against
 * the real store (dynalite): the claim hint that lets `Prepare` claim without reading the slot first, what
 * `Prepare` passes `Record` so that it ends an attempt in one conditional write (in one round trip with the starts
 * of the dependents its success starts, taken back when that write did not end it), and the paths that must
 * still read (a replay, a stale hint, an attempt that reported, a run that ended before its task started).
 * The orchestrator and the launcher are recorders of the engine's own ports: nothing runs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PrepareState, type RecordRequest, STARTED_TASK_MAX_BYTES } from '../../lambdas/engine/contract';
import { STARTS_ON_SUCCESS_MAX, taskOf } from '../../lambdas/engine/completion';
import { Engine } from '../../lambdas/engine/engine';
import { type Preparation, preparationFor } from '../../lambdas/engine/prepare';
import { stableUuid } from '../../lambdas/domain/ids';
import type { AttemptToLaunch, Launcher, Orchestrator } from '../../lambdas/engine/ports';
import { dependsOn, shellScript, shellTask, startTestSundial, type TestSundial } from '../helpers/local';
import { keyOf, type StoreCall, storeCallsDuring } from '../helpers/store-calls';

let t: TestSundial;
let started: Array<{ name: string; input: PrepareState }>;
/** What happened, in order, where a test records it: executions started (`started <task>`), and what it adds. */
let events: string[];
/** The next start of this task's execution fails (a Record that dies between its round and the executions' start). */
let failNextStartOf: string | undefined;
/** Told of each execution started (its task's name), where a test listens. */
let onStarted: ((task: string) => void) | undefined;
/** What the launcher was asked to plan, in order. */
let planned: AttemptToLaunch[];
let engine: Engine;
let preparation: Preparation;

beforeAll(async () => {
  t = await startTestSundial();
  const orchestrator: Orchestrator = {
    startTask: async (name, input) => {
      if (input.task_definition_name === failNextStartOf) {
        failNextStartOf = undefined;
        throw new Error(`the execution of ${input.task_definition_name} did not start`);
      }
      started.push({ name, input });
      events.push(`started ${input.task_definition_name}`);
      onStarted?.(input.task_definition_name);
    },
    stopTask: async () => undefined,
  };
  const launcher: Launcher = {
    plan: async (a: AttemptToLaunch) => (planned.push(a), {
      executor: 'batch' as const,
      batch: { JobName: a.task_id, JobQueue: 'q', JobDefinition: 'd', ContainerOverrides: { Environment: [] }, Timeout: { AttemptDurationSeconds: 60 } },
    }),
    stop: async () => undefined,
  };
  const s = t.services;
  const deps = { store: s.store, orchestrator, launcher, tokenKey: s.tokenKey, callbackUrl: () => 'http://sundial.test', now: s.now, logger: s.logger, retentionDays: 0 };
  engine = new Engine(deps);
  preparation = preparationFor(engine, deps);
});
afterAll(() => t.close());
beforeEach(() => {
  started = [];
  events = [];
  failNextStartOf = undefined;
  onStarted = undefined;
  planned = [];
});

/** PUTs `name` with one task, `only`. */
const define = (name: string, overrides = {}) => t.define(name, [shellTask('only', overrides)]);

/** The sort keys of the slots of run `processId` written (UpdateItem) since the last `take`, until `stop`. */
function watchSlotWrites(processId: string): { take: () => string[]; stop: () => void } {
  const doc = t.services.store.db.doc;
  const send = doc.send.bind(doc);
  let written: string[] = [];
  doc.send = ((command: { constructor: { name: string }; input: { Key?: { pk: string; sk: string } } }, ...rest: unknown[]) => {
    const key = command.input.Key;
    if (command.constructor.name === 'UpdateCommand' && key?.pk === `RUN#${processId}` && key.sk.startsWith('SLOT#')) written.push(key.sk);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof doc.send;
  return {
    take: () => {
      const taken = written;
      written = [];
      return taken;
    },
    stop: () => {
      doc.send = send;
    },
  };
}

/** The running, succeeded and failed counts of the attempts gauge (`GET /_internal_/metrics`'s `sundial_tasks`). */
async function gauge(): Promise<{ running: number; succeeded: number; failed: number }> {
  const c = await t.services.store.stats.read();
  return { running: c.tasks_running ?? 0, succeeded: c.tasks_succeeded ?? 0, failed: c.tasks_failed ?? 0 };
}

/** How far the gauge moved since `before`. */
async function gaugeMoved(before: Awaited<ReturnType<typeof gauge>>): Promise<Awaited<ReturnType<typeof gauge>>> {
  const now = await gauge();
  return { running: now.running - before.running, succeeded: now.succeeded - before.succeeded, failed: now.failed - before.failed };
}

/** What Prepare would read of task `name`'s slot for its request: what its start carries (contract.ts `ClaimHint.task`). */
async function slotTask(processId: string, name: string) {
  const slot = await t.services.store.slots.get(processId, name);
  return slot && taskOf(slot);
}

/** Defines and triggers `name`, a → b (b's only dependency is a; `a`: a's overrides), and prepares a's attempt. */
async function chainAB(name: string, a = {}) {
  await t.define(name, [shellTask('a', a), shellTask('b', { dependencies: [dependsOn('a')] })]);
  const before = await gauge();
  const run = await engine.trigger(name);
  const inputA = started[0]!.input;
  return { before, run, inputA, attemptA: await preparation.prepare(inputA) };
}

/** Prepares and records, exit 0, b's execution (started once), as the state machine would; answers its input and attempt. */
async function runB() {
  const inputs = started.filter((x) => x.input.task_definition_name === 'b');
  expect(inputs).toHaveLength(1);
  const input = inputs[0]!.input;
  const attempt = await preparation.prepare(input);
  await engine.record(afterExecutor(input, attempt, 0));
  return { input, attempt };
}

/**
 * Records `attempt` of `input`'s task (its process exited 0), a kill of its run made inside the first store call of
 * the Record's that `hold` picks (the kill's own calls are not held); answers whether the kill ran.
 */
async function recordKilledAt(processId: string, input: PrepareState, attempt: Awaited<ReturnType<Preparation['prepare']>>, hold: (call: StoreCall) => boolean): Promise<boolean> {
  let killing: Promise<unknown> | undefined;
  const kill = new AsyncLocalStorage<true>();
  const stop = t.services.store.db.doc.observe(async (call, next) => {
    if (hold(call) && !kill.getStore()) {
      killing ??= kill.run(true, () => engine.kill(processId));
      await killing;
    }
    return next();
  });
  try {
    await engine.record(afterExecutor(input, attempt, 0));
  } finally {
    stop();
  }
  return killing !== undefined;
}

/** The state after the executor step of a prepared attempt, as Record receives it. */
function afterExecutor(state: PrepareState, attempt: Awaited<ReturnType<Preparation['prepare']>>, exitCode: number): RecordRequest {
  return { action: 'record', state: { ...state, attempt, result: { Status: exitCode === 0 ? 'SUCCEEDED' : 'FAILED', ExitCode: exitCode } } };
}

describe('Prepare and Record', () => {
  it('a run triggered within its request writes each task without dependencies once, already started, its first attempt claimed', async () => {
    // Prepare
    await t.define('steps-roots', [shellTask('a'), shellTask('b'), shellTask('c', { dependencies: [dependsOn('a'), dependsOn('b')] })]);
    const before = await gauge();

    // Act
    const { calls, result: run } = await storeCallsDuring(t.services.store.db, () => engine.trigger('steps-roots'));

    // Assess: the slots in the one batch, none written again; both roots' executions started with the claim
    expect(calls.filter((c) => c.name !== 'GetCommand' && keyOf(c).sk.startsWith('SLOT#'))).toEqual([]);
    const slots = await t.services.store.slots.list(run.process_id);
    expect(slots.map((s) => [s.name, s.status, s.attempts, s.current_task_id, s.execution_name])).toEqual([
      ['a', 'running', 1, stableUuid(run.process_id, 'a', 0, 0), started.find((x) => x.input.task_definition_name === 'a')?.name],
      ['b', 'running', 1, stableUuid(run.process_id, 'b', 0, 0), started.find((x) => x.input.task_definition_name === 'b')?.name],
      ['c', 'waiting', 0, undefined, undefined],
    ]);
    expect(started.map((x) => x.input.claim)).toEqual([
      { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-roots', task: await slotTask(run.process_id, 'a') },
      { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-roots', task: await slotTask(run.process_id, 'b') },
    ]);
    // Both claims counted running by the trigger, in the run's own counter write.
    expect(await gaugeMoved(before)).toEqual({ running: 2, succeeded: 0, failed: 0 });
    expect(calls.filter((c) => keyOf(c).pk.startsWith('STATS#'))).toHaveLength(1);

    // Act: both run; their Prepares find the claims, and the last end starts c
    for (const { input } of started.splice(0)) await engine.record(afterExecutor(input, await preparation.prepare(input), 0));
    expect(started.map((x) => x.input.task_definition_name)).toEqual(['c']);
    const c = started[0]!.input;
    await engine.record(afterExecutor(c, await preparation.prepare(c), 0));
    expect((await t.api('GET', `/api/processes/${run.process_id}`)).json.status).toBe('succeeded');
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 3, failed: 0 });
  });

  it('launch the attempt the start claimed, pass the slot to Record, and retry with the next hint', async () => {
    // Prepare
    await define('steps-retry', { max_attempts: 2 });
    const before = await gauge();
    const run = await engine.trigger('steps-retry');
    const first = started[0]!.input;

    // Act
    const attempt1 = await preparation.prepare(first);
    const recorded1 = await engine.record(afterExecutor(first, attempt1, 3));
    const attempt2 = await preparation.prepare(recorded1);
    const recorded2 = await engine.record(afterExecutor(recorded1, attempt2, 0));

    // Assess
    expect(first).toEqual({
      process_id: run.process_id,
      task_definition_name: 'only',
      claim: { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-retry', task: await slotTask(run.process_id, 'only') },
    });
    expect(first.claim?.task).toMatchObject({ max_attempts: 2, definition: { task_definition_name: 'only', max_attempts: 2 } });
    expect(attempt1).toMatchObject({ skip: false, claimed: { round: 0, attempts: 1, max_attempts: 2, require_explicit_success: false } });
    expect(recorded1).toEqual({ process_id: run.process_id, task_definition_name: 'only', claim: { round: 0, attempts: 1 }, recorded: { retry: true } });
    expect(attempt2).toMatchObject({ skip: false, claimed: { round: 0, attempts: 2, max_attempts: 2 } });
    expect(attempt2.task_id).not.toBe(attempt1.task_id);
    expect(recorded2).toEqual({ process_id: run.process_id, task_definition_name: 'only', recorded: { retry: false } });
    const after = (await t.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(after.status).toBe('succeeded');
    expect(after.task.map((x: any) => [x.previous_attempt_count, x.status]).sort()).toEqual([
      [0, 'failed'],
      [1, 'succeeded'],
    ]);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 1, failed: 1 });
  });

  it('a dependent with one dependency is counted, started and its first attempt claimed in one write of its slot; its Prepare writes no slot; a replayed Record starts nothing twice', async () => {
    // Prepare
    await t.define('steps-chain', [shellTask('a'), shellTask('b', { dependencies: [{ task_definition_name: 'a' }] })]);
    const before = await gauge();
    const run = await engine.trigger('steps-chain');
    const inputA = started[0]!.input;
    const attemptA = await preparation.prepare(inputA);
    const slotWrites = watchSlotWrites(run.process_id);
    const counterWrites = (calls: StoreCall[]) => calls.filter((c) => keyOf(c).pk.startsWith('STATS#'));

    // Act
    const { calls: recordCalls } = await storeCallsDuring(t.services.store.db, () => engine.record(afterExecutor(inputA, attemptA, 0)));
    const byRecord = slotWrites.take();
    const afterRecord = await gaugeMoved(before);
    await engine.record(afterExecutor(inputA, attemptA, 0));
    slotWrites.take();
    const afterReplay = await gaugeMoved(before);
    const inputB = started[1]?.input;
    const { calls: prepareCalls, result: attemptB } = await storeCallsDuring(t.services.store.db, () => preparation.prepare(inputB!));
    const byPrepare = slotWrites.take();
    slotWrites.stop();

    // Assess
    const claimedId = stableUuid(run.process_id, 'b', 0, 0);
    expect(started).toHaveLength(2); // the replay started no second execution
    expect(inputB).toEqual({
      process_id: run.process_id,
      task_definition_name: 'b',
      claim: { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-chain', task: await slotTask(run.process_id, 'b') },
    });
    expect(byRecord.filter((w) => w === 'SLOT#b')).toHaveLength(1);
    expect(byPrepare).toEqual([]);
    // b's Prepare writes its attempt and reads the run, in one round trip: what its start carried stands for the slot's read
    expect(prepareCalls.map((c) => [c.name, keyOf(c).sk.replace(/#.*/, '#')])).toEqual([
      ['PutItemCommand', 'TASK#'],
      ['GetItemCommand', 'RUN'],
    ]);
    expect(attemptB).toMatchObject({ skip: false, task_id: claimedId, claimed: { round: 0, attempts: 1 } });
    const slot = await t.services.store.slots.get(run.process_id, 'b');
    expect(slot).toMatchObject({ status: 'running', attempts: 1, current_task_id: claimedId, execution_name: started[1]!.name });
    expect([...(slot?.deps_done ?? [])]).toEqual(['a']);
    // a's end and b's claim counted in one write of Record's; b's Prepare counts nothing; the replay moves nothing
    expect(counterWrites(recordCalls)).toHaveLength(1);
    expect(afterRecord).toEqual({ running: 1, succeeded: 1, failed: 0 });
    expect(afterReplay).toEqual(afterRecord);
    expect(counterWrites(prepareCalls)).toEqual([]);
    await engine.record(afterExecutor(inputB!, attemptB, 0));
    expect((await t.api('GET', `/api/processes/${run.process_id}`)).json.status).toBe('succeeded');
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 2, failed: 0 });
  });

  it.each([
    ['the reaper finds its execution lost', (processId: string) => engine.reap({ process_id: processId, task_definition_name: 'only' }, 'the executor lost the attempt')],
    ['a kill stops it, and a retry restarts it', async (processId: string) => {
      await engine.kill(processId);
      await engine.retry(processId);
    }],
  ])('a start whose attempt was never written (%s) gives its claim back: the next execution runs attempt 0', async (why, act) => {
    // Prepare: the task started (its attempt claimed), and nothing ran it
    const name = `steps-unwritten-${why.split(' ')[1]}`;
    await define(name);
    const before = await gauge();
    const run = await engine.trigger(name);
    expect(started).toHaveLength(1);

    // Act
    await act(run.process_id);

    // Assess
    const next = started[1]!.input;
    expect(next.claim).toMatchObject({ round: 1, attempts: 0 });
    const attempt = await preparation.prepare(next);
    expect(attempt).toMatchObject({ skip: false, claimed: { round: 1, attempts: 1 } });
    expect((await t.services.store.runs.getTaskRecord(run.process_id, attempt.task_id!))?.previous_attempt_count).toBe(0);
    // The given-back claim's count went back with it: the one running attempt is the new one.
    expect(await gaugeMoved(before)).toEqual({ running: 1, succeeded: 0, failed: 0 });
  });

  it('a Prepare without a hint after a failed attempt claims, writes and launches a new attempt under one new id', async () => {
    // Prepare: the first attempt failed and Record asked for another
    await define('steps-unhinted', { max_attempts: 2 });
    const run = await engine.trigger('steps-unhinted');
    const first = started[0]!.input;
    const attempt1 = await preparation.prepare(first);
    await engine.record(afterExecutor(first, attempt1, 3));

    // Act: no hint (an execution started before hints, or a step that lost it)
    const attempt2 = await preparation.prepare({ process_id: run.process_id, task_definition_name: 'only' });

    // Assess
    expect(attempt2).toMatchObject({ skip: false, claimed: { round: 0, attempts: 2 } });
    expect(attempt2.task_id).not.toBe(attempt1.task_id);
    expect(attempt2.batch?.JobName).toBe(attempt2.task_id);
    const slot = await t.services.store.slots.get(run.process_id, 'only');
    const written = await t.services.store.runs.getTaskRecord(run.process_id, attempt2.task_id!);
    expect(slot?.current_task_id).toBe(attempt2.task_id);
    expect(written).toMatchObject({ status: 'running', previous_attempt_count: 1 });
  });

  it('a replayed Prepare (its hint no longer holds) carries on with the attempt it claimed; a replayed Record changes nothing', async () => {
    // Prepare
    await define('steps-replay');
    const before = await gauge();
    const run = await engine.trigger('steps-replay');
    const input = started[0]!.input;
    const attempt = await preparation.prepare(input);

    // Act
    const replayed = await preparation.prepare(input);
    const recorded = await engine.record(afterExecutor(input, attempt, 0));
    const again = await engine.record(afterExecutor(input, attempt, 1));

    // Assess
    expect(replayed).toEqual(attempt);
    expect(recorded.recorded.retry).toBe(false);
    expect(again.recorded.retry).toBe(false);
    const after = (await t.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(after.status).toBe('succeeded');
    expect(after.task).toHaveLength(1);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 1, failed: 0 });
  });

  it(`a start carries its task's definition up to ${STARTED_TASK_MAX_BYTES} bytes; a larger one's Prepare reads it from the slot`, async () => {
    // Prepare: a's script alone is over the bound; b's definition is small
    const script = `echo ${'x'.repeat(STARTED_TASK_MAX_BYTES)}`;
    await t.define('steps-carried', [shellScript('a', script), shellTask('b')]);
    const run = await engine.trigger('steps-carried');
    const inputOf = (name: string) => started.find((s) => s.input.task_definition_name === name)!.input;

    // Act
    const prepared = await Promise.all(['a', 'b'].map((name) => storeCallsDuring(t.services.store.db, () => preparation.prepare(inputOf(name)))));

    // Assess: a's start carried no definition and its Prepare read the slot; b's carried it and read no slot
    expect(inputOf('a').claim).not.toHaveProperty('task');
    expect(inputOf('b').claim?.task).toEqual(await slotTask(run.process_id, 'b'));
    const slotReads = ({ calls }: { calls: StoreCall[] }) => calls.filter((c) => c.name === 'GetItemCommand' && keyOf(c).sk.startsWith('SLOT#'));
    expect(prepared.map(slotReads).map((reads) => reads.length)).toEqual([1, 0]);
    expect(prepared.map(({ result }) => result)).toMatchObject([{ skip: false }, { skip: false }]);
    // each request built from its own definition
    expect(planned.map((a) => [a.task_definition.task_definition_name, a.task_definition.executable]).sort()).toEqual([
      ['a', { shell_script_command: { script } }],
      ['b', { shell_script_command: { script: 'echo b' } }],
    ]);
  });

  it("a start of a later attempt carries no definition: only a first attempt's Prepare takes it", async () => {
    // Prepare: a slot as a start of its second attempt leaves it (attempt 1 claimed; a retry reopens a task
    // that ran as running, so only a start through its dependencies would claim one so)
    await define('steps-later-carried');
    const run = await engine.trigger('steps-later-carried');
    const slot = (await t.services.store.slots.get(run.process_id, 'only'))!;
    const completion = (engine as unknown as { completion: { startExecution(s: typeof slot): Promise<void> } }).completion;

    // Act
    await completion.startExecution({ ...slot, round: 1, attempts: 2, current_task_id: stableUuid(run.process_id, 'only', 1, 1), claim_counted: undefined });

    // Assess
    expect(started[0]!.input.claim?.task).toEqual(await slotTask(run.process_id, 'only'));
    expect(started[1]!.input.claim).toEqual({ round: 1, attempts: 1, claimed: true, process_definition_name: 'steps-later-carried' });
  });

  it('a Prepare replayed after its first attempt ended, its run still running, starts nothing: what its start carried stands for the slot only for a write of its own', async () => {
    // Prepare: a ends while b still runs
    await t.define('steps-replay-ended', [shellTask('a'), shellTask('b')]);
    const run = await engine.trigger('steps-replay-ended');
    const inputA = started.find((s) => s.input.task_definition_name === 'a')!.input;
    expect(inputA.claim?.task).toBeDefined();
    const attemptA = await preparation.prepare(inputA);
    await engine.record(afterExecutor(inputA, attemptA, 0));

    // Act: the first Prepare's step delivered again (Lambda and Step Functions deliver at least once)
    const replayed = await preparation.prepare(inputA);

    // Assess: its write found the attempt written, and the slot read shows it ended
    expect(replayed).toEqual({ skip: true });
    expect(await t.services.store.runs.getTaskRecord(run.process_id, attemptA.task_id!)).toMatchObject({ status: 'succeeded' });
    expect(await t.services.store.slots.get(run.process_id, 'a')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('an attempt that called /fail before exiting 0 ends failed: the one-write end does not apply to it', async () => {
    // Prepare
    await define('steps-reported');
    const run = await engine.trigger('steps-reported');
    const input = started[0]!.input;
    const attempt = await preparation.prepare(input);
    expect(await t.services.store.runs.reportTask(run.process_id, attempt.task_id!, 'failed', new Date().toISOString())).toBe('ok');

    // Act
    await engine.record(afterExecutor(input, attempt, 0));

    // Assess
    const after = (await t.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(after.status).toBe('failed');
    expect(after.task[0].status).toBe('failed');
  });

  it.each([1, 2])(
    'an attempt that called /fail before exiting 0, whose success would start a dependent (max_attempts %i): the start its end\'s round made is taken back, and the dependent never runs before its dependency succeeds',
    async (maxAttempts) => {
      // Prepare: a → b; a reports /fail, then its process exits 0
      const { before, run, inputA, attemptA } = await chainAB(`steps-fail-starts-${maxAttempts}`, { max_attempts: maxAttempts });
      expect(await t.services.store.runs.reportTask(run.process_id, attemptA.task_id!, 'failed', new Date().toISOString())).toBe('ok');
      const firstIdOfB = stableUuid(run.process_id, 'b', 0, 0);

      // Act
      const { calls, result: recorded } = await storeCallsDuring(t.services.store.db, () => engine.record(afterExecutor(inputA, attemptA, 0)));
      const b = await t.services.store.slots.get(run.process_id, 'b');
      const moved = await gaugeMoved(before);
      let attemptIdOfB: string | undefined;
      if (maxAttempts === 2) {
        // the retry's attempt succeeds; b runs after it
        const attemptA2 = await preparation.prepare(recorded);
        await engine.record(afterExecutor(recorded, attemptA2, 0));
        attemptIdOfB = (await runB()).attempt.task_id;
      }

      // Assess: b's start went out in the round of a's end, which did not end a's attempt (it had reported)
      const task = calls.find((c) => c.name === 'UpdateItemCommand' && keyOf(c).sk.startsWith('TASK#'))!;
      const startOfB = calls.find((c) => c.name === 'UpdateItemCommand' && keyOf(c).sk === 'SLOT#b')!;
      expect(startOfB.sent).toBeLessThan(task.answered);
      // taken back: b waits again (blocked by a's failure when a has no attempt left), a's end not counted, in a
      // new round; its first claim's key is fenced (never written)
      expect(b).toMatchObject({ status: maxAttempts === 2 ? 'waiting' : 'blocked', attempts: 0, round: 1 });
      expect(b?.current_task_id).toBeUndefined();
      expect(await t.services.store.runs.getTaskRecord(run.process_id, firstIdOfB)).toBeUndefined();
      expect(await t.services.store.runs.fenceTask(run.process_id, firstIdOfB, undefined)).toBe(false);
      // a's attempt failed; nothing else is counted
      expect(moved).toEqual({ running: 0, succeeded: 0, failed: 1 });
      expect(recorded.recorded.retry).toBe(maxAttempts === 2);
      const after = (await t.api('GET', `/api/processes/${run.process_id}`)).json;
      if (maxAttempts === 1) {
        expect(started.filter((x) => x.input.task_definition_name === 'b')).toEqual([]);
        expect(after.status).toBe('failed');
        expect([...(b?.deps_done ?? [])]).toEqual(['a']);
      } else {
        // b started once (runB), after a's second attempt, under another attempt id than the fenced one
        expect(attemptIdOfB).toBe(stableUuid(run.process_id, 'b', 1, 0));
        expect(after.status).toBe('succeeded');
        expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 2, failed: 1 });
      }
    },
  );

  it('a Record that failed between its round and its dependent\'s execution: the replay starts nothing twice, and the reaper finds the start lost', async () => {
    // Prepare: a → b; the first start of b's execution fails, and with it the first Record
    const { before, run, inputA, attemptA } = await chainAB('steps-replay-starts');
    failNextStartOf = 'b';

    // Act
    await expect(engine.record(afterExecutor(inputA, attemptA, 0))).rejects.toThrow(/did not start/);
    const endedA = await t.services.store.slots.get(run.process_id, 'a');
    await engine.record(afterExecutor(inputA, attemptA, 0));
    const afterReplay = { claimed: await t.services.store.slots.get(run.process_id, 'b'), starts: started.filter((x) => x.input.task_definition_name === 'b').length, moved: await gaugeMoved(before) };
    await engine.reap({ process_id: run.process_id, task_definition_name: 'b' }, 'the executor lost the attempt');
    const { input: inputB, attempt: attemptB } = await runB();

    // Assess: the first Record's round claimed b's first attempt and its end counted, and the Record failed only
    // once a's slot's end had landed; the replay changed nothing
    expect(endedA).toMatchObject({ status: 'succeeded' });
    expect(afterReplay).toEqual({
      claimed: expect.objectContaining({ status: 'running', attempts: 1, round: 0, current_task_id: stableUuid(run.process_id, 'b', 0, 0) }),
      starts: 0,
      moved: { running: 1, succeeded: 1, failed: 0 },
    });
    // the reaper gave the claim back and started b's next round (once: runB), which ran attempt 0
    expect(inputB.claim).toMatchObject({ round: 1, attempts: 0 });
    expect(attemptB).toMatchObject({ skip: false, claimed: { attempts: 1 } });
    expect((await t.api('GET', `/api/processes/${run.process_id}`)).json.status).toBe('succeeded');
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 2, failed: 0 });
  });

  it("a Record whose attempt's end fails (a store error) takes back the start its round made: its replay starts the dependent once", async () => {
    // Prepare: a → b; the store fails a's end once, before it is written
    const { before, run, inputA, attemptA } = await chainAB('steps-end-error');
    let failed = false;
    const stop = t.services.store.db.doc.observe(async (call, next) => {
      if (!failed && call.name === 'UpdateItemCommand' && keyOf(call).sk.startsWith('TASK#')) {
        failed = true;
        throw Object.assign(new Error('the store failed'), { name: 'InternalServerError' });
      }
      return next();
    });

    // Act
    let first: unknown;
    try {
      first = await engine.record(afterExecutor(inputA, attemptA, 0)).catch((err: unknown) => err);
    } finally {
      stop();
    }
    const b = await t.services.store.slots.get(run.process_id, 'b');
    const moved = await gaugeMoved(before);
    await engine.record(afterExecutor(inputA, attemptA, 0));
    const { attempt: attemptB } = await runB();

    // Assess: the first Record failed with the store's error, b's start taken back, nothing counted
    expect(first).toMatchObject({ message: 'the store failed' });
    expect(b).toMatchObject({ status: 'waiting', attempts: 0, round: 1 });
    expect(moved).toEqual({ running: 1, succeeded: 0, failed: 0 }); // a's claim, counted by the trigger
    // the replay ended a's attempt and started b once (runB), in its new round
    expect(attemptB).toMatchObject({ skip: false, task_id: stableUuid(run.process_id, 'b', 1, 0) });
    expect((await t.api('GET', `/api/processes/${run.process_id}`)).json.status).toBe('succeeded');
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 2, failed: 0 });
  });

  it.each([
    { before: "the take-back's fence of b's claim", hold: (call: StoreCall) => call.name === 'PutItemCommand' && keyOf(call).sk.startsWith('TASK#') },
    { before: "the take-back's write of b's slot", hold: (call: StoreCall) => call.name === 'UpdateItemCommand' && keyOf(call).sk === 'SLOT#b' && String(call.input.UpdateExpression).startsWith('SET #status = :waiting') },
  ])('a kill that lands just before $before: the run ends failed, b never runs, nothing is left running or counted', async ({ hold }) => {
    // Prepare: a → b; a reports /fail, then exits 0: its Record takes back b's start
    const { before, run, inputA, attemptA } = await chainAB('steps-kill-take-back');
    expect(await t.services.store.runs.reportTask(run.process_id, attemptA.task_id!, 'failed', new Date().toISOString())).toBe('ok');

    // Act
    const killed = await recordKilledAt(run.process_id, inputA, attemptA, hold);

    // Assess
    expect(killed).toBe(true);
    expect(started.filter((x) => x.input.task_definition_name === 'b')).toEqual([]);
    expect((await t.services.store.runs.getRunRecord(run.process_id))?.status).toBe('failed');
    const slots = await t.services.store.slots.list(run.process_id);
    expect(slots.find((x) => x.name === 'a')?.status).toBe('failed');
    expect(slots.find((x) => x.name === 'b')?.status).not.toBe('running');
    const tasks = (await t.api('GET', `/api/processes/${run.process_id}`)).json.task as Array<{ task_definition_name: string; status: string }>;
    expect(tasks.map((x) => [x.task_definition_name, x.status])).toEqual([['a', 'failed']]);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 0, failed: 1 });
  });

  it('require_explicit_success: an attempt that exits 0 after /succeed succeeds, one without it fails', async () => {
    // Prepare
    await define('steps-explicit', { require_explicit_success: true });
    const reported = await engine.trigger('steps-explicit');
    const silent = await engine.trigger('steps-explicit');
    const [inputReported, inputSilent] = started.map((s) => s.input);
    const attemptReported = await preparation.prepare(inputReported!);
    const attemptSilent = await preparation.prepare(inputSilent!);
    await t.services.store.runs.reportTask(reported.process_id, attemptReported.task_id!, 'succeeded', new Date().toISOString());

    // Act
    await engine.record(afterExecutor(inputReported!, attemptReported, 0));
    await engine.record(afterExecutor(inputSilent!, attemptSilent, 0));

    // Assess
    expect((await t.api('GET', `/api/processes/${reported.process_id}`)).json.status).toBe('succeeded');
    const failed = (await t.api('GET', `/api/processes/${silent.process_id}`)).json;
    expect(failed.status).toBe('failed');
    expect(failed.task[0].log_entries.map((e: any) => e.message)).toContain('attempt failed: exited 0 without calling /succeed (require_explicit_success)');
  });

  it('a Prepare without its hint, of a claim its start counted and nothing wrote, in a run that ended: the claim is fenced and its count taken back', async () => {
    // Prepare: the run ends between its task's start and a Prepare that lost the hint (the read path)
    await define('steps-ended-unhinted');
    const before = await gauge();
    const run = await engine.trigger('steps-ended-unhinted');
    const claimedId = stableUuid(run.process_id, 'only', 0, 0);
    await t.services.store.runs.transitionRun(run.process_id, 'running', 'failed', { reason: 'killed by operator' });
    expect(await gaugeMoved(before)).toEqual({ running: 1, succeeded: 0, failed: 0 });

    // Act
    const attempt = await preparation.prepare({ process_id: run.process_id, task_definition_name: 'only' });

    // Assess: skipped, the slot failed, no attempt written, and nothing counts as running
    expect(attempt).toEqual({ skip: true });
    expect(await t.services.store.slots.get(run.process_id, 'only')).toMatchObject({ status: 'failed', reason: 'killed by operator' });
    expect(await t.services.store.runs.getTaskRecord(run.process_id, claimedId)).toBeUndefined();
    expect(await t.services.store.runs.fenceTask(run.process_id, claimedId, undefined)).toBe(false); // fenced already
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 0, failed: 0 });
  });

  it('a kill that read a first attempt claimed, after its Prepare wrote it and removed it (the run ended): the count goes back once', async () => {
    // Prepare: the kill read the slot (running, its first attempt claimed and counted by its start) ...
    await define('steps-removed-then-killed');
    const before = await gauge();
    const run = await engine.trigger('steps-removed-then-killed');
    const input = started[0]!.input;
    const listed = await t.services.store.slots.get(run.process_id, 'only');
    await t.services.store.runs.transitionRun(run.process_id, 'running', 'failed', { reason: 'killed by operator' });

    // Act: ... then the Prepare wrote the attempt, read the run ended and removed it, then the kill settles the slot it read
    const attempt = await preparation.prepare(input);
    await engine.fanOut.killSlot(run.process_id, listed!, 'killed by operator');

    // Assess
    expect(attempt).toEqual({ skip: true });
    expect(await t.services.store.slots.get(run.process_id, 'only')).toMatchObject({ status: 'failed', attempts: 0 });
    expect((await t.api('GET', `/api/processes/${run.process_id}`)).json.task).toEqual([]);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 0, failed: 0 });
  });

  it('a task started after its run ended (a kill that listed its slots first) is skipped and failed, and a retry runs it in a new execution', async () => {
    // Prepare: the run ends between the start of its task and the task's Prepare
    await define('steps-ended');
    const before = await gauge();
    const run = await engine.trigger('steps-ended');
    const first = started[0]!;
    const input = first.input;
    await t.services.store.runs.transitionRun(run.process_id, 'running', 'failed', { reason: 'killed by operator' });

    // Act
    const attempt = await preparation.prepare(input);

    // Assess
    expect(attempt).toEqual({ skip: true });
    const slot = await t.services.store.slots.get(run.process_id, 'only');
    expect(slot).toMatchObject({ status: 'failed', reason: 'killed by operator', attempts: 0 });
    expect(slot?.current_task_id).toBeUndefined();
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 0, failed: 0 });

    // Act: the retry starts it again, and it runs
    started = [];
    await engine.retry(run.process_id);
    const retried = started[0]!.input;
    const attempt2 = await preparation.prepare(retried);
    await engine.record(afterExecutor(retried, attempt2, 0));

    // Assess
    expect(started[0]!.name).not.toBe(first.name); // Step Functions never reuses an execution name
    expect(attempt2.skip).toBe(false);
    const after = (await t.api('GET', `/api/processes/${run.process_id}`)).json;
    expect(after.status).toBe('succeeded');
    expect(after.task.map((x: any) => [x.previous_attempt_count, x.status])).toEqual([[0, 'succeeded']]);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 1, failed: 0 });
  });

  it("Prepare names the dependents its task's success starts in one write each; Record ends the attempt and starts them in one round trip, their executions once the end has answered, the slot's end after", async () => {
    // Prepare: a starts b and c (each depends on a only); b's dependent d also waits for c; e has 17 such dependents
    const fanOut = Array.from({ length: STARTS_ON_SUCCESS_MAX + 1 }, (_, i) => shellTask(`f${i}`, { dependencies: [dependsOn('e')] }));
    await t.define('steps-starts', [
      shellTask('a'),
      shellTask('b', { dependencies: [dependsOn('a')] }),
      shellTask('c', { dependencies: [dependsOn('a')] }),
      shellTask('d', { dependencies: [dependsOn('b'), dependsOn('c')] }),
      shellTask('e'),
      ...fanOut,
    ]);
    const before = await gauge();
    const run = await engine.trigger('steps-starts');
    const inputOf = (name: string) => started.find((s) => s.input.task_definition_name === name)!.input;
    const attemptA = await preparation.prepare(inputOf('a'));
    const attemptE = await preparation.prepare(inputOf('e'));

    // Act
    const stopEnds = t.services.store.db.doc.observe(async (call, next) => {
      try {
        return await next();
      } finally {
        if (call.name === 'UpdateItemCommand' && keyOf(call).sk.startsWith('TASK#')) events.push('attempt ended');
      }
    });
    const { calls } = await storeCallsDuring(t.services.store.db, () => engine.record(afterExecutor(inputOf('a'), attemptA, 0))).finally(stopEnds);
    const attemptB = await preparation.prepare(inputOf('b'));

    // Assess: a's attempt ended and b and c started in one round trip, with the counters; their executions
    // started once the end had answered; a's slot ended after it
    expect(attemptA.claimed?.starts).toEqual(['b', 'c']);
    expect(attemptE.claimed).toBeDefined();
    expect(attemptE.claimed?.starts).toBeUndefined(); // too many to carry in the execution's state
    expect(attemptB.claimed).toBeDefined();
    expect(attemptB.claimed?.starts).toBeUndefined(); // d has another dependency
    const sk = (c: StoreCall) => keyOf(c).sk;
    const write = (key: string) => calls.find((c) => c.name === 'UpdateItemCommand' && sk(c) === key)!;
    const [task, slotA, slotB, slotC] = [calls.find((c) => sk(c).startsWith('TASK#'))!, write('SLOT#a'), write('SLOT#b'), write('SLOT#c')];
    const counters = calls.find((c) => sk(c).startsWith('STATS'))!;
    for (const round of [slotB, slotC, counters]) expect(round.sent).toBeLessThan(task.answered);
    expect(slotA.sent).toBeGreaterThan(task.answered);
    const [first, ...executions] = events.filter((e) => e !== 'started a' && e !== 'started e');
    expect([first, executions.sort()]).toEqual(['attempt ended', ['started b', 'started c']]);
    expect(calls.filter((c) => sk(c).startsWith('SLOT#'))).toHaveLength(3);
    expect(started.filter((s) => ['b', 'c'].includes(s.input.task_definition_name)).map((s) => s.input.claim)).toEqual([
      { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-starts', task: await slotTask(run.process_id, 'b') },
      { round: 0, attempts: 0, claimed: true, counted: true, process_definition_name: 'steps-starts', task: await slotTask(run.process_id, 'c') },
    ]);
    expect(await t.services.store.slots.get(run.process_id, 'a')).toMatchObject({ status: 'succeeded' });
    // the roots a and e, then a's end and its two starts
    expect(await gaugeMoved(before)).toEqual({ running: 3, succeeded: 1, failed: 0 });
  });

  it("a started dependent's execution starts once the attempt's end and its start have answered, before the round's counter write has", async () => {
    // Prepare: a → b; the round's counter write waits for b's execution to start
    const { before, run, inputA, attemptA } = await chainAB('steps-early-execution');
    const startedB = new Promise<void>((resolve) => (onStarted = (task) => void (task === 'b' && resolve())));
    const stopStarts = t.services.store.db.doc.observe(async (call, next) => {
      if (keyOf(call).sk === 'STATS') await startedB;
      return next();
    });

    // Act
    try {
      await engine.record(afterExecutor(inputA, attemptA, 0));
    } finally {
      stopStarts();
    }

    // Assess
    expect(started.map((x) => x.input.task_definition_name)).toEqual(['a', 'b']);
    expect(await t.services.store.slots.get(run.process_id, 'a')).toMatchObject({ status: 'succeeded' });
    expect(await gaugeMoved(before)).toEqual({ running: 1, succeeded: 1, failed: 0 });
  });

  it("a Record whose starts no longer match its slot carries on as without them: each dependent told once, the counters moved once", async () => {
    // Prepare: a's dependents are b (a only) and c (a and x); its attempt says a's success starts b alone
    await t.define('steps-stale-starts', [
      shellTask('a'),
      shellTask('x'),
      shellTask('b', { dependencies: [dependsOn('a')] }),
      shellTask('c', { dependencies: [dependsOn('a'), dependsOn('x')] }),
    ]);
    const run = await engine.trigger('steps-stale-starts');
    const inputA = started.find((s) => s.input.task_definition_name === 'a')!.input;
    const attemptA = await preparation.prepare(inputA);
    const before = await gauge();

    // Act
    await engine.record(afterExecutor(inputA, { ...attemptA, claimed: { ...attemptA.claimed!, starts: ['b'] } }, 0));

    // Assess
    expect(attemptA.claimed?.starts).toBeUndefined();
    expect(started.filter((s) => s.input.task_definition_name === 'b')).toHaveLength(1);
    expect(started.filter((s) => s.input.task_definition_name === 'c')).toHaveLength(0);
    const c = await t.services.store.slots.get(run.process_id, 'c');
    expect(c).toMatchObject({ status: 'waiting' });
    expect([...(c?.deps_done ?? [])]).toEqual(['a']);
    expect(await gaugeMoved(before)).toEqual({ running: 0, succeeded: 1, failed: 0 });
  });

  it.each([
    // The kill lands before the whole round: it ends a's attempt and fails its slot, and blocks b; neither write of
    // the round applies, and a's completion (failed, as the kill left its attempt) tells b, blocked already
    { before: "the round (a's attempt's end and b's start)", held: ['TASK#', 'SLOT#b'], a: 'failed', attemptA: 'failed', b: 'blocked', doneOfB: ['a'], runsB: false },
    // a's attempt's end lands before it: the kill fails a's slot (a succeeded attempt in a failed task) and blocks b,
    // whose start then does not apply; a's slot's end does not either, and b is not told
    { before: "b's start", held: ['SLOT#b'], a: 'failed', attemptA: 'succeeded', b: 'blocked', doneOfB: [], runsB: false },
    // the round lands before it, a's slot's end after it: the kill fails a, and b, started, with its claim given back;
    // b's execution (started) finds its attempt's key fenced in its Prepare, and runs nothing
    { before: "a's slot's end", held: ['SLOT#a'], a: 'failed', attemptA: 'succeeded', b: 'failed', doneOfB: ['a'], runsB: true },
  ])('a kill that lands just before $before: the run ends failed, a $a, b $b and never run, nothing counted running', async ({ held: heldKeys, a: statusA, attemptA: attemptStatusA, b: statusB, doneOfB, runsB }) => {
    // Prepare: a chain a → b, a's attempt prepared; the writes named wait for the kill
    const { before: gauge0, run, inputA, attemptA } = await chainAB('steps-kill-starts');

    // Act: a key named with a trailing `#` is a prefix (an attempt's: `TASK#<id>`)
    const held = (call: StoreCall) => call.name === 'UpdateItemCommand' && heldKeys.some((h) => (h.endsWith('#') ? keyOf(call).sk.startsWith(h) : keyOf(call).sk === h));
    const killed = await recordKilledAt(run.process_id, inputA, attemptA, held);
    const startsOfB = started.filter((s) => s.input.task_definition_name === 'b');
    const preparedB = await Promise.all(startsOfB.map((s) => preparation.prepare(s.input)));

    // Assess
    expect(killed).toBe(true);
    expect(startsOfB).toHaveLength(runsB ? 1 : 0);
    expect(preparedB.every((p) => p.skip)).toBe(true);
    expect((await t.services.store.runs.getRunRecord(run.process_id))?.status).toBe('failed');
    const slots = await t.services.store.slots.list(run.process_id);
    expect(slots.find((s) => s.name === 'a')?.status).toBe(statusA);
    const b = slots.find((s) => s.name === 'b');
    expect(b?.status).toBe(statusB);
    expect([...(b?.deps_done ?? [])]).toEqual(doneOfB);
    const tasks = (await t.api('GET', `/api/processes/${run.process_id}`)).json.task as Array<{ task_definition_name: string; status: string }>;
    expect(tasks.map((task) => [task.task_definition_name, task.status])).toEqual([['a', attemptStatusA]]);
    expect((await gaugeMoved(gauge0)).running).toBe(0);
  });
});
