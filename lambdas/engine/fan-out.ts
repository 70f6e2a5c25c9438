/**
 * The part of a trigger, kill or retry that goes over a run's tasks: writing and starting them, stopping
 * and moving them, reopening them. A run of at most {@link IN_REQUEST_TASKS_MAX} tasks has it done within
 * its request, as always. A larger one would not fit an API request (30 s at most, docs/SCALE.md measures
 * it): its request makes only the writes that decide the answer — the run item, its status change and
 * their conditions, so that a 409 stays a 409 — and hands the rest to the engine function as a fan-out
 * event (an asynchronous invocation deployed, the same step in the background locally). A step goes over
 * the run's slots a page at a time, paced to the quotas (./pace.ts), hands what it has not done to a new
 * step before its function's timeout, and does nothing twice when an event is delivered again:
 *
 * - every write is conditional: a slot is written only where missing, a status moved only from what it was;
 * - the run item holds the fan-out's marker (`starting`, `killing`, `reopening`) with the token of the one
 *   step that may go on: each step, and each phase, gives its successor a new token, so that a replayed or
 *   overtaken event finds the marker moved on and does nothing; the last step removes the marker;
 * - each page reads the run first: what a kill did meanwhile is left as the kill left it, and what a page
 *   wrote while the kill came is put the way the kill puts it.
 *
 * This module is the request's part (and what the steps share with it: a task's kill, restart and
 * unblocking, the tokens, the hand-off); the steps are ./fan-out-steps.ts, which only the engine function
 * and the local runtime build.
 */
import { executionName } from '../domain/ids';
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../domain/concurrency';
import { dependenciesAmong, nextStep, planTasks, tasksWithoutDependents } from '../domain/dag';
import { ConflictError } from '../domain/errors';
import type { RunTrigger, TaskDefinition } from '../domain/models';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { RunItem, RunRecord } from '../store/runs';
import { claimsFirstAttempt, countsDone, doneShardCount, doneShardCountOf, doneShardsOf, type Slot } from '../store/slots';
import { type Clock, type FanOutPace, Pacer, writeUnits } from './pace';
import type { FanOutDispatcher, Launcher, Orchestrator } from './ports';

/**
 * Most tasks a run may have for its trigger, kill and retry to go over them within the request. A kill
 * of 100 running Batch tasks is 100 StopExecution and 200 Batch calls (4 s at Batch's 50 a second)
 * and 300–400 item writes: well inside the API function's 15 s. Runs up to this size answer exactly as
 * before; larger ones answer once their status changed, their tasks following (docs/SCALE.md).
 */
export const IN_REQUEST_TASKS_MAX = 100;

/**
 * A marker whose token is older than this is left over from a kill or fan-out that died half-way (its
 * function timed out, its event was lost): the longest a Lambda function may run
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html: up to 900 seconds), as each
 * step renews its token, so that no live one is overtaken. A retry goes on past such a marker, and the
 * reaper hands a run's start on again.
 */
export const FAN_OUT_STALE_SECONDS = 900;

/**
 * A retry's claim of a failed run (`retrying`, {@link RunFanOut.reopen}) older than this is left over from a
 * request that died half-way: longer than the api function may run (lib/api.ts, 15 s), so that no live
 * request's claim is overtaken, and short enough that the next retry is not refused for long.
 */
export const RETRY_CLAIM_STALE_SECONDS = 60;

export type FanOutOp = 'start' | 'kill' | 'reopen';
export type FanOutPhase = 'slots' | 'roots' | 'stop' | 'expiry' | 'unblock' | 'restart' | 'ready';

/** The engine function's event for one step of a fan-out (lambdas/engine/events.ts). */
export interface FanOutEvent {
  action: 'fan-out';
  op: FanOutOp;
  process_id: string;
  /** The token of the run's marker this step may act on. */
  token: string;
  phase: FanOutPhase;
  /** Where the phase goes on: the plan's next slot (start), or the last slot or item done (the others). */
  next?: number;
  after?: string;
  /**
   * Start: the tasks without dependencies written started from `next` on may not have had their executions
   * started (the step before handed on first, or died: the reaper's redrive); this step starts those it
   * finds so, where any other leaves them to the step that wrote them. A start of one already started does
   * nothing: its name is taken (Step Functions answers ExecutionAlreadyExists, or the running execution).
   */
  unstarted?: true;
}

/** Where a phase goes on (see {@link FanOutEvent}). */
export type At = Pick<FanOutEvent, 'next' | 'after' | 'unstarted'>;

/** True once a step should hand the rest on (its function's timeout is near). */
export type Deadline = () => boolean;

export interface FanOutDeps {
  store: Store;
  orchestrator: Orchestrator;
  launcher: Launcher;
  now: () => Date;
  logger: Logger;
  /** Where steps go: the engine function (deployed), the background (local: local/fan-outs.ts). A trigger, kill or retry over more than {@link IN_REQUEST_TASKS_MAX} tasks fails without one. */
  dispatcher?: FanOutDispatcher;
  /** @default no pacing (the local runtime) */
  pace?: FanOutPace;
  /** @default the real one (tests give a fake one) */
  clock?: Clock;
  /** The expiry a write that ends a task stamps on it (./engine.ts). @default none: the run's end sets them all */
  expiry?(): number | undefined;
  /** The engine's own steps (./engine.ts). */
  startSlot(slot: Slot): Promise<void>;
  /** A waiting slot as its start's write would leave it (completion.ts `startedAtCreation`). */
  startedAtCreation(slot: Slot): Slot;
  /** Starts the execution of a slot written started (completion.ts `startExecution`). */
  startExecution(slot: Slot): Promise<void>;
  endCurrentAttempt(slot: Slot, reason: string, options: { stop: boolean }): Promise<unknown>;
  runEnded(run: { process_id: string; process_definition_name: string; status: 'failed' }): Promise<void>;
}

/** The slots a new run of `tasks` starts with (all waiting). */
export function plannedSlots(processId: string, tasks: readonly TaskDefinition[], definitionName: string): Slot[] {
  const planned = planTasks(tasks);
  // Only the ends of the tasks without dependents are counted in the done shards (slots.ts `countsDone`).
  const counted = tasksWithoutDependents(tasks).length;
  return planned.map(({ definition, dependents, deps_total, only_dependency_of }) => ({
    process_id: processId,
    name: definition.task_definition_name,
    definition,
    dependents,
    ...(only_dependency_of.includes('1') ? { only_dependency_of } : {}),
    deps_total,
    status: 'waiting',
    attempts: 0,
    max_attempts: definition.max_attempts,
    round: 0,
    tasks_total: tasks.length,
    done_shard_count: doneShardCount(counted),
    process_definition_name: definitionName,
    ...(dependents.length > 0 ? { counts_done: false as const } : {}),
  }));
}

const stale = (token: string, now: Date) => now.getTime() - Date.parse(token) >= FAN_OUT_STALE_SECONDS * 1000;

export class RunFanOut {
  constructor(readonly d: FanOutDeps) {}

  // ---- within the request ------------------------------------------------------------------------

  /**
   * A large run's trigger: its plan (the tasks as triggered), then its run item, marked `starting`; the
   * engine function writes its slots and starts its first tasks. Its done shards are known from the
   * task names alone.
   */
  async start(run: RunRecord, extra: Record<string, unknown>, tasks: readonly TaskDefinition[]): Promise<FanOutEvent> {
    const token = this.token();
    await this.d.store.fanOuts.putPlan(run.process_id, tasks);
    await this.d.store.runs.createRun(run, { ...extra, ...doneShardsOf(tasksWithoutDependents(tasks)), starting: token });
    return { action: 'fan-out', op: 'start', process_id: run.process_id, token, phase: 'slots', next: 0 };
  }

  /**
   * A retry's claim of failed run `run` (`retrying` = the answered token), before it writes anything (Engine.retry):
   * on the condition that it is the failed run the retry read (its `end_time`) and that no other retry
   * holds a claim younger than {@link RETRY_CLAIM_STALE_SECONDS}. A retry's writes to slots, done shards and
   * the run item are not conditional on the run, so a second retry at the same time, writing them after the
   * first had reopened the run, erased the ends the first one's tasks had counted (the run then never
   * ended); and its registration with the schedules, undone when it failed, could undo the first one's. The
   * second is refused here (409) before it writes or registers anything.
   */
  async claimRetry(run: RunItem): Promise<string> {
    const claim = this.token();
    const staleBefore = new Date(Date.parse(claim) - RETRY_CLAIM_STALE_SECONDS * 1000).toISOString();
    if (!(await this.d.store.fanOuts.claimRetry(run.process_id, claim, staleBefore, run.end_time))) {
      throw new ConflictError(`process ${run.process_id} is being retried by another request, or changed since it was read; try again`);
    }
    return claim;
  }

  /** Gives a retry's claim back while the run is still failed (a retry that failed), so that the next need not wait for it to go stale. */
  async releaseRetry(processId: string, claim: string): Promise<void> {
    await this.d.store.fanOuts.moveMarker(processId, 'retrying', claim, undefined).catch(() => false);
  }

  /** A large run's kill, once its status moved (`killing` = `token`): the engine function stops its tasks. */
  kill(processId: string, token: string): FanOutEvent {
    return { action: 'fan-out', op: 'kill', process_id: processId, token, phase: 'stop' };
  }

  /**
   * Hands the first step of a fan-out that {@link start}, {@link kill} or {@link reopen} answered to the
   * engine function. The request calls it once its answer is read: locally the steps run in the same
   * process, and deployed they write the partition that the answer reads.
   */
  handOff(event: FanOutEvent): Promise<void> {
    return this.hand(event);
  }

  /**
   * A retry's reopening, once its checks passed (Engine.retry): blocked tasks wait again, failed ones get
   * one more attempt. A large run's status moves here (marked `reopening`), under the retry's conditions
   * (409 if the run changed meanwhile), and the engine function reopens its tasks. `slots`: a run within
   * its request's slots, read whole; `undefined` for a large run, whose steps read them.
   *
   * `claim`: the retry's claim of the run ({@link claimRetry}); the transition that reopens the run holds
   * and removes it, and a reopening that fails gives it back.
   */
  async reopen(run: RunItem, slots: readonly Slot[] | undefined, reopened: ReadonlySet<string>, trigger: RunTrigger, claim: string): Promise<FanOutEvent | undefined> {
    const processId = run.process_id;
    const large = slots === undefined;
    let token: string;
    try {
      // Each slot is its own item: reopen them side by side, as many at once as the fan-outs to AWS allow.
      if (slots) await mapLimited(slots.filter((s) => s.status === 'blocked'), AWS_FAN_OUT_CONCURRENCY, (slot) => this.unblockSlot(processId, slot, reopened));
      await this.d.store.slots.runTasksReopened(processId, [...reopened], doneShardCountOf(run, run.tasks_total ?? slots?.length ?? reopened.size));
      // Running again: nothing of it expires (a large run's other items in its steps).
      await this.d.store.runs.setRunExpiry(processId, undefined, { runItemOnly: large });
      token = this.token(claim);
      const moved = await this.d.store.runs.transitionRun(processId, 'failed', 'running', { trigger, ...(large ? { reopening: token } : {}) }, ['end_time', 'reason', 'retrying'], ['killing'], { retrying: claim });
      if (!moved) throw new ConflictError(`process ${processId} changed while retrying; try again`);
    } catch (err) {
      await this.releaseRetry(processId, claim);
      throw err;
    }
    if (!slots) return { action: 'fan-out', op: 'reopen', process_id: processId, token, phase: 'expiry' };
    await mapLimited(slots.filter((s) => s.status === 'failed'), AWS_FAN_OUT_CONCURRENCY, (slot) => this.restartSlot(processId, slot));
    // Tasks that never started (a kill blocked them) and whose dependencies are all complete.
    const ready = (await this.d.store.slots.list(processId)).filter((slot) => nextStep(slot) === 'start');
    await mapLimited(ready, AWS_FAN_OUT_CONCURRENCY, (slot) => this.d.startSlot(slot));
    return undefined;
  }

  /**
   * What a retry waits for: a kill (issue 15: a retry in between would reopen tasks the kill then fails
   * without telling their dependents), or a large run's start or reopening, under way. One that died
   * half-way must not block retries for ever: a dead kill or reopening is forgotten; a dead start is
   * handed on again first, so that the tasks it never wrote are.
   */
  async assertIdle(run: RunItem): Promise<void> {
    const now = this.d.now();
    if (typeof run.killing === 'string') {
      if (!stale(run.killing, now)) throw new ConflictError(`process ${run.process_id} is still being killed; retry it once the kill has finished`);
      await this.d.store.runs.killEnded(run.process_id);
    }
    if (typeof run.starting === 'string') {
      if (stale(run.starting, now)) await this.redrive(run.process_id, run.starting);
      throw new ConflictError(`process ${run.process_id} is still being started; retry it once its tasks are written`);
    }
    if (typeof run.reopening === 'string') {
      if (!stale(run.reopening, now)) throw new ConflictError(`process ${run.process_id} is still being reopened; retry it once that has finished`);
      await this.d.store.fanOuts.moveMarker(run.process_id, 'reopening', run.reopening, undefined);
    }
  }

  /**
   * A start or a reopening of the run's tasks is under way (its marker fresh): until it is over, a run
   * with no task running is not stalled (Engine.settle) and a kill does not end (killDone).
   */
  busy(run: RunItem): boolean {
    return [run.starting, run.reopening].some((token) => typeof token === 'string' && !stale(token, this.d.now()));
  }

  /** The reaper: a running run whose start died half-way (its marker stale) is handed on again. */
  async redriveStale(processId: string): Promise<boolean> {
    const run = await this.d.store.runs.getRunRecord(processId);
    if (run?.status !== 'running' || typeof run.starting !== 'string' || !stale(run.starting, this.d.now())) return false;
    return this.redrive(processId, run.starting);
  }

  private async redrive(processId: string, token: string): Promise<boolean> {
    const next = this.token(token);
    if (!(await this.d.store.fanOuts.moveMarker(processId, 'starting', token, next))) return false;
    this.d.logger.warn('a large run was not all started: handed on again', { process_id: processId });
    // A step that died may have written tasks started and not started them: the redriven one starts those it finds.
    await this.hand({ action: 'fan-out', op: 'start', process_id: processId, token: next, phase: 'slots', next: 0, unstarted: true });
    return true;
  }

  // ---- one task (within the request, or in a step) -------------------------------------------------

  /** A kill's part of one task: a running one is stopped and fails, a waiting one is blocked. */
  async killSlot(processId: string, slot: Slot, reason: string, pacer = new Pacer(undefined)): Promise<void> {
    if (slot.status === 'running') {
      await pacer.take('stops');
      // The slot, the attempt and its outcome entry; a first attempt's fence too (engine.ts `endCurrentAttempt`:
      // written, or refused by its condition, which DynamoDB bills as a write).
      await pacer.take('writeUnits', writeUnits(slot) + (claimsFirstAttempt(slot) ? 3 : 2));
      if (slot.execution_name) await this.d.orchestrator.stopTask(slot.execution_name, reason);
      await this.d.endCurrentAttempt(slot, reason, { stop: true });
      await this.d.store.slots.transition(processId, slot.name, ['running'], 'failed', { reason }, this.d.expiry?.());
    } else if (slot.status === 'waiting') {
      await pacer.take('writeUnits', writeUnits(slot));
      await this.d.store.slots.transition(processId, slot.name, ['waiting'], 'blocked', { reason }, this.d.expiry?.());
    }
  }

  /** A retry's part of a blocked task: it waits again, without the completions of the tasks the retry reopens. */
  async unblockSlot(processId: string, slot: Slot, reopened: ReadonlySet<string>): Promise<void> {
    await this.d.store.slots.resetDependencies(processId, slot.name, dependenciesAmong(slot.definition, reopened));
    // Counted when it ends, as every task the retry reopens (slots.ts `runTasksReopened`).
    await this.d.store.slots.transition(processId, slot.name, ['blocked'], 'waiting', { reason: undefined, counts_done: undefined });
  }

  /** A retry's part of a failed task: one more attempt, without backoff, in a new execution. */
  async restartSlot(processId: string, slot: Slot): Promise<void> {
    const round = slot.round + 1;
    const name = executionName(processId, slot.name, round);
    const next = await this.d.store.slots.transition(processId, slot.name, ['failed'], 'running', {
      max_attempts: slot.attempts + 1,
      round,
      execution_name: name,
      skip_backoff: true,
      reason: undefined,
      counts_done: undefined, // counted when it ends, as every task the retry reopens (slots.ts `runTasksReopened`)
    });
    if (next) await this.d.orchestrator.startTask(name, { process_id: processId, task_definition_name: slot.name, claim: { round, attempts: next.attempts } });
  }

  /** Hands a step to the engine function (the dispatcher: deployed, an asynchronous invocation; ./fan-out-steps.ts runs it). */
  hand(event: FanOutEvent): Promise<void> {
    if (!this.d.dispatcher) throw new Error(`no fan-out dispatcher: the ${event.op} of run ${event.process_id} goes over more than ${IN_REQUEST_TASKS_MAX} tasks in the engine function's steps`);
    return this.d.dispatcher.handOff(event);
  }

  /** A new token: now, as an ISO time (a marker's age is read from it), later than `previous`. */
  token(previous?: string): string {
    const now = this.d.now().getTime();
    return new Date(previous === undefined ? now : Math.max(now, Date.parse(previous) + 1)).toISOString();
  }
}

