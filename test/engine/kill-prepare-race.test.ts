/**
 * A kill racing a `Prepare`: the Prepare read its run `running`, then the kill ended the run, stopped the
 * task's execution and settled its slot (finding no attempt written, it gave the claim back), then the
 * Prepare wrote its attempt `running`. Nothing ended that attempt: a killed run kept an attempt `running`
 * for ever (the running gauge too), and its callbacks were accepted. The interleaving is forced, not timed:
 * the store's write of the attempt runs the whole kill before it goes out, after the reads `Prepare` sent
 * beside it were answered. Both ways into an attempt: a task's first, claimed by its start
 * (`claim.claimed`: written beside the reads of the slot and the run; the kill fences its key, so the write
 * fails and no attempt is shown), and a later one, claimed by Prepare from Record's hint (the run read
 * again after the write, ended failed). Then a kill that finds a first attempt running while its Prepare
 * removes it, and last a Prepare whose write finds the key fenced before the kill gave the claim back
 * (docs/ENGINE.md "A kill racing Prepare").
 */
import { describe, expect, it } from 'vitest';
import { stableUuid } from '../../lambdas/domain/ids';
import type { TaskRecord } from '../../lambdas/store/runs';
import { bearer, metricValue, mintTaskToken, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const { api, define, trigger, current } = sundialPerFile();

type CreateTask = (task: TaskRecord, ...rest: unknown[]) => Promise<void>;
type Prepare = (state: { process_id: string; task_definition_name: string }) => Promise<unknown>;
type Read = (processId: string, ...rest: unknown[]) => Promise<unknown>;

/**
 * Captures the reads of run `processId` (the run item, its slots) sent from now until `stop()`: called
 * from inside a write, and stopped once the turn that sent the write is over, the reads sent beside it
 * (prepare.ts `prepareClaimed` reads the slot and the run beside its attempt's write).
 */
function captureReads(processId: string): { reads: Array<Promise<unknown>>; stop(): void } {
  const { store } = current().services;
  const readers = [
    [store.runs, 'getRunRecord'],
    [store.slots, 'get'],
  ] as unknown as Array<[Record<string, Read>, string]>;
  const reads: Array<Promise<unknown>> = [];
  const originals = readers.map(([owner, method]) => owner[method]!);
  readers.forEach(([owner, method], i) => {
    owner[method] = function (this: unknown, id, ...rest) {
      const read = originals[i]!.call(this, id, ...rest);
      if (id === processId) reads.push(read);
      return read;
    };
  });
  return { reads, stop: () => readers.forEach(([owner, method], i) => (owner[method] = originals[i]!)) };
}

/**
 * Runs `kill` (to its answer) just before the store writes attempt number `attempt` (its previous
 * attempts) of a run of definition `definition`, once, and after the reads its `Prepare` sent beside that
 * write were answered (so they saw the run before the kill: running, the claim held). Answers a promise of what the kill answered, and
 * one of the end of the raced `Prepare` (the step that was writing that attempt): what it writes after
 * the attempt (the run read again, the attempt removed or ended, the counters moved back) is done then.
 */
function killBeforeAttemptWrite(definition: string, attempt: number, kill: (processId: string) => Promise<unknown>) {
  const { sundial, services } = current();
  const runs = services.store.runs as unknown as { createTask: CreateTask };
  // The Prepare the local state machine calls (built beside the engine, prepare.ts `preparationFor`).
  const steps = sundial.preparation as unknown as { prepare: Prepare };
  const original = runs.createTask;
  const originalPrepare = steps.prepare;
  // Each task's Prepare in flight, as a promise of its end: set before it runs, since its first write
  // goes out before its first await.
  const inFlight = new Map<string, Promise<void>>();
  steps.prepare = function (this: unknown, state) {
    const key = `${state.process_id}/${state.task_definition_name}`;
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    inFlight.set(key, end);
    const step = originalPrepare.call(this, state);
    void step.then(ended, ended).then(() => inFlight.get(key) === end && inFlight.delete(key));
    return step;
  };
  let killed: ((answer: unknown) => void) | undefined;
  let raced: ((end: Promise<void>) => void) | undefined;
  const answer = new Promise<unknown>((resolve) => (killed = resolve));
  const prepared = new Promise<void>((resolve) => (raced = resolve));
  const restore = () => {
    runs.createTask = original;
    steps.prepare = originalPrepare;
  };
  runs.createTask = function (this: unknown, task, ...rest) {
    if (!killed || task.process_definition_name !== definition || task.previous_attempt_count !== attempt) return original.call(this, task, ...rest);
    const resolve = killed;
    killed = undefined;
    const end = inFlight.get(`${task.process_id}/${task.task_definition_name}`);
    if (!end) throw new Error(`the write of attempt ${attempt} came from no Prepare in flight`);
    raced!(end);
    restore();
    const beside = captureReads(task.process_id);
    return (async () => {
      await null; // the caller sends what goes beside this write in the turn that called it
      beside.stop();
      await Promise.allSettled(beside.reads);
      resolve(await kill(task.process_id));
      return original.call(this, task, ...rest);
    })();
  };
  return { answer, prepared, restore };
}

describe('kill racing Prepare', () => {
  it.each([
    // Its Prepare writes it beside its reads, after the kill fenced its key (the claim given back): the
    // write fails, so no attempt is shown, as for a claim with no attempt at a kill, and its token finds none.
    ['the first attempt (claimed by the task start) is removed', 0, 1, 'removed', 404],
    // Its Prepare read the run before writing it: it ends failed, as the kill ends a running attempt.
    ['a second attempt (claimed by Prepare, after Record) ends failed', 1, 2, 'failed', 409],
  ] as const)('%s: no attempt stays running after the run was killed, and its callbacks are refused', async (label, attempt, maxAttempts, outcome, refusal) => {
    // Prepare: a task that fails its first attempt when it has another, and else runs until stopped.
    const name = `kill-prepare-${attempt}`;
    await define(name, [shellScript('a', `echo up; if [ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = "${attempt}" ]; then ${UNTIL_STOPPED}; fi; exit 1`, { max_attempts: maxAttempts })]);
    const race = killBeforeAttemptWrite(name, attempt, (id) => api('POST', `/api/processes/${id}/kill`));

    // Act
    let run: { process_id: string };
    try {
      run = await trigger(name);
    } finally {
      // A kill that never came would leave the hook for the next test.
      void race.answer.then(race.restore);
    }
    const killAnswer = (await race.answer) as { status: number; text: string };

    // Assess: the kill was accepted, and then the attempt written after it was settled: removed or ended.
    expect(killAnswer.status, killAnswer.text).toBe(201);
    await race.prepared;
    const left = outcome === 'removed' ? attempt : attempt + 1;
    const final = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.task.length === left && r.json.task.every((t: { status: string }) => t.status !== 'running'),
      10_000,
    );
    expect(final.json.status, label).toBe('failed');
    const raced = final.json.task.find((t: { previous_attempt_count: number }) => t.previous_attempt_count === attempt);
    const racedId = stableUuid(run.process_id, 'a', 0, attempt);
    if (outcome === 'failed') {
      expect(raced, JSON.stringify(final.json)).toMatchObject({ task_id: racedId, status: 'failed' });
      expect(raced.log_entries.map((e: { message: string }) => e.message)).toEqual(['attempt failed: killed by operator']); // nothing ran it
    } else {
      expect(raced, JSON.stringify(final.json)).toBeUndefined();
    }
    // Its callbacks are refused.
    const token = await mintTaskToken(current().services, racedId, run.process_id);
    expect((await api('POST', `/api/tasks/${racedId}/succeed`, undefined, bearer(token))).status).toBe(refusal);
    const metrics = await api('GET', '/_internal_/metrics');
    expect(metricValue(metrics.text, 'sundial_tasks{status="running"}')).toBe(0);
  }, 60_000);

  /** The race of both kill-and-retry cases: the run is killed, then retried, before attempt `attempts` is written. */
  const killAndRetryBeforeAttemptWrite = (name: string, attempts: number) =>
    killBeforeAttemptWrite(name, attempts, async (id) => {
      const kill = await api('POST', `/api/processes/${id}/kill`);
      const retry = await api('POST', `/api/processes/${id}/retry`);
      return { kill: kill.status, retry: retry.status };
    });

  /** The run once it ended with `attempts` attempts, none of them running. */
  const settled = (processId: string, attempts: number) =>
    until(
      () => api('GET', `/api/processes/${processId}`),
      (r) => r.json.status !== 'running' && r.json.task.length === attempts && r.json.task.every((t: { status: string }) => t.status !== 'running'),
      30_000,
    );

  it('a kill and a retry of the run before a first attempt is written: the attempt of the round before the retry goes, the retried run succeeds', async () => {
    // Prepare
    const name = 'kill-retry-prepare';
    await define(name, [shellScript('a', 'echo up')]);
    const race = killAndRetryBeforeAttemptWrite(name, 0);

    // Act
    const run = await trigger(name);
    expect(await race.answer).toEqual({ kill: 201, retry: 201 });

    // Assess: the retry's attempt ran; the one written behind the kill's back (round 0) went, and nothing ran it
    const final = await settled(run.process_id, 1);
    expect(final.json.status).toBe('succeeded');
    expect(final.json.task).toMatchObject([{ task_id: stableUuid(run.process_id, 'a', 1, 0), previous_attempt_count: 0, status: 'succeeded' }]);
  }, 60_000);

  it('a kill and a retry of the run before a second attempt is written: that attempt (round 0) ends failed, the retried run succeeds', async () => {
    // Prepare: the first attempt fails, the second is raced, the retry's (round 1) succeeds.
    const name = 'kill-retry-prepare-2';
    await define(name, [shellScript('a', 'if [ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = "0" ]; then exit 1; fi; echo up', { max_attempts: 2 })]);
    const race = killAndRetryBeforeAttemptWrite(name, 1);

    // Act
    const run = await trigger(name);
    expect(await race.answer).toEqual({ kill: 201, retry: 201 });

    // Assess: Prepare's second read of the run found it retried (its trigger changed) and ended the attempt
    const final = await settled(run.process_id, 3);
    expect(final.json.status).toBe('succeeded');
    const byId = new Map(final.json.task.map((t: { task_id: string }) => [t.task_id, t]));
    const stale = byId.get(stableUuid(run.process_id, 'a', 0, 1)) as { status: string; log_entries: Array<{ message: string }> };
    expect(stale).toMatchObject({ status: 'failed' });
    expect(stale.log_entries.map((e) => e.message)).toEqual(['attempt failed: the run was killed and retried before the attempt started']);
    expect(byId.get(stableUuid(run.process_id, 'a', 1, 1))).toMatchObject({ status: 'succeeded' });
  }, 60_000);
});

describe("a kill and a first attempt's Prepare, store call by store call", () => {
  /** A promise and its resolve. */
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  /**
   * Triggers `name` (whose hooks start the kill and record the raced Prepare), waits for the kill's answer
   * and that Prepare's end, and `restore`s the hooks; then retries the killed run. Asserts that the raced
   * attempt is not shown and that its claim was given back: the retry's attempt is the task's first
   * (round 1, attempt 0), as when the kill comes before the attempt's write; nothing counts as running.
   */
  const raceThenRetry = async (
    name: string,
    race: { killAnswer: () => Promise<{ status: number; text: string }> | undefined; prepared: () => Promise<unknown> | undefined; restore: () => void },
  ) => {
    let run: { process_id: string };
    try {
      run = await trigger(name);
      const answer = await until(
        async () => race.killAnswer(),
        (a) => a !== undefined,
        10_000,
      );
      expect(answer!.status, answer!.text).toBe(201);
      await race.prepared();
    } finally {
      race.restore();
    }
    const killed = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status === 'failed',
      10_000,
    );
    const retry = await api('POST', `/api/processes/${run.process_id}/retry`);
    const final = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status === 'succeeded',
      30_000,
    );
    expect(killed.json.task, JSON.stringify(killed.json)).toEqual([]);
    expect(retry.status, retry.text).toBe(201);
    expect(final.json.task).toMatchObject([{ task_id: stableUuid(run.process_id, 'a', 1, 0), previous_attempt_count: 0, status: 'succeeded' }]);
    const metrics = await api('GET', '/_internal_/metrics');
    expect(metricValue(metrics.text, 'sundial_tasks{status="running"}')).toBe(0);
  };

  /**
   * The raced first attempt of task `a`, as both of these tests follow it: `claim` marks the attempt whose
   * write is raced (the first one offered; false for any other), `is` tells its run's (and its own) store
   * calls from the others, and `prepared()` is the end of the first `Prepare` of `a`, hooked on the Prepare
   * the local state machine calls (prepare.ts `preparationFor`) until `restore()`.
   */
  const raceOf = (steps: { prepare: Prepare }) => {
    const original = steps.prepare;
    let raced: { processId: string; taskId: string } | undefined;
    let prepared: Promise<unknown> | undefined;
    steps.prepare = function (this: unknown, state) {
      const step = original.call(this, state);
      if (prepared === undefined && state.task_definition_name === 'a') prepared = step.catch(() => undefined);
      return step;
    };
    return {
      claim: (task: TaskRecord) => raced === undefined && Boolean((raced = { processId: task.process_id, taskId: task.task_id })),
      is: (processId: string, taskId?: string) => raced !== undefined && processId === raced.processId && (taskId === undefined || taskId === raced.taskId),
      prepared: () => prepared,
      restore: () => void (steps.prepare = original),
    };
  };

  it('gives the claim back once the attempt is gone: the run shows no attempt for it, and its retry runs attempt 0', async () => {
    // Prepare: the store's calls of the first attempt of task `a` held so that they interleave this way:
    // Prepare's write lands, the kill ends the run, Prepare's reads (sent beside its write) see it ended,
    // the kill's fence fails on the written attempt and the kill reads it running, Prepare removes it,
    // then the kill ends it (which finds it gone) and fails the slot, before Prepare's own give-back of
    // the claim (which then finds the slot failed already).
    const name = 'kill-remove-window';
    await define(name, [shellScript('a', 'echo up')]);
    const { sundial, services } = current();
    type Fn = (...args: any[]) => Promise<any>;
    const runs = services.store.runs as unknown as Record<'createTask' | 'fenceTask' | 'getTaskRecord' | 'deleteUnstartedTask' | 'transitionTask' | 'getRunRecord', Fn>;
    const slots = services.store.slots as unknown as Record<'get' | 'transition', Fn>;
    const steps = sundial.preparation as unknown as { prepare: Prepare };
    const originals = { ...pickFns(runs, ['createTask', 'fenceTask', 'getTaskRecord', 'deleteUnstartedTask', 'transitionTask', 'getRunRecord']), get: slots.get, transition: slots.transition };
    const [putDone, fenceEntered, killRead, removed, killFailedSlot] = [gate(), gate(), gate(), gate(), gate()];
    const race = raceOf(steps);
    const { is } = race;
    let readsHeld = false;
    let killAnswer: Promise<{ status: number; text: string }> | undefined;
    runs.createTask = function (this: unknown, task: TaskRecord, ...rest: unknown[]) {
      if (task.process_definition_name !== name || !race.claim(task)) return originals.createTask.call(this, task, ...rest);
      const put = originals.createTask.call(this, task, ...rest);
      void put.then(putDone.open, putDone.open);
      // The reads Prepare sends in this turn, beside its write, wait for the kill to have ended the run.
      readsHeld = true;
      void Promise.resolve().then(() => (readsHeld = false));
      killAnswer = api('POST', `/api/processes/${task.process_id}/kill`);
      return put;
    };
    const heldRead = (original: Fn): Fn =>
      function (this: unknown, processId: string, ...rest: unknown[]) {
        if (readsHeld && is(processId)) return fenceEntered.opened.then(() => original.call(this, processId, ...rest));
        return original.call(this, processId, ...rest);
      };
    runs.getRunRecord = heldRead(originals.getRunRecord);
    slots.get = heldRead(originals.get);
    runs.fenceTask = async function (this: unknown, processId: string, taskId: string, ...rest: unknown[]) {
      if (!is(processId, taskId)) return originals.fenceTask.call(this, processId, taskId, ...rest);
      fenceEntered.open();
      await putDone.opened;
      return originals.fenceTask.call(this, processId, taskId, ...rest);
    };
    runs.getTaskRecord = async function (this: unknown, processId: string, taskId: string) {
      const record = await originals.getTaskRecord.call(this, processId, taskId);
      if (is(processId, taskId) && record?.status === 'running') killRead.open();
      return record;
    };
    runs.deleteUnstartedTask = async function (this: unknown, processId: string, taskId: string, ...rest: unknown[]) {
      if (!is(processId, taskId)) return originals.deleteUnstartedTask.call(this, processId, taskId, ...rest);
      await killRead.opened;
      const gone = await originals.deleteUnstartedTask.call(this, processId, taskId, ...rest);
      removed.open();
      return gone;
    };
    runs.transitionTask = async function (this: unknown, processId: string, taskId: string, ...rest: unknown[]) {
      if (is(processId, taskId)) await removed.opened;
      return originals.transitionTask.call(this, processId, taskId, ...rest);
    };
    // Prepare's end of the slot gives the claim back with it (`attempts` set); the kill's does not.
    slots.transition = async function (this: unknown, processId: string, slotName: string, from: unknown, to: unknown, set: Record<string, unknown>, ...rest: unknown[]) {
      const givesBack = set !== undefined && 'attempts' in set;
      if (is(processId) && slotName === 'a' && givesBack) await killFailedSlot.opened;
      const out = await originals.transition.call(this, processId, slotName, from, to, set, ...rest);
      if (is(processId) && slotName === 'a' && !givesBack && to === 'failed') killFailedSlot.open();
      return out;
    };

    // Act and assess: the removed attempt is not shown, and its claim was given back.
    await raceThenRetry(name, {
      killAnswer: () => killAnswer,
      prepared: race.prepared,
      restore: () => {
        Object.assign(runs, pickFns(originals, ['createTask', 'fenceTask', 'getTaskRecord', 'deleteUnstartedTask', 'transitionTask', 'getRunRecord']));
        slots.get = originals.get;
        slots.transition = originals.transition;
        race.restore();
      },
    });
  }, 60_000);

  it('a first attempt whose write finds its key fenced starts nothing and leaves the slot to the kill: its retry runs attempt 0', async () => {
    // Prepare: the kill ends the run and fences the first attempt's key before Prepare's write goes out;
    // the kill's give-back of the claim waits until that Prepare has ended. A Prepare that decided the
    // slot itself then (it read it still claimed, the run ended) failed it with the claim counted, the
    // kill's give-back found it failed, and the retry's attempt was the task's second.
    const name = 'kill-fence-first';
    await define(name, [shellScript('a', 'echo up')]);
    const { sundial, services } = current();
    type Fn = (...args: any[]) => Promise<any>;
    const runs = services.store.runs as unknown as Record<'createTask' | 'fenceTask', Fn>;
    const slots = services.store.slots as unknown as Record<'giveBack', Fn>;
    const steps = sundial.preparation as unknown as { prepare: Prepare };
    const originals = { ...pickFns(runs, ['createTask', 'fenceTask']), giveBack: slots.giveBack };
    const fenced = gate();
    const race = raceOf(steps);
    const { is } = race;
    let killAnswer: Promise<{ status: number; text: string }> | undefined;
    runs.createTask = async function (this: unknown, task: TaskRecord, ...rest: unknown[]) {
      if (task.process_definition_name !== name || !race.claim(task)) return originals.createTask.call(this, task, ...rest);
      killAnswer = api('POST', `/api/processes/${task.process_id}/kill`);
      await fenced.opened;
      return originals.createTask.call(this, task, ...rest);
    };
    runs.fenceTask = async function (this: unknown, processId: string, taskId: string, ...rest: unknown[]) {
      const out = await originals.fenceTask.call(this, processId, taskId, ...rest);
      if (is(processId, taskId) && out) fenced.open();
      return out;
    };
    slots.giveBack = async function (this: unknown, processId: string, ...rest: unknown[]) {
      if (is(processId)) await race.prepared();
      return originals.giveBack.call(this, processId, ...rest);
    };

    // Act and assess: no attempt was written under the fence, and the claim went back.
    await raceThenRetry(name, {
      killAnswer: () => killAnswer,
      prepared: race.prepared,
      restore: () => {
        Object.assign(runs, pickFns(originals, ['createTask', 'fenceTask']));
        slots.giveBack = originals.giveBack;
        race.restore();
      },
    });
  }, 60_000);
});

/** The named methods of `owner`, as they are now. */
function pickFns<K extends string>(owner: Record<string, unknown>, names: readonly K[]): Record<K, (...args: any[]) => Promise<any>> {
  return Object.fromEntries(names.map((n) => [n, owner[n]])) as Record<K, (...args: any[]) => Promise<any>>;
}
