/**
 * A task's start and its completion: the write that starts a waiting task also claims its next attempt
 * (so that its `Prepare` writes no slot), and a completed task tells its dependents, starts those now
 * ready (one whose only dependency it is in the same write that counts it), blocks those that cannot
 * run, and finishes the run after its last task. Every step is a single-item conditional write, safe to
 * replay. Part of the engine (engine.ts); docs/ENGINE.md "One execution per task".
 */
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../domain/concurrency';
import { blocksDependent, type Dependent, nextStep } from '../domain/dag';
import { finalRunStatus } from '../domain/engine';
import { executionName, stableUuid } from '../domain/ids';
import type { Logger } from '../logger';
import type { Store } from '../store';
import { claimsFirstAttempt, countsDone, doneShardCountOf, type Slot, startedSlot } from '../store/slots';
import { type CounterDeltas, negated, plus } from '../store/stats';
import { STARTED_TASK_MAX_BYTES, type StartedTask } from './contract';
import type { Orchestrator } from './ports';

type Completed = 'succeeded' | 'failed' | 'blocked';

/**
 * Whether completing `slot` as `status` tells its `index`th dependent `dep` with the write that starts
 * it: `slot` is its only dependency, and does not block it (slots.ts `startAfterOnlyDependency`).
 */
const startsInOneWrite = (slot: Pick<Slot, 'only_dependency_of'>, status: Completed, dep: Dependent, index: number) =>
  !blocksDependent(status, dep.success_required) && slot.only_dependency_of?.[index] === '1';

/**
 * The most dependents `Prepare` names in its answer for `Record` ({@link startsOnSuccess}): the names
 * travel in the execution's state (Step Functions' payload: 256 KiB), so a wide fan-out's are not sent,
 * and its end takes the round trips it took before.
 */
export const STARTS_ON_SUCCESS_MAX = 16;

/**
 * The dependents `slot`'s success starts, each in the write that tells it ({@link startsInOneWrite}: it is
 * their only dependency), when those are all its dependents, at most {@link STARTS_ON_SUCCESS_MAX}, and
 * its end is not counted in a done shard (slots.ts `countsDone`): then its completion is the write that
 * ends its slot and those starts, which do not depend on each other (`Record` sends the starts in the round
 * trip of the attempt's end, with what `Prepare` read: contract.ts `ClaimedSlot.starts`; {@link
 * Completion.endWithStarts}). Undefined otherwise.
 */
export function startsOnSuccess(slot: Pick<Slot, 'dependents' | 'only_dependency_of' | 'counts_done'>): string[] | undefined {
  const { dependents, only_dependency_of: only } = slot;
  if (countsDone(slot) || dependents.length === 0 || dependents.length > STARTS_ON_SUCCESS_MAX) return undefined;
  return dependents.every((_, i) => only?.[i] === '1') ? dependents.map((d) => d.name) : undefined;
}

/**
 * What the execution a start begins carries of its slot (contract.ts `ClaimHint.task`): what `Prepare` would
 * read of it for a first attempt. Undefined when the definition is over `STARTED_TASK_MAX_BYTES`.
 */
export function startedTask(slot: Slot): StartedTask | undefined {
  return Buffer.byteLength(JSON.stringify(slot.definition)) > STARTED_TASK_MAX_BYTES ? undefined : taskOf(slot);
}

/** What `Prepare` reads of `slot` to build an attempt's request (contract.ts `StartedTask`). */
export function taskOf(slot: Pick<Slot, 'definition' | 'max_attempts' | 'dependents' | 'only_dependency_of' | 'counts_done'>): StartedTask {
  const starts = startsOnSuccess(slot);
  return { definition: slot.definition, max_attempts: slot.max_attempts, ...(starts === undefined ? {} : { starts }) };
}

/** Task `name` as {@link startsOnSuccess} found it: what telling its dependents reads of its slot. */
const knownSlot = (name: string, starts: readonly string[]): Pick<Slot, 'name' | 'dependents' | 'only_dependency_of'> => ({
  name,
  // Whether a dependent requires its success does not matter once it succeeded (dag.ts `blocksDependent`).
  dependents: starts.map((d) => ({ name: d, success_required: true })),
  only_dependency_of: '1'.repeat(starts.length),
});

export interface CompletionDeps {
  store: Store;
  orchestrator: Orchestrator;
  now: () => Date;
  logger: Logger;
  /** The expiry the write that ends a task stamps on its slot (the engine's; undefined: kept for ever); done shards get theirs at the run's end. */
  expiry(): number | undefined;
  /** Tells the run's listeners that it ended (the engine's). */
  runEnded(run: { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' }): Promise<void>;
}

export class Completion {
  constructor(private readonly d: CompletionDeps) {}

  /**
   * Starts a waiting task whose dependencies are complete (once, whoever calls), its next attempt claimed.
   * Its claim is counted running once the start has made it (slots.ts `claim_counted`): beside its
   * execution's start, or by the caller that passes `counted` (called then), with writes of its own.
   */
  async startSlot(slot: Slot, counted?: () => void): Promise<void> {
    const { process_id: processId, name, round, attempts } = slot;
    const started = await this.d.store.slots.start(processId, name, round, attempts, executionName(processId, name, round), stableUuid(processId, name, round, attempts));
    if (!started) return;
    if (started.claim_counted && counted) counted();
    await Promise.all([this.startExecution(started), started.claim_counted && !counted ? this.d.store.stats.add({ tasks_running: 1 }) : undefined]);
  }

  /**
   * A waiting slot not written yet, as {@link startSlot}'s write would leave it once written (the same
   * execution name and claimed attempt): a run triggered within its request writes its tasks without
   * dependencies so, one write each instead of two, then starts them with {@link startExecution}.
   */
  startedAtCreation(slot: Slot): Slot {
    const { process_id: processId, name, round, attempts } = slot;
    return startedSlot(slot, executionName(processId, name, round), stableUuid(processId, name, round, attempts));
  }

  /**
   * A task is complete (succeeded, failed irrevocably, or blocked): tell its dependents, start those
   * now ready, block those that cannot run, and finish the run after its last task. `counts`: the
   * counters' move of the attempt that completed it (`Record`'s), sent with the first writes that tell
   * its dependents, with the count of the claims those writes make. `starts`: the dependents its success
   * starts, as its `Prepare` read its slot ({@link startsOnSuccess}; contract.ts `ClaimedSlot.starts`).
   */
  async completeTask(processId: string, first: string, firstStatus: Completed, counts: CounterDeltas = {}, starts?: readonly string[], startedAlready?: boolean): Promise<void> {
    const queue: Array<{ name: string; status: Completed }> = [{ name: first, status: firstStatus }];
    // The attempt's move goes out with the first completion's writes; the tasks it blocks move no counter.
    let unsent = counts;
    while (queue.length > 0) {
      const { name, status } = queue.shift()!;
      let pending = unsent;
      unsent = {};
      const from = status === 'blocked' ? (['waiting', 'blocked'] as const) : (['running', status] as const);
      // The write that ends the slot stamps its expiry. Not the done shard's count: a shard is the engine's
      // state until the run ends (a run longer than the retention must still find it); the run's end sets it.
      const expiry = this.d.expiry();
      const transition = this.d.store.slots.transition(processId, name, [...from], status, {}, expiry);
      // The dependents its success starts, as `Prepare` read its slot (startsOnSuccess): started beside the
      // write that ends it, one round trip for both, unless the round of the attempt's end started them
      // (`startedAlready`, endWithStarts).
      const known = name === first && status === 'succeeded' && starts !== undefined ? starts : undefined;
      let slot: Slot | undefined;
      if (known) {
        // Only the starts: a dependent that is not started so (a replay) is told after the slot's end, which
        // decides whether the task completed at all (a kill may have failed it in the meantime).
        // `startedAlready`: made, with the counters' move, in the round of the attempt's end (endWithStarts).
        const told = startedAlready === undefined ? this.tellDependents(processId, knownSlot(name, known), status, pending, queue, true) : Promise.resolve(startedAlready);
        let allStarted: boolean;
        [slot, allStarted] = await Promise.all([transition, told]);
        pending = {};
        // Moved by a kill or a concurrent replay that will carry on. A dependent started meanwhile is failed
        // by its Prepare, which reads the run, as one started just before a kill (docs/ENGINE.md).
        if (!slot) continue;
        // Each started, the end not counted in a done shard, and those its only dependents: nothing is left
        // to do. Otherwise (a replay; a slot changed since Prepare read it) it carries on below as without
        // the starts, which are not sent again: what they counted is counted.
        if (allStarted && !countsDone(slot) && startsOnSuccess(slot)?.join('\n') === known.join('\n')) continue;
      } else {
        slot = await transition;
        if (!slot) {
          await this.d.store.stats.add(pending);
          continue; // moved by a kill or a concurrent replay that will carry on
        }
      }
      // The run is not read: a kill moves waiting slots to blocked (so dependents told now do not
      // start) and a task started in the meantime is failed by its Prepare, which reads the run.
      // The run's shard count is on its slots (slots written before they carried it or `tasks_total`:
      // the legacy count of the run's tasks, read from the run when the slot lacks them).
      const holder = slot.done_shard_count !== undefined || slot.tasks_total !== undefined ? slot : ((await this.d.store.runs.getRunRecord(processId)) ?? {});
      const shards = doneShardCountOf(holder);
      if (!countsDone(slot)) {
        // Not counted (slots.ts `countsDone`): its dependents end after it, and are. A failure is marked
        // first, so that it has landed before the run's last counted end decides the run's status.
        if (status !== 'succeeded') await this.d.store.slots.runTaskFailed(processId, name, shards);
        await this.tellDependents(processId, slot, status, pending, queue);
        continue;
      }
      // Dependents are separate items: tell them all at once rather than one round trip after another,
      // and count the task as done in the same round trip (the run cannot finish before its dependents
      // are done, so the order does not matter).
      const [finished] = await Promise.all([this.d.store.slots.runTaskFinished(processId, name, status !== 'succeeded', shards), this.tellDependents(processId, slot, status, pending, queue)]);
      if (finished.runDone) {
        const final = finalRunStatus(finished.failed);
        const ended = await this.d.store.runs.transitionRun(processId, 'running', final, { end_time: this.d.now().toISOString() });
        if (ended) {
          this.d.logger.info('run finished', { process_id: processId, status: final });
          await this.d.runEnded({ process_id: processId, process_definition_name: ended.process_definition_name, status: final });
        }
      }
    }
  }

  /**
   * Tells the dependents of `slot`, completed `status`: starts those now ready, and queues those it blocks.
   * A task may have thousands of dependents: they are told within the bound of lambdas/domain/concurrency.ts.
   * `pending` (the counters' move of the attempt that completed it) goes out in one write with the claims
   * of the dependents this completion starts. Those whose only dependency this task is, and that it does
   * not block, are started by the write that tells them (unless it is a replay): when there are any,
   * `pending` and their claims go out beside those writes (in a chain's step, no store call more in a
   * row), and what did not happen (a replay) is taken back after. The rest, and the claims of dependents
   * started by a second write, go out after. `startsOnly`: only those one-write starts are made (a
   * dependent they did not start is not told); answers whether every dependent was told.
   */
  private async tellDependents(
    processId: string,
    slot: Pick<Slot, 'name' | 'dependents' | 'only_dependency_of'>,
    status: Completed,
    pending: CounterDeltas,
    queue: Array<{ name: string; status: Completed }>,
    startsOnly = false,
    held?: (started: Slot) => void,
  ): Promise<boolean> {
    const quick = slot.dependents.filter((dep, i) => startsInOneWrite(slot, status, dep, i)).length;
    let [startedQuick, startedAfter, untold] = [0, 0, 0];
    const early = quick > 0 ? this.d.store.stats.add(plus(pending, { tasks_running: quick })) : undefined;
    try {
      await Promise.all([
        early,
        mapLimited([...slot.dependents.entries()], AWS_FAN_OUT_CONCURRENCY, ([i, dep]) =>
          this.tellDependent(processId, slot, status, dep, i, startsOnly, held, {
            blocked: (d) => queue.push({ name: d, status: 'blocked' }),
            startedQuick: () => startedQuick++,
            startedAfter: () => startedAfter++,
            untold: () => untold++,
          }),
        ),
      ]);
    } finally {
      // A failed early write fails the step; what it would have counted is not counted again.
      if (!early || (await early.then(() => true, () => false))) {
        await this.d.store.stats.add(plus(early ? {} : pending, { tasks_running: startedAfter + startedQuick - quick }));
      }
    }
    return untold === 0;
  }

  /**
   * Tells dependent `dep` (the `index`th of `slot`'s) that task `slot` completed `status`: the write that
   * completes its dependencies starts it, or blocks it (`on.blocked`: queued, it completes in turn). A
   * dependent whose only dependency this task is, and not blocked by it, is counted and started in one
   * write (`on.startedQuick`); any other case, and that write's condition failing (a replay), takes two
   * (`on.startedAfter` when the second started it with a claim to count).
   */
  private async tellDependent(
    processId: string,
    slot: Pick<Slot, 'name' | 'only_dependency_of'>,
    status: Completed,
    dep: Dependent,
    index: number,
    startsOnly: boolean,
    held: ((started: Slot) => void) | undefined,
    on: { blocked: (name: string) => void; startedQuick: () => void; startedAfter: () => void; untold: () => void },
  ): Promise<void> {
    if (startsInOneWrite(slot, status, dep, index)) {
      const started = await this.d.store.slots.startAfterOnlyDependency(processId, dep.name, slot.name, executionName(processId, dep.name, 0), stableUuid(processId, dep.name, 0, 0));
      if (started) {
        on.startedQuick();
        if (held) return held(started);
        return this.startExecution(started);
      }
    }
    if (startsOnly) return on.untold();
    const d = await this.d.store.slots.dependencyCompleted(processId, dep.name, slot.name, blocksDependent(status, dep.success_required));
    if (!d) return;
    const step = nextStep(d);
    if (step === 'block') on.blocked(d.name);
    else if (step === 'start') await this.startSlot(d, on.startedAfter);
  }

  /**
   * `Record`'s end of an attempt that exited 0, whose success starts `starts` (its `Prepare` named them:
   * {@link startsOnSuccess}), in one round with those starts: `end` (the conditional write that ends the attempt
   * and decides, as on every path), each start (slots.ts `startAfterOnlyDependency`) and the counters' write,
   * which carries `moves` (the end's: its condition is `running`, so it is known before it answers). The started
   * dependents' executions wait for the end's answer. Ended: they start, and the task completes as
   * {@link completeTask} does with the starts made (the slot's end then goes out beside the dependents' `Prepare`).
   * Not ended (the task reported `/fail`, a kill or the reaper ended the attempt first, a replay): what the round
   * did is taken back ({@link takeBackStarts}) and `false` answers that the caller takes the slow path.
   * docs/ENGINE.md "The attempt's end and those starts in one round trip".
   */
  async endWithStarts(processId: string, name: string, starts: readonly string[], moves: CounterDeltas, end: () => Promise<boolean>): Promise<boolean> {
    const ending = end();
    const held: Slot[] = [];
    // Each started dependent's execution starts once the end and its start have answered, not the round's
    // other writes (the counters').
    const executions: Array<Promise<void>> = [];
    const hold = (started: Slot) => {
      held.push(started);
      executions.push(ending.then((ended) => (ended ? this.startExecution(started) : undefined), () => undefined));
    };
    const [ended, told] = await Promise.allSettled([ending, this.tellDependents(processId, knownSlot(name, starts), 'succeeded', moves, [], true, hold)]);
    if (ended.status === 'fulfilled' && ended.value) {
      // A start whose write failed (a store error) fails the step after the others' executions have started:
      // its replay finds the attempt ended and tells the dependents as a slow path does.
      const completed = told.status === 'fulfilled' ? this.completeTask(processId, name, 'succeeded', {}, starts, told.value) : Promise.reject(told.reason);
      // Everything sent is seen through before a failure fails the step.
      const failed = (await Promise.allSettled([...executions, completed])).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return true;
    }
    // Not ended, or not known to be (its write failed): nothing of the round stays but the attempt's own end, if
    // it landed unanswered (its replay then finds it ended, the counters' move not counted, as on any path).
    // The move is taken back only once known sent (the round's counter write is part of the starts').
    await this.takeBackStarts(processId, name, held, told.status === 'fulfilled' ? moves : {});
    if (ended.status === 'rejected') throw ended.reason;
    if (told.status === 'rejected') throw told.reason;
    return false;
  }

  /**
   * Takes back the starts {@link endWithStarts} made in the round of an end that did not end the attempt (their
   * executions never started) and its counters' move. Each claim is given back as every give-back of a first
   * attempt's claim is: its attempt's key fenced first (runs.ts `fenceTask`; whoever fences owns the claim, and
   * the fence takes its count back), then the slot waits again, its dependency not counted, in a new round, so
   * that its next claim has a new attempt id (slots.ts `unstart`). A claim fenced first by someone else (the kill,
   * the reaper) is theirs to give back.
   */
  private async takeBackStarts(processId: string, name: string, held: readonly Slot[], moves: CounterDeltas): Promise<void> {
    await Promise.all([
      this.d.store.stats.add(negated(moves)),
      mapLimited(held, AWS_FAN_OUT_CONCURRENCY, async (slot) => {
        const taskId = slot.current_task_id!;
        if (await this.d.store.runs.fenceTask(processId, taskId, this.d.expiry(), Boolean(slot.claim_counted))) {
          await this.d.store.slots.unstart(processId, slot.name, name, taskId);
        }
      }),
    ]);
  }

  /**
   * Starts the execution of a task whose start has just claimed its next attempt (contract.ts
   * `ClaimHint.claimed`), or that was written started ({@link startedAtCreation}).
   */
  async startExecution(started: Slot): Promise<void> {
    // Only a first attempt's Prepare takes it (prepare.ts `prepareClaimed`): a later attempt's start carries none.
    const task = started.process_definition_name !== undefined && claimsFirstAttempt(started) ? startedTask(started) : undefined;
    await this.d.orchestrator.startTask(executionName(started.process_id, started.name, started.round), {
      process_id: started.process_id,
      task_definition_name: started.name,
      claim: {
        round: started.round,
        attempts: started.attempts - 1,
        claimed: true,
        ...(started.claim_counted ? { counted: true } : {}),
        ...(started.process_definition_name === undefined ? {} : { process_definition_name: started.process_definition_name }),
        ...(task ? { task } : {}),
      },
    });
  }
}
