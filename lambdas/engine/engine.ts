/**
 * The engine: starts runs, records attempts, completes tasks (which starts their
 * dependents), finishes, kills and retries runs. Every method is safe to replay; concurrency is decided
 * by single-item conditional writes in the store. Runs deployed inside Lambdas and locally in-process.
 */
import { randomUUID } from 'node:crypto';
import { executionName, stableUuid } from '../domain/ids';
import { attemptOutcome, shouldRetry } from '../domain/engine';
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../domain/concurrency';
import { attemptFailure, isDeadline } from '../domain/attempt-failure';
import { nextStep } from '../domain/dag';
import { BadRequestError, ConflictError, NotFoundError } from '../domain/errors';
import { checkTriggerEnvironment } from './request-limits';
import type { EnvironmentVariable, Process, RunParameter, TaskDefinition } from '../domain/models';
import { parameterVariables, resolveParameters } from '../domain/parameters';
import { LOCAL_CALLER, retriedTrigger, runTrigger, type TriggerRequest, triggerOf } from '../domain/provenance';
import type { Logger } from '../logger';
import type { Store } from '../store';
import { isConditionFailed } from '../store/client';
import type { StoredDefinition } from '../store/definitions';
import type { RunRecord } from '../store/runs';
import { activeEntry } from '../store/schedules';
import { claimsFirstAttempt, type Slot, type SlotState } from '../store/slots';
import { type CounterDeltas, moveOf } from '../store/stats';
import {
  type ClaimHint,
  DEFAULT_TIMEOUT_SECONDS,
  type Recorded,
  type RecordRequest,
  type TaskExecutionInput,
} from './contract';
import { Completion, startsOnSuccess } from './completion';
import { type FanOutEvent, IN_REQUEST_TASKS_MAX, plannedSlots, RunFanOut } from './fan-out';
import type { FanOutPace } from './pace';
import type { FanOutDispatcher, Launcher, Orchestrator, RunListener } from './ports';
import { DEFAULT_RETENTION_DAYS, expiresAt } from '../domain/retention';

export interface EngineDeps {
  store: Store;
  orchestrator: Orchestrator;
  launcher: Launcher;
  tokenKey: () => Promise<Buffer>;
  /** The API base URL tasks call back to (`SUNDIAL_URL`). */
  callbackUrl: () => string;
  now: () => Date;
  logger: Logger;
  /** Told when a run ends (notifications, schedules). */
  listeners?: RunListener[];
  /** Days a finished run's history is kept (retention.ts); 0 keeps it for ever. @default DEFAULT_RETENTION_DAYS */
  retentionDays?: number;
  /** Where the fan-outs over a large run's tasks go (fan-out.ts; their steps: fan-out-steps.ts). Without one, a trigger, kill or retry of such a run fails. */
  fanOuts?: FanOutDispatcher;
  /** How fast they call AWS (pace.ts). @default no pacing */
  fanOutPace?: FanOutPace;
}

export interface TriggerOptions {
  /** Run only this task of the definition (its dependencies are not run). */
  taskDefinitionName?: string;
  /** Added to (or overriding) every task's environment in this run. */
  environmentVariables?: EnvironmentVariable[];
  /**
   * Who or what starts the run (docs/TRIGGERS.md); its `scheduled_time` is the run's logical time
   * (`SUNDIAL_SCHEDULED_TIME`). @default a manual run by `local` (an in-process caller)
   */
  trigger?: TriggerRequest;
  /** Values of the definition's declared parameters (a trigger body's `parameters`), checked against them. */
  parameters?: Record<string, string>;
  /** Parameter values passed on from another run: taken where a declared, not static, parameter has the same name. */
  passedOnParameters?: Record<string, string>;
  /**
   * A run the scheduler has already registered as in progress (`ScheduleStore.reserve`): it gets this id
   * and start time. Without it the run gets a new id and registers itself.
   */
  reservation?: { processId: string; startTime: string };
  /** The definition as the caller has just read it (the scheduler does), so that it is not read twice. */
  definition?: StoredDefinition;
  /**
   * The run is answered without its attempts' entries (each attempt `entries_omitted`): the engine's own
   * triggers (a tick, a drain's queued or catch-up run, a backfill, a downstream run) need no answer, and the
   * engine function's role may not read the entries' index (gsi1), as least privilege keeps it
   * (lib/engine.ts; test/iam/local-calls.test.ts saw the Query denied when a run's first attempt was
   * written before the answer was read).
   */
  withoutEntries?: boolean;
}

export class Engine {
  private fanOutOf?: RunFanOut;

  /** A task's start and its completion (completion.ts). */
  private readonly completion: Completion;

  constructor(private readonly d: EngineDeps) {
    this.completion = new Completion({ ...d, expiry: () => this.expiry(), runEnded: (run) => this.runEnded(run) });
  }

  /** Trigger, kill and retry over a run's tasks: within the request, or handed to the engine function (fan-out.ts). */
  get fanOut(): RunFanOut {
    return (this.fanOutOf ??= new RunFanOut({
      ...this.d,
      dispatcher: this.d.fanOuts,
      pace: this.d.fanOutPace,
      expiry: () => this.expiry(),
      startSlot: (slot) => this.completion.startSlot(slot),
      startedAtCreation: (slot) => this.completion.startedAtCreation(slot),
      startExecution: (slot) => this.completion.startExecution(slot),
      endCurrentAttempt: (slot, reason, options) => this.endCurrentAttempt(slot, reason, options),
      runEnded: (run) => this.runEnded(run),
    }));
  }

  // ---- runs ------------------------------------------------------------------------------------

  /** Starts a run of a definition now; answers the new run. */
  async trigger(definitionName: string, options: TriggerOptions = {}): Promise<Process> {
    const { tasks, parameters } = await this.check(definitionName, options);
    const processId = options.reservation?.processId ?? randomUUID();
    const now = options.reservation?.startTime ?? this.d.now().toISOString();
    const trigger = triggerOf(options.trigger ?? { kind: 'manual', by: LOCAL_CALLER }, now);
    // Every run of a definition is registered as in progress before it exists, so that a scheduled
    // tick sees manual runs too (overlap_action); it is unregistered when it ends (Schedules.runEnded).
    if (!options.reservation) await this.d.store.schedules.registerRun(definitionName, activeEntry(now, processId));
    const run: RunRecord = { process_id: processId, process_definition_name: definitionName, start_time: now, status: 'running', trigger, parameters };
    const extra = {
      tasks_total: tasks.length,
      environment_variables: options.environmentVariables ?? [],
      ...(options.taskDefinitionName ? { only_task: options.taskDefinitionName } : {}),
    };
    const started = { process_id: processId, process_definition_name: definitionName, tasks: tasks.length };
    if (tasks.length > IN_REQUEST_TASKS_MAX) {
      // Too many tasks to write and start within the request: the engine function does (fan-out.ts).
      const first = await this.fanOut.start(run, extra, tasks);
      this.d.logger.info('run started', started);
      return this.answerThen(processId, first, options);
    }
    // The tasks without dependencies are written started, their first attempt claimed, as their start's
    // write would leave them (one write each instead of two); their executions start once the run exists.
    const slots = plannedSlots(processId, tasks, definitionName).map((s) => (nextStep(s) === 'start' ? this.completion.startedAtCreation(s) : s));
    // Slots first: a run item is visible only once everything it needs exists. The started tasks' claims
    // are counted running with the run (slots.ts `claim_counted`).
    const claims = slots.filter((s) => s.claim_counted).length;
    try {
      await this.d.store.runs.createRun(run, { ...extra, ...(await this.d.store.slots.createSlots(slots)) }, { tasks_running: claims });
    } catch (err) {
      // A run of this id exists: another trigger of it holding the same reservation created it first (two starts of
      // one backfill occurrence or upstream run that read the clock in the same millisecond build the same entry,
      // which `reserve` lets through as a retry's). That run is this trigger's too; it started its executions.
      if (options.reservation && isConditionFailed(err)) return this.answer(processId, options);
      throw err;
    }
    this.d.logger.info('run started', started);
    await mapLimited(slots.filter((s) => s.status === 'running'), AWS_FAN_OUT_CONCURRENCY, (s) => this.completion.startExecution(s));
    return this.answer(processId, options);
  }

  /**
   * What {@link trigger} refuses (400/404) before anything is written; answers the tasks the run would
   * have and its parameters (domain/parameters.ts: a manual run must be given its required ones).
   */
  async check(definitionName: string, options: Omit<TriggerOptions, 'reservation'> = {}): Promise<{ tasks: TaskDefinition[]; parameters: RunParameter[] }> {
    const stored = options.definition ?? (await this.d.store.definitions.get(definitionName));
    if (!stored) throw new NotFoundError(`process definition "${definitionName}" does not exist`);
    let tasks: TaskDefinition[] = stored.definition.task_definitions;
    if (options.taskDefinitionName !== undefined) {
      const only = tasks.find((t) => t.task_definition_name === options.taskDefinitionName);
      if (!only) {
        throw new BadRequestError(
          `process definition "${definitionName}" has no task "${options.taskDefinitionName}"`,
          'task_definition_name',
          'unknown_task',
        );
      }
      tasks = [{ ...only, dependencies: [] }];
    }
    const parameters = resolveParameters(stored.definition.parameters, {
      ...(options.parameters ? { given: options.parameters } : {}),
      ...(options.environmentVariables ? { environment: options.environmentVariables } : {}),
      ...(options.passedOnParameters ? { passedOn: options.passedOnParameters } : {}),
      requireGiven: (options.trigger?.kind ?? 'manual') === 'manual',
    });
    checkTriggerEnvironment(tasks, options.environmentVariables, parameterVariables(parameters));
    return { tasks, parameters };
  }

  /** Kills a running run: stops every running attempt, starts nothing more; the run ends failed. */
  async kill(processId: string, reason = 'killed by operator'): Promise<Process> {
    const run = await this.d.store.runs.getRunRecord(processId);
    if (!run) throw new NotFoundError(`process ${processId} does not exist`);
    // `killing` until the last write below: a retry between the two would reopen tasks this kill then
    // fails without telling their dependents, and the run would stay running for ever (issue 15).
    const now = this.d.now().toISOString();
    const ended = await this.d.store.runs.transitionRun(processId, 'running', 'failed', { end_time: now, reason, killing: now });
    if (!ended) throw new ConflictError(`process ${processId} is not running (status ${run.status})`);
    if ((run.tasks_total ?? 0) > IN_REQUEST_TASKS_MAX) {
      // Too many tasks to stop within the request: the engine function does, then ends the kill (fan-out.ts).
      return this.answerThen(processId, this.fanOut.kill(processId, now));
    }
    const slots = await this.d.store.slots.list(processId);
    await mapLimited(slots, AWS_FAN_OUT_CONCURRENCY, (slot) => this.fanOut.killSlot(processId, slot, reason));
    this.d.logger.info('run killed', { process_id: processId, reason });
    await this.runEnded({ process_id: processId, process_definition_name: run.process_definition_name, status: 'failed' });
    await this.d.store.runs.killEnded(processId);
    return this.answer(processId);
  }

  /**
   * Retries a failed run: each failed task gets one more attempt (no backoff); blocked tasks may then run.
   * The run's trigger becomes a `retry` by `by` (docs/TRIGGERS.md), its logical time unchanged.
   */
  async retry(processId: string, by: string = LOCAL_CALLER): Promise<Process> {
    const run = await this.d.store.runs.getRunRecord(processId);
    if (!run) throw new NotFoundError(`process ${processId} does not exist`);
    if (run.status !== 'failed') throw new ConflictError(`only a failed process can be retried (status ${run.status})`);
    await this.fanOut.assertIdle(run);
    // A large run's slots by name and status only: its steps read them whole (fan-out.ts).
    const large = (run.tasks_total ?? 0) > IN_REQUEST_TASKS_MAX;
    const slots: readonly SlotState[] = large ? await this.d.store.slots.listStates(processId) : await this.d.store.slots.list(processId);
    const reopened = new Set(slots.filter((s) => s.status === 'failed' || s.status === 'blocked').map((s) => s.name));
    if (reopened.size === 0) throw new ConflictError(`process ${processId} has no failed task to retry`);
    // Claimed first (fan-out.ts `claimRetry`): a second retry at the same time is refused before it writes
    // or registers anything. Then registered as the definition's run in progress again before it reopens
    // (overlap_action, counts).
    const claim = await this.fanOut.claimRetry(run);
    let undo: () => Promise<void>;
    try {
      undo = await this.retrying({ process_id: processId, process_definition_name: run.process_definition_name, start_time: run.start_time });
    } catch (err) {
      await this.fanOut.releaseRetry(processId, claim);
      throw err;
    }
    let first: FanOutEvent | undefined;
    try {
      first = await this.fanOut.reopen(run, large ? undefined : (slots as Slot[]), reopened, retriedTrigger(runTrigger(run), by, this.d.now().toISOString()), claim);
    } catch (err) {
      // Only a run that was not reopened gives its registration back.
      if ((await this.d.store.runs.getRunRecord(processId))?.status !== 'running') await undo();
      throw err;
    }
    // A large run's names would pass a log event's 256 KB: its count instead.
    this.d.logger.info('run retried', { process_id: processId, tasks: reopened.size > IN_REQUEST_TASKS_MAX ? reopened.size : [...reopened] });
    return this.answerThen(processId, first);
  }

  /** The run as the API answers it, after this engine changed it (it exists: nothing deletes a run that ran just now). */
  private async answer(processId: string, options: { withoutEntries?: boolean } = {}): Promise<Process> {
    const run = await this.d.store.runs.getRun(processId, { withoutEntries: options.withoutEntries });
    if (!run) throw new NotFoundError(`process ${processId} does not exist`);
    return run;
  }

  /**
   * The run as the API answers it, then the first step of its fan-out handed to the engine function, if
   * it has one (fan-out.ts): read before the steps start, the answer is the run as the request left it,
   * and it does not compete with them (locally they run in this process, deployed they write the
   * partition it reads).
   */
  private async answerThen(processId: string, first: FanOutEvent | undefined, options: { withoutEntries?: boolean } = {}): Promise<Process> {
    const answer = await this.answer(processId, options);
    if (first) await this.fanOut.handOff(first);
    return answer;
  }

  /** Tells the listeners that a run is being retried; answers what undoes what they did. */
  private async retrying(run: { process_id: string; process_definition_name: string; start_time: string }): Promise<() => Promise<void>> {
    const undos: Array<() => Promise<void>> = [];
    for (const listener of this.d.listeners ?? []) {
      if (!listener.runRetrying) continue;
      try {
        undos.push(await listener.runRetrying(run));
      } catch (err) {
        for (const undo of undos) await undo();
        throw err;
      }
    }
    return async () => {
      for (const undo of undos) await undo();
    };
  }

  // ---- attempts (the state machine's Lambda steps) ----------------------------------------------

  // `Prepare` is not here: prepare.ts builds it beside the engine (`preparationFor`), so that a function
  // that never prepares an attempt (the api) does not bundle it (test/lib/bundling.test.ts).

  /**
   * `Record`: decides the attempt's outcome; answers whether another attempt follows. What `Prepare`
   * claimed (`$.attempt.claimed`) lets an attempt that did not report and did not overrun end in one
   * conditional write (still running, nothing reported); any other ends after reading its slot and record.
   */
  async record(request: RecordRequest): Promise<Recorded> {
    const state = request.state;
    const { process_id: processId, task_definition_name: name } = state;
    const next = (retry: false | ClaimHint): Recorded => ({
      process_id: processId,
      task_definition_name: name,
      ...(retry ? { claim: retry } : {}),
      recorded: { retry: retry !== false },
    });
    const taskId = state.attempt.task_id;
    if (state.attempt.skip || !taskId) return next(false);
    const executed = attemptFailure({
      result: state.result,
      error: state.error,
      timeoutSeconds: state.attempt.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS,
    });
    const timedOut = isDeadline(state.error);
    const claimed = state.attempt.claimed;
    // The attempt's counters move with the writes that follow its end, not before them (a failure of
    // theirs still fails the step, after the task's completion, which a replay finds done): with those
    // that tell its dependents, in one write with the count of the claims those make (completion.ts).
    let moves: CounterDeltas = {};
    const counting = (m: CounterDeltas) => void (moves = m);
    if (claimed && !timedOut) {
      const outcome = attemptOutcome(executed, undefined, claimed.require_explicit_success);
      const end = async (count: (m: CounterDeltas) => void) => (await this.endAttempt(processId, taskId, outcome.status, outcome.reason, { unreported: true, counting: count })) !== undefined;
      if (outcome.status === 'succeeded' && claimed.starts) {
        // The end and the starts its success makes in one round (completion.ts `endWithStarts`); its move is
        // the end's from `running`, the condition of the end's write, so it goes out with the starts' count.
        if (await this.completion.endWithStarts(processId, name, claimed.starts, moveOf('tasks_running', 'tasks_succeeded'), () => end(() => undefined))) return next(false);
      } else if (await end(counting)) {
        return this.afterAttempt(processId, name, outcome.status, claimed, next, moves);
      }
    }
    const [slot, task] = await Promise.all([this.d.store.slots.get(processId, name), this.d.store.runs.getTaskRecord(processId, taskId)]);
    if (!slot || !task || slot.current_task_id !== taskId) return next(false); // a stale or replayed step
    if (timedOut) {
      // The deadline ended the attempt; make sure what it ran is stopped too.
      await this.d.launcher.stop({ task_id: taskId, task_definition: slot.definition }, executed.reason ?? 'timed out');
    }
    const outcome = attemptOutcome(executed, task.reported, Boolean(slot.definition.require_explicit_success));
    const status = (await this.endAttempt(processId, taskId, outcome.status, outcome.reason, { counting })) ?? outcome.status;
    return this.afterAttempt(processId, name, status, { ...slot, starts: startsOnSuccess(slot) }, next, moves);
  }

  /** After an attempt ended `status`: another attempt if it failed, has one left and its run runs; else the task is complete. */
  private async afterAttempt(
    processId: string,
    name: string,
    status: 'succeeded' | 'failed',
    slot: { round: number; attempts: number; max_attempts: number; starts?: readonly string[] },
    next: (retry: false | ClaimHint) => Recorded,
    moves: CounterDeltas,
  ): Promise<Recorded> {
    // The run is read only when another attempt is possible (a kill stops retries); the counters move beside that read.
    if (status === 'failed' && shouldRetry(slot.attempts, slot.max_attempts, false)) {
      const [run] = await Promise.all([this.d.store.runs.getRunRecord(processId), this.d.store.stats.add(moves)]);
      if (shouldRetry(slot.attempts, slot.max_attempts, run?.status !== 'running')) return next({ round: slot.round, attempts: slot.attempts });
      moves = {};
    }
    await this.completion.completeTask(processId, name, status, moves, slot.starts);
    return next(false);
  }

  /**
   * A task execution ended without recording its task (a step failed for good, or the execution was
   * stopped outside Sundial): fail its running attempt and complete the task as failed, so that the run
   * does not wait for ever. Does nothing when the task already completed.
   */
  async abandon(input: TaskExecutionInput, reason: string): Promise<void> {
    const { process_id: processId, task_definition_name: name } = input;
    const slot = await this.d.store.slots.get(processId, name);
    if (!slot || slot.status !== 'running') return;
    await this.endCurrentAttempt(slot, reason);
    this.d.logger.warn('task abandoned', { process_id: processId, task_definition_name: name, reason });
    await this.completion.completeTask(processId, name, 'failed');
  }

  /**
   * The reaper found a task's attempt lost (lambdas/engine/reaper.ts): stop whatever may still run it
   * (its execution, its job or process) and fail the attempt. A lost attempt is a failed attempt, as an
   * overrun is: if the task has attempts left (and its run still runs), the next one starts in a new
   * execution (execution names are never reused), with its backoff; else the task completes as failed,
   * as {@link abandon} does.
   */
  async reap(input: TaskExecutionInput, reason: string): Promise<void> {
    const { process_id: processId, task_definition_name: name } = input;
    const slot = await this.d.store.slots.get(processId, name);
    if (!slot || slot.status !== 'running') return;
    if (slot.execution_name) await this.d.orchestrator.stopTask(slot.execution_name, reason);
    const attempts = await this.endCurrentAttempt(slot, reason, { stop: true });
    if (attempts < slot.max_attempts) {
      const round = slot.round + 1;
      const execution = executionName(processId, name, round);
      // Only the first of two reapers (or sweeps) that found the same round moves it on.
      const moved = (await this.d.store.runs.getRunRecord(processId))?.status === 'running' && (await this.d.store.slots.nextRound(processId, name, slot.round, execution));
      if (moved) {
        this.d.logger.warn('lost attempt: the task gets its next attempt', { process_id: processId, task_definition_name: name, attempts, reason });
        await this.d.orchestrator.startTask(execution, { ...input, claim: { round: slot.round + 1, attempts } });
        return;
      }
    }
    await this.abandon(input, reason);
  }

  /**
   * Stops what may run a running slot's current attempt (with `stop`: the kill, the reaper) and ends it
   * as failed; answers the attempts the slot has made since. A claim whose attempt was never written
   * (its task's start claimed it, and the execution was lost or stopped before its Prepare wrote it)
   * ran nothing: nothing is stopped, and the claim is given back, as when nothing had claimed one.
   */
  private async endCurrentAttempt(slot: Slot, reason: string, options: { stop?: boolean } = {}): Promise<number> {
    const { process_id: processId, current_task_id: taskId } = slot;
    if (!taskId) return slot.attempts;
    // A first attempt's record is written by its Prepare before Prepare learns of this (prepare.ts
    // `prepareClaimed`): its key is fenced, so that an unwritten one is never written after the claim
    // is given back. A later attempt's Prepare reads the run again after its write, and ends it there.
    const fenced = claimsFirstAttempt(slot) && (await this.d.store.runs.fenceTask(processId, taskId, this.expiry(), Boolean(slot.claim_counted)));
    const giveBack = async () => ((await this.d.store.slots.giveBack(processId, slot.name, taskId)) ? slot.attempts - 1 : slot.attempts);
    if (fenced || !(await this.d.store.runs.getTaskRecord(processId, taskId))) return giveBack();
    if (options.stop) await this.d.launcher.stop({ task_id: taskId, task_definition: slot.definition }, reason);
    // No attempt any more (endAttempt read it once its end's condition failed): removed meanwhile by its
    // own Prepare, which found the run ended before launching it (prepare.ts `prepareClaimed`). It never
    // ran, and its claim goes back as an unwritten one's does, so that the slot counts no attempt without
    // a record.
    if ((await this.endAttempt(processId, taskId, 'failed', reason)) === undefined) return giveBack();
    return slot.attempts;
  }

  /**
   * The reaper found a running run with no task running (lambdas/engine/reaper.ts): nothing will move
   * it on. Replays the completion of each settled task (idempotent: it tells dependents, counts the
   * task done, and finishes the run after its last) and starts the waiting tasks now ready, so that a
   * run left behind by a lost write still ends. Does nothing while a task runs.
   */
  async settle(processId: string): Promise<void> {
    const run = await this.d.store.runs.getRunRecord(processId);
    if (!run || run.status !== 'running') return;
    // A large run being started or reopened has no task running for minutes, its slots unchanged while
    // its steps remove expiries or write slots (fan-out.ts): it is not stalled, and completing its failed
    // and blocked tasks again would end it under the steps. A dead one's marker goes stale.
    if (this.fanOut.busy(run)) return;
    const slots = await this.d.store.slots.list(processId);
    if (slots.some((s) => s.status === 'running')) return;
    this.d.logger.warn('stalled run: its settled tasks are completed again', { process_id: processId });
    for (const slot of slots) {
      if (slot.status === 'succeeded' || slot.status === 'failed' || slot.status === 'blocked') await this.completion.completeTask(processId, slot.name, slot.status);
    }
    const ready = (await this.d.store.slots.list(processId)).filter((s) => nextStep(s) === 'start');
    await mapLimited(ready, AWS_FAN_OUT_CONCURRENCY, (slot) => this.completion.startSlot(slot));
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Tells every listener that a run ended; a listener's failure is logged, never passed on. */
  private async runEnded(run: { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' }): Promise<void> {
    for (const listener of this.d.listeners ?? []) {
      try {
        await listener.runEnded(run);
      } catch (err) {
        this.d.logger.error('a run listener failed', { process_id: run.process_id, error: err });
      }
    }
    // Retention, last (listeners write into the run's partition too): the run item's expiry, and that
    // of the items no end write stamped (store/run-retention.ts). A failure here never fails the end of a run.
    const expiry = this.expiry();
    if (expiry !== undefined) {
      await this.d.store.runs
        .setRunExpiry(run.process_id, expiry)
        .catch((err: unknown) => this.d.logger.error('could not set the expiry of a run', { process_id: run.process_id, error: err }));
    }
  }

  /**
   * The expiry (epoch seconds) a write that ends something of a run stamps on it, now: retention after
   * its end (domain/retention.ts); undefined when history is kept for ever. docs/STORAGE.md "TTL".
   * Public for `Prepare` (prepare.ts `preparationFor`), which stamps the same expiry.
   */
  expiry(at: Date = this.d.now()): number | undefined {
    return expiresAt(at, this.d.retentionDays ?? DEFAULT_RETENTION_DAYS);
  }

  /**
   * Ends a running attempt, its expiry stamped by the same write; answers the status it has ended with (by
   * this call, or before it), undefined when there is no attempt (an attempt is only `running`, `succeeded`
   * or `failed`). With `unreported`, only an attempt that reported nothing is ended, and undefined answers
   * that this call did not end it (without reading it). Public for `Prepare` (prepare.ts `preparationFor`),
   * which ends an attempt as the engine ends any.
   */
  async endAttempt(
    processId: string,
    taskId: string,
    status: 'succeeded' | 'failed',
    reason?: string,
    options: { unreported?: boolean; counting?: (moves: CounterDeltas) => void } = {},
  ) {
    const at = this.d.now();
    const now = at.toISOString();
    const previous = await this.d.store.runs.transitionTask(processId, taskId, ['running'], status, { end_time: now }, { ...options, expiresAt: this.expiry(at) });
    if (previous === undefined) {
      if (options.unreported) return undefined;
      const ended = (await this.d.store.runs.getTaskRecord(processId, taskId))?.status;
      return ended === 'succeeded' || ended === 'failed' ? ended : undefined;
    }
    if (reason) {
      await this.d.store.runs.appendLogEntries(processId, taskId, [
        { log_entry_id: stableUuid(taskId, 'outcome'), when: now, source: 'sundial', message: `attempt ${status}: ${reason}` },
      ]);
    }
    return status;
  }
}
