/**
 * `Prepare`, the first Lambda step of a task's execution: claims the task's next attempt (or finds the one
 * its start claimed), writes its record and builds its executor request; a task of a run that no longer
 * runs is skipped. Part of the engine (engine.ts), but built beside it (`preparationFor`) rather than by
 * it: only the engine function and the local state machine prepare attempts, so the api function's bundle
 * leaves it out (test/lib/bundling.test.ts). docs/ENGINE.md "One execution per task" and "A kill racing
 * Prepare".
 */
import { stableUuid } from '../domain/ids';
import { attemptEnvironment, backoffSeconds } from '../domain/engine';
import { parameterVariables } from '../domain/parameters';
import { runTrigger } from '../domain/provenance';
import { signTaskToken } from '../domain/task-token';
import type { Logger } from '../logger';
import type { Store } from '../store';
import { isConditionFailed } from '../store/client';
import type { RunItem, TaskRecord } from '../store/runs';
import { claimsFirstAttempt, type Slot } from '../store/slots';
import { taskOf } from './completion';
import { DEFAULT_TIMEOUT_SECONDS, type PreparedAttempt, type PrepareState, type StartedTask } from './contract';
import type { Engine, EngineDeps } from './engine';
import type { Launcher } from './ports';

export interface PreparationDeps {
  store: Store;
  launcher: Launcher;
  tokenKey: () => Promise<Buffer>;
  /** The API base URL tasks call back to (`SUNDIAL_URL`). */
  callbackUrl: () => string;
  now: () => Date;
  logger: Logger;
  /** The expiry the write that ends a slot stamps on it (the engine's; undefined: kept for ever). */
  expiry(): number | undefined;
  /** Ends a running attempt as the engine ends any (its outcome entry, its expiry): the engine's. */
  endAttempt(processId: string, taskId: string, status: 'succeeded' | 'failed', reason?: string): Promise<unknown>;
}

/** The record of attempt `n`, `taskId`, of a run's task, as it starts (`start`: after its backoff). */
function taskRecord(definitionName: string, processId: string, name: string, taskId: string, n: number, start: Date): TaskRecord {
  return {
    task_id: taskId,
    process_id: processId,
    process_definition_name: definitionName,
    task_definition_name: name,
    start_time: start.toISOString(),
    previous_attempt_count: n,
    status: 'running',
  };
}

/** What an attempt's request is built from: its task's slot, or what the task's start carried of it. */
type SlotTask = Pick<Slot, 'process_id' | 'round'> & StartedTask;

/** {@link SlotTask} of a slot read: what a start carries of it (completion.ts `taskOf`), with its run and round. */
const slotTask = (slot: Slot): SlotTask => ({ process_id: slot.process_id, round: slot.round, ...taskOf(slot) });

/** Whether two reads of a run saw the same start or retry of it (a retry writes a new trigger). */
function sameTrigger(a: RunItem, b: RunItem): boolean {
  return JSON.stringify(a.trigger) === JSON.stringify(b.trigger);
}

/**
 * The `Prepare` of `engine`, from the deps it was built with: the one way to prepare an attempt (the
 * engine function, the local orchestrator, tests). It ends attempts and stamps expiries as the engine does.
 */
export function preparationFor(engine: Pick<Engine, 'expiry' | 'endAttempt'>, deps: EngineDeps): Preparation {
  return new Preparation({ ...deps, expiry: () => engine.expiry(), endAttempt: (processId, taskId, status, reason) => engine.endAttempt(processId, taskId, status, reason) });
}

export class Preparation {
  constructor(private readonly d: PreparationDeps) {}

  /**
   * `Prepare`: claims the next attempt of a running task, writes it and builds its executor request.
   * With a claim hint (contract.ts `ClaimHint`, from whoever started the execution or from `Record`),
   * the claim goes out with the read of the run; a hint whose attempt the task's start claimed already
   * (completion.ts) is checked against the slot, read with the run, and nothing is written to the slot;
   * without a hint, or when it no longer holds, the slot is read first.
   */
  async prepare(state: PrepareState): Promise<PreparedAttempt> {
    const { process_id: processId, task_definition_name: name, claim: hint } = state;
    if (hint?.claimed) {
      const taskId = stableUuid(processId, name, hint.round, hint.attempts);
      // A first attempt (no backoff) whose start named the run's definition: written before the run is read.
      if (hint.process_definition_name !== undefined && hint.attempts === 0) {
        const prepared = await this.prepareClaimed(processId, name, hint.process_definition_name, hint.round, taskId, Boolean(hint.counted), hint.task);
        if (prepared) return prepared;
      } else {
        const [slot, run] = await Promise.all([this.d.store.slots.get(processId, name), this.d.store.runs.getRunRecord(processId)]);
        if (slot?.status === 'running' && slot.current_task_id === taskId && slot.attempts === hint.attempts + 1) {
          // Nothing ran under the claim: it is given back, so that a retry's attempt is counted as the first.
          if (!run || run.status !== 'running') return this.skipEnded(processId, name, run?.reason, hint.attempts, slot);
          // A replay carries on with the same attempt: its record is found written (launch).
          return this.launch(run, slot, taskId, hint.attempts, false);
        }
      }
    } else if (hint) {
      const taskId = stableUuid(processId, name, hint.round, hint.attempts);
      const [claimed, run] = await Promise.all([
        this.d.store.slots.claimHinted(processId, name, hint.round, hint.attempts, taskId),
        this.d.store.runs.getRunRecord(processId),
      ]);
      if (claimed) {
        // Nothing ran under the claim: it is given back, so that a retry's attempt is counted as the first.
        if (!run || run.status !== 'running') return this.skipEnded(processId, name, run?.reason, hint.attempts);
        return this.launch(run, claimed.slot, taskId, hint.attempts, claimed.skipBackoff);
      }
    }
    const [slot, run] = await Promise.all([this.d.store.slots.get(processId, name), this.d.store.runs.getRunRecord(processId)]);
    if (!slot || slot.status !== 'running') return { skip: true };
    if (!run || run.status !== 'running') return this.skipEnded(processId, name, run?.reason, undefined, slot);
    // A replayed Prepare (Lambda retry, or a failure after the claim) finds its attempt still running:
    // it carries on with that attempt instead of claiming another.
    const lastClaimed = slot.current_task_id;
    const current = lastClaimed ? await this.d.store.runs.getTaskRecord(processId, lastClaimed) : undefined;
    // So is a claim whose Prepare failed before its task record was written (a throttled write, a failed
    // plan): the slot names the attempt it claimed last, and nothing ran under it.
    const unwritten = !current && slot.attempts > 0 && lastClaimed === stableUuid(processId, name, slot.round, slot.attempts - 1);
    const replayed = current?.status === 'running' || unwritten ? lastClaimed : undefined;
    const n = current?.status === 'running' ? current.previous_attempt_count : unwritten ? slot.attempts - 1 : slot.attempts;
    const taskId = replayed ?? stableUuid(processId, name, slot.round, n);
    const claimed = replayed ? slot : await this.d.store.slots.claimAttempt(processId, name, n, taskId);
    if (!claimed) return { skip: true };
    return this.launch(run, claimed, taskId, n, Boolean(slot.skip_backoff));
  }

  /**
   * A running task of a run that no longer runs (a kill listed its slots before this one started):
   * nothing runs it, so it fails with the run's reason, as the kill fails a running task, and a retry of
   * the run gives it an attempt in a new execution (a new round: an execution name is never reused).
   * `attempts`: the attempts made before a claim this step made and gives back. `slot`: the slot as read,
   * whose claim, if its start counted it and nothing wrote it, has its key fenced and its count taken back
   * (runs.ts `fenceTask`: once, whoever fences it). Answers a skip.
   */
  private async skipEnded(processId: string, name: string, reason: string | undefined, attempts?: number, slot?: Slot): Promise<PreparedAttempt> {
    if (slot?.claim_counted && slot.current_task_id && claimsFirstAttempt(slot)) await this.d.store.runs.fenceTask(processId, slot.current_task_id, this.d.expiry(), true);
    await this.d.store.slots.transition(
      processId,
      name,
      ['running'],
      'failed',
      { reason: reason ?? 'the run ended before the task started', ...(attempts === undefined ? {} : { attempts, current_task_id: undefined, claim_counted: undefined }) },
      this.d.expiry(),
    );
    return { skip: true };
  }

  /**
   * Writes claimed attempt `n`, `taskId` (the slot as the claim left it: attempts made include it, and
   * it names `taskId` as its current attempt) and builds its request.
   */
  private async launch(run: RunItem, slot: Slot, taskId: string, n: number, skipBackoff: boolean): Promise<PreparedAttempt> {
    const { process_id: processId, name } = slot;
    // The attempt starts executing once the backoff Wait that follows Prepare is over: its start_time is
    // then, so that its duration is the attempt's own and not the wait before it (issue 15).
    const backoff = skipBackoff ? 0 : backoffSeconds(slot.definition, n);
    // The task record and the executor request do not depend on each other: one round trip, not two.
    // A claim its start counted (slots.ts `claim_counted`) is written without counting it again.
    const counted = Boolean(slot.claim_counted) && slot.current_task_id === taskId;
    const [after, request] = await Promise.all([
      this.writeAttempt(taskRecord(run.process_definition_name, processId, name, taskId, n, new Date(this.d.now().getTime() + backoff * 1000)), counted)
        // The run again, once the attempt is written: a kill that read no attempt here had ended the run
        // before (it ends the run first, then reads each slot's attempt), so this read sees it (below).
        .then(async (written): Promise<RunItem | undefined | 'fenced'> => (written === 'fenced' ? 'fenced' : this.d.store.runs.getRunRecord(processId))),
      this.request(run, slotTask(slot), taskId, n, backoff),
    ]);
    // A first attempt's key fenced: its claim was given back before it was written; nothing ran it.
    if (after === 'fenced') return { skip: true };
    if (after?.status !== 'running' || !sameTrigger(after, run)) return this.killedWhilePrepared(processId, taskId, after);
    return request;
  }

  /**
   * `Prepare` of a first attempt its task's start claimed, the run's definition known from the start: the
   * attempt is written, and the slot (which checks the claim) and the run are read, in one round trip. A
   * kill, or anything else that gives the claim back, fences the attempt's key first when it finds no
   * record there (engine.ts `endCurrentAttempt`): then this write fails, and nothing was written. Once the
   * write succeeded, whoever gives the claim back finds the attempt and ends it, as a running one (docs/
   * ENGINE.md "A kill racing Prepare"). An attempt written for a claim the reads show taken back, or for a
   * run they show ended, never ran (the execution is here, in Prepare): it is removed, and the claim
   * decided as without it. A write that finds the key fenced skips: the fencer settles the slot. Answers
   * undefined when the slot no longer holds the claim: the read path decides, as for any other hint.
   *
   * `task`: the slot as the start left it (contract.ts `ClaimHint.task`). The slot is then not read unless
   * the write or the run shows something other than the common case: an attempt written by this write (not
   * a replay's) was written while the claim held, since whoever gives a first attempt's claim back fences
   * its key first, and from then on finds the attempt and ends it, having stopped this execution (the kill,
   * the reaper) or after it ended (`abandon`), as when the slot's read, sent beside the write, saw the claim
   * held (docs/ENGINE.md "Prepare of a started task").
   */
  private async prepareClaimed(
    processId: string,
    name: string,
    definitionName: string,
    round: number,
    taskId: string,
    counted: boolean,
    task?: StartedTask,
  ): Promise<PreparedAttempt | undefined> {
    const [written, read, run] = await Promise.all([
      this.writeAttempt(taskRecord(definitionName, processId, name, taskId, 0, this.d.now()), counted),
      task ? undefined : this.d.store.slots.get(processId, name),
      this.d.store.runs.getRunRecord(processId),
    ]);
    // Fenced: whoever gave the claim back (the kill, the reaper, `abandon`) settles the slot; this step
    // starts nothing and decides nothing, even if its reads saw the claim still held (the give-back may
    // not have landed yet: a slot failed here would keep the claim counted).
    if (written === 'fenced') return { skip: true };
    if (task && written === 'written' && run?.status === 'running') return this.request(run, { process_id: processId, round, ...task }, taskId, 0, 0);
    const slot = task ? await this.d.store.slots.get(processId, name) : read;
    const holds = slot?.status === 'running' && slot.current_task_id === taskId && claimsFirstAttempt(slot) && slot.round === round;
    if (holds && run?.status === 'running') return this.request(run, slotTask(slot), taskId, 0, 0);
    // Unless a kill that read it first ended it (it stays, ended): then it is settled as the kill left it.
    const removed = await this.d.store.runs.deleteUnstartedTask(processId, taskId, this.d.expiry());
    if (!holds) return undefined;
    if (removed) return this.skipEnded(processId, name, run?.reason, 0);
    await this.d.store.slots.transition(processId, name, ['running'], 'failed', { reason: run?.reason ?? 'the run ended before the task started' });
    return this.killedWhilePrepared(processId, taskId, run);
  }

  /**
   * Writes an attempt's record: `written`, or `replayed` when it was written already (a replay), or
   * `fenced` when its claim was given back before it was written (runs.ts `fenceTask`). `counted`: its
   * start counted it running already (slots.ts `claim_counted`).
   */
  private async writeAttempt(record: TaskRecord, counted: boolean): Promise<'written' | 'replayed' | 'fenced'> {
    try {
      await this.d.store.runs.createTask(record, {}, { counted });
      return 'written';
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return (await this.d.store.runs.getTaskRecord(record.process_id, record.task_id)) ? 'replayed' : 'fenced';
    }
  }

  /** The executor request of attempt `n`, `taskId`, of the run's task `slot`, and what Record needs of it. */
  private async request(run: RunItem, slot: SlotTask, taskId: string, n: number, backoff: number): Promise<PreparedAttempt> {
    const { process_id: processId, starts } = slot;
    const definitionName = run.process_definition_name;
    const def = slot.definition;
    const token = signTaskToken(await this.d.tokenKey(), { tid: taskId, pid: processId });
    // Parameters over the task's own variables, the trigger's variables over both (docs/TRIGGERS.md).
    const environment = attemptEnvironment(def.executable, [...parameterVariables(run.parameters), ...(run.environment_variables ?? [])], {
      url: this.d.callbackUrl(),
      taskId,
      processId,
      token,
      previousAttempts: n,
      scheduledTime: runTrigger(run).scheduled_time,
    });
    const plan = await this.d.launcher.plan({ process_id: processId, process_definition_name: definitionName, task_definition: def, task_id: taskId, environment });
    return {
      skip: false,
      task_id: taskId,
      backoff_seconds: backoff,
      timeout_seconds: def.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS,
      ...plan,
      claimed: {
        round: slot.round,
        attempts: n + 1,
        max_attempts: slot.max_attempts,
        require_explicit_success: Boolean(def.require_explicit_success),
        ...(starts === undefined ? {} : { starts }),
      },
    };
  }

  /**
   * An attempt written after its run was killed (docs/ENGINE.md "A kill racing Prepare"): the kill read
   * the run's slots and attempts before it existed, and stopped the task's execution, so nothing else ends
   * it and nothing runs it. It ends as the kill ends a running attempt (failed, the run's reason), which
   * moves the running gauge and refuses its callbacks; the kill settles the slot. `after` is the run as
   * read after the write: ended, or killed and retried since (its trigger changed), or gone.
   */
  private async killedWhilePrepared(processId: string, taskId: string, after: RunItem | undefined): Promise<PreparedAttempt> {
    const reason = after?.status === 'running' ? 'the run was killed and retried before the attempt started' : (after?.reason ?? 'the run ended before the attempt started');
    await this.d.endAttempt(processId, taskId, 'failed', reason);
    this.d.logger.warn('attempt written after its run was killed: ended', { process_id: processId, task_id: taskId, reason });
    return { skip: true };
  }
}
