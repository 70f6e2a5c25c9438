/**
 * The scheduling side of the engine: keeps a definition's schedule in the `Scheduler` in step with the
 * stored definition (PUT, DELETE, pause, resume), decides what each tick does (`tick`), and, as a
 * `RunListener`, starts `wait` catch-up runs and a backfill's next occurrence (./backfills.ts) and
 * arranges a continuous definition's next run when a run ends. Deployed it runs in the API and engine
 * Lambdas; locally in-process. docs/SCHEDULES.md, docs/TRIGGERS.md.
 *
 * Exactly one run per tick: a tick is claimed by a conditional write keyed by definition and scheduled
 * time (duplicate deliveries find the claim), its run has an id derived from both, and whether it may
 * start is one conditional write on the definition's schedule state (`ScheduleStore.reserve`).
 */
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError } from '../domain/errors';
import { nextFireTime, parseInterval, type ScheduleSpec, ticksUpTo, toScheduleSpec } from '../domain/schedule';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { DefinitionSummary, ListedDefinition, StoredDefinition } from '../store/definitions';
import type { BackfillAnswer, BackfillRequest, BackfillStatus, Process } from '../domain/models';
import { activeEntry, activeProcessId, activeStartTime, type QueuedTrigger, queuedTrigger } from '../store/schedules';
import { resolveParameters } from '../domain/parameters';
import { Backfills } from './backfills';
import { LOCAL_CALLER, scheduleCaller, type TriggerRequest, triggerOf, UNKNOWN_CALLER } from '../domain/provenance';
import type { Engine, TriggerOptions } from './engine';
import { stableUuid } from '../domain/ids';
import type { RunListener, Scheduler } from './ports';

export interface SchedulesDeps {
  store: Store;
  scheduler: Scheduler;
  now: () => Date;
  logger: Logger;
}

/** What a tick did. */
export type TickOutcome =
  | 'started' // a run started (or had started: a retry of the same tick)
  | 'deferred' // overlap wait: a run is in progress; one catch-up run starts when it ends
  | 'duplicate' // another delivery of this tick claimed it
  | 'skipped_paused'
  | 'skipped_unscheduled' // the definition was deleted or has no schedule any more
  | 'skipped_count' // an interval schedule already ran its count
  | 'skipped_running'; // continuous: a run is in progress and its end arranges the next

/** What GET of a definition adds (Kala's job stats). */
export interface DefinitionStats {
  next_run_time: string | null;
  last_run: { process_id: string; status: string; start_time: string; end_time?: string } | null;
  runs_succeeded: number;
  runs_failed: number;
}

/** A registered entry without a run for this long is left over from a crash, not a run being created. */
const ORPHAN_ENTRY_MS = 60_000;

export class Schedules implements RunListener {
  private engine?: Engine;
  private stopped = false;
  private readonly backfills: Backfills;

  constructor(private readonly d: SchedulesDeps) {
    this.backfills = new Backfills({ store: d.store, now: d.now, logger: d.logger, engine: () => this.runs });
  }

  /** The engine that starts and kills runs (it also tells this object when runs end). */
  attach(engine: Engine): this {
    this.engine = engine;
    return this;
  }

  /** Stops acting on run ends (the local server is shutting down and kills what runs). */
  stop(): void {
    this.stopped = true;
  }

  /** Whether {@link stop} was called: nothing that a run's end starts may start any more. */
  get stopping(): boolean {
    return this.stopped;
  }

  /**
   * The schedule a definition deploys to, checked against what the scheduler can fire; a 400 for what
   * it cannot. An interval start that has passed is refused unless `previous` has the same one (a
   * definition read with GET and PUT back unchanged). `at` is the time it is read at (default now).
   */
  spec(def: DefinitionSummary, previous?: DefinitionSummary, at: Date = this.d.now()): ScheduleSpec | undefined {
    const repeat = def.schedule?.interval_schedule?.repeat;
    return toScheduleSpec(def.schedule, {
      now: at,
      minIntervalSeconds: this.d.scheduler.minIntervalSeconds,
      allowPastStart: repeat !== undefined && previous?.schedule?.interval_schedule?.repeat === repeat,
    });
  }

  /** Makes the scheduler's schedule of a definition match the stored definition. */
  async sync(stored: StoredDefinition<DefinitionSummary>): Promise<void> {
    const name = stored.definition.process_definition_name;
    const schedule = stored.definition.schedule;
    if (schedule?.continuous_schedule && !stored.paused) {
      await this.continueAfterLastRun(name, schedule.continuous_schedule.buffer_seconds ?? 0);
      return;
    }
    const spec = schedule?.continuous_schedule ? undefined : this.spec(stored.definition, stored.definition);
    if (stored.paused || !spec) await this.d.store.schedules.clearPending(name);
    if (!spec || (spec.endDate && spec.endDate.getTime() <= this.d.now().getTime())) {
      await this.d.scheduler.remove(name);
      return;
    }
    await this.d.scheduler.put(name, spec, !stored.paused);
  }

  /**
   * Starts a backfill's next occurrence if no run of the definition is in progress: the local server at
   * start, whose stop ended the run the backfill waited for without going on (no run end will now).
   */
  async resumeBackfill(name: string): Promise<void> {
    await this.backfills.startNext(name);
  }

  /** The definition was deleted: its schedule goes, a deferred tick is dropped (counts are kept). */
  async removed(name: string): Promise<void> {
    await this.d.scheduler.remove(name);
    await this.d.store.schedules.clearPending(name, true);
    await this.backfills.removed(name);
  }

  /**
   * `POST …/backfill`: queues one run per cron occurrence in the window (engine/backfills.ts) and starts
   * the first if nothing of the definition runs; the others start one after another as runs end. A
   * paused definition is backfilled too: a backfill is an explicit request, as a manual trigger is.
   */
  async backfill(name: string, request: BackfillRequest, by: string): Promise<BackfillAnswer> {
    const answer = await this.backfills.request(name, request, by);
    if (answer.occurrences.length > 0) await this.drain(name);
    return answer;
  }

  /** `GET …/backfill`: the definition's backfill and where each occurrence is (engine/backfills.ts). */
  backfillStatus(name: string): Promise<BackfillStatus> {
    return this.backfills.status(name);
  }

  /** `DELETE …/backfill`: the occurrences not started never start; started runs go on (engine/backfills.ts). */
  cancelBackfill(name: string, by: string): Promise<BackfillStatus> {
    return this.backfills.cancel(name, by);
  }

  /** `POST …/pause`: disables the schedule; manual triggers still run. */
  pause(name: string): Promise<StoredDefinition> {
    return this.setPaused(name, true);
  }

  /** `POST …/resume`: enables the schedule (a continuous definition with no run in progress starts one). */
  resume(name: string): Promise<StoredDefinition> {
    return this.setPaused(name, false);
  }

  /** `next_run_time`, `last_run` and the run counts of a definition. */
  async describe(stored: StoredDefinition<DefinitionSummary>): Promise<DefinitionStats> {
    const name = stored.definition.process_definition_name;
    const [state, last] = await Promise.all([this.d.store.schedules.get(name), this.d.store.runs.latestRun(name)]);
    return {
      next_run_time: (await this.nextRunTime(stored, state.active.length > 0, last?.end_time))?.toISOString() ?? null,
      last_run: last
        ? { process_id: last.process_id, status: last.status, start_time: last.start_time, ...(last.end_time ? { end_time: last.end_time } : {}) }
        : null,
      runs_succeeded: state.runs_succeeded,
      runs_failed: state.runs_failed,
    };
  }

  /**
   * One tick of a definition's schedule, as delivered (at least once) by the scheduler. `owner` names
   * the delivery: a retry of the same delivery carries on a claim, another delivery is a duplicate.
   */
  async tick(name: string, scheduledTime: string, owner: string = randomUUID()): Promise<TickOutcome> {
    const time = new Date(scheduledTime);
    if (Number.isNaN(time.getTime())) throw new Error(`tick of ${name} has no valid scheduled_time: ${JSON.stringify(scheduledTime)}`);
    const key = time.toISOString();
    const now = this.d.now();
    const claim = await this.d.store.schedules.claimTick(
      name,
      key,
      { owner, process_id: stableUuid(name, 'tick', key), start_time: now.toISOString() },
      now,
    );
    if (!claim) {
      this.d.logger.info('duplicate tick ignored', { process_definition_name: name, scheduled_time: key });
      return 'duplicate';
    }
    const outcome = await this.decide(name, key, claim.process_id, claim.start_time);
    await this.d.store.schedules.finishTick(name, key, outcome);
    this.d.logger.info('tick', { process_definition_name: name, scheduled_time: key, outcome });
    return outcome;
  }

  /** RunListener: unregister the run, then a `wait` catch-up or a continuous definition's next run. */
  async runEnded(run: { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' }): Promise<void> {
    const name = run.process_definition_name;
    const record = await this.d.store.runs.getRunRecord(run.process_id);
    // Retried since (the retry keeps its registration): its own end counts it.
    if (record?.status === 'running') return;
    if (record) await this.d.store.schedules.runEnded(name, activeEntry(record.start_time, run.process_id), run.status);
    if (this.stopped) return;
    // Its summary: a run's end needs the schedule and `paused`, not the tasks (a definition stored in parts is
    // megabytes, read at every run end before).
    const stored = await this.d.store.definitions.summary(name);
    const schedule = stored?.definition.schedule;
    // The drain decides from this read: one read of the definition's item per run end, not two.
    const read = { stored };
    if (!stored || stored.paused || !schedule) {
      await this.drain(name, read); // a queued manual trigger still starts
      return;
    }
    if (schedule.continuous_schedule) {
      await this.drain(name, read);
      if ((await this.d.store.schedules.get(name)).active.length > 0) return; // that run's end arranges the next
      const ended = record?.end_time ? Date.parse(record.end_time) : this.d.now().getTime();
      await this.arrange(name, new Date(ended + (schedule.continuous_schedule.buffer_seconds ?? 0) * 1000));
      return;
    }
    await this.drain(name, read);
  }

  /**
   * `POST …/trigger`: starts a run now, unless another run of the definition is in progress: then
   * overlap_action decides, as for a tick (Sundial's spec, for a trigger as for a tick): `terminate`
   * kills it first; `wait` queues this run, which starts when the run in progress ends (one queued run,
   * not a queue: a trigger while one is queued answers that one). `force` starts it at once whatever
   * runs. Answers the run, or the queued run (`queued: true`, status `running`, no tasks yet). `runId`:
   * the id the run gets (an upstream start's, stable, so that a replayed run end starts it once).
   */
  async trigger(name: string, options: Omit<TriggerOptions, 'reservation'> = {}, force = false, runId?: string): Promise<Process> {
    if (force) return this.runs.trigger(name, options);
    const stored = await this.d.store.definitions.get(name);
    if (!stored) throw new NotFoundError(`process definition "${name}" does not exist`);
    for (let round = 0; round < 3; round++) {
      const processId = runId ?? randomUUID();
      const startTime = this.d.now().toISOString();
      const entry = activeEntry(startTime, processId);
      if (await this.d.store.schedules.reserve(name, entry)) {
        try {
          return await this.runs.trigger(name, { ...options, definition: stored, reservation: { processId, startTime } });
        } catch (err) {
          // Refused before its run existed (a bad task name or variable): the reservation goes too.
          if (!(await this.d.store.runs.getRunRecord(processId))) await this.d.store.schedules.forget(name, entry);
          throw err;
        }
      }
      const running = await this.running(name);
      if (running.length === 0) continue; // what blocked us has ended: try again
      if (await this.terminates(stored, running)) {
        for (const id of running) await this.kill(id, 'terminated: a run of this definition was triggered (overlap_action terminate)');
        continue;
      }
      // A queued trigger is refused now, not when it would start; it keeps when it was asked for (`at`).
      const { parameters } = await this.runs.check(name, { ...options, definition: stored });
      const trigger: TriggerRequest = { ...(options.trigger ?? { kind: 'manual', by: LOCAL_CALLER }), at: options.trigger?.at ?? startTime };
      const queued = await this.d.store.schedules.queue(name, {
        process_id: processId,
        ...(options.taskDefinitionName !== undefined ? { task_definition_name: options.taskDefinitionName } : {}),
        ...(options.environmentVariables ? { environment_variables: options.environmentVariables } : {}),
        trigger,
        ...(options.parameters ? { parameters: options.parameters } : {}),
        ...(options.passedOnParameters ? { passed_on_parameters: options.passedOnParameters } : {}),
      });
      if (!queued) continue; // the run ended meanwhile
      this.d.logger.info('trigger queued behind the run in progress', { process_definition_name: name, process_id: queued.process_id });
      await this.drain(name); // it may have ended between our look and the queue
      const started = await this.d.store.runs.getRun(queued.process_id, { withoutEntries: options.withoutEntries });
      if (started) return started;
      const answered = queued.process_id === processId ? { trigger: triggerOf(trigger, startTime), parameters } : this.queuedFacts(stored, queued, startTime);
      return { process_id: queued.process_id, process_definition_name: name, start_time: startTime, status: 'running', task: [], queued: true, ...answered };
    }
    throw new ConflictError(`runs of process definition "${name}" kept starting and ending while triggering; try again`);
  }

  /**
   * RunListener: a retry reopens a failed run, which becomes the definition's run in progress again
   * (a tick must see it, its end is counted). Another run in progress is decided by overlap_action, as
   * for a tick: `terminate` kills it first; `wait` refuses the retry (409): a retry is a request to run
   * now, and queueing it behind the other run would reopen it later than asked. docs/SCHEDULES.md.
   */
  async runRetrying(run: { process_id: string; process_definition_name: string; start_time: string }): Promise<() => Promise<void>> {
    const name = run.process_definition_name;
    const entry = activeEntry(run.start_time, run.process_id);
    const undo = async () => {
      await this.d.store.schedules.runEnded(name, entry, 'failed');
    };
    for (let round = 0; round < 3; round++) {
      if (await this.d.store.schedules.reopenRun(name, entry)) return undo;
      // Its first end is not unregistered yet: that end's listener finds it running again and leaves it.
      if ((await this.d.store.schedules.get(name)).active.includes(entry)) return async () => undefined;
      const running = (await this.running(name)).filter((id) => id !== run.process_id);
      if (running.length === 0) continue; // what blocked us has ended: try again
      const stored = await this.d.store.definitions.summary(name);
      if (!stored || !(await this.terminates(stored, running))) {
        const why = stored?.definition.overlap_action === 'terminate' ? "it is a backfill's run (overlap_action never ends those)" : 'its overlap_action is wait';
        throw new ConflictError(`another run of process definition "${name}" is in progress (${running.join(', ')}) and ${why}: retry when it has ended`);
      }
      for (const id of running) await this.kill(id, 'terminated: a run of this definition was retried (overlap_action terminate)');
    }
    throw new ConflictError(`runs of process definition "${name}" kept starting while retrying ${run.process_id}; try again`);
  }

  // ---- internals -------------------------------------------------------------------------------

  private async setPaused(name: string, paused: boolean): Promise<StoredDefinition> {
    const stored = await this.d.store.definitions.setPaused(name, paused, this.d.now().toISOString());
    if (!stored) throw new NotFoundError(`process definition "${name}" does not exist`);
    await this.sync(stored);
    this.d.logger.info(paused ? 'schedule paused' : 'schedule resumed', { process_definition_name: name });
    return stored;
  }

  private get runs(): Engine {
    if (!this.engine) throw new Error('Schedules has no engine: call attach(engine)');
    return this.engine;
  }

  /**
   * The trigger and parameters of a trigger queued earlier, as its run will answer them: resolved against
   * the definition now (none, should it no longer resolve: its start will then refuse it).
   */
  private queuedFacts(stored: StoredDefinition, queued: QueuedTrigger, startTime: string): Pick<Process, 'trigger' | 'parameters'> {
    const trigger = triggerOf(queued.trigger ?? { kind: 'manual', by: UNKNOWN_CALLER }, startTime);
    try {
      const parameters = resolveParameters(stored.definition.parameters, {
        ...(queued.parameters ? { given: queued.parameters } : {}),
        ...(queued.environment_variables ? { environment: queued.environment_variables } : {}),
        ...(queued.passed_on_parameters ? { passedOn: queued.passed_on_parameters } : {}),
        requireGiven: trigger.kind === 'manual',
      });
      return { trigger, parameters };
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
      return { trigger, parameters: [] };
    }
  }

  /** Whether the tick may start a run, and starting it. */
  private async decide(name: string, key: string, processId: string, startTime: string): Promise<TickOutcome> {
    await this.d.store.schedules.markTick(name, key);
    const stored = await this.d.store.definitions.get(name);
    const schedule = stored?.definition.schedule;
    if (!stored || !schedule) return 'skipped_unscheduled';
    if (stored.paused) return 'skipped_paused';
    if (schedule.interval_schedule) {
      const iv = parseInterval(schedule.interval_schedule.repeat);
      if (iv.count !== undefined && ticksUpTo(iv, new Date(key)) > iv.count) return 'skipped_count';
    }
    if (await this.d.store.runs.getRunRecord(processId)) return 'started'; // a retry after the run was created
    // A retry after the reservation: carry on with it.
    const own = (await this.d.store.schedules.get(name)).active.find((e) => activeProcessId(e) === processId);
    // A scheduled run stands for its tick (SUNDIAL_SCHEDULED_TIME) and takes the parameters' defaults.
    const trigger: TriggerRequest = { kind: 'schedule', by: scheduleCaller(name), scheduled_time: key };
    if (own) {
      await this.runs.trigger(name, { definition: stored, trigger, reservation: { processId, startTime: activeStartTime(own) }, withoutEntries: true });
      return 'started';
    }
    let start = startTime;
    for (let round = 0; round < 3; round++) {
      if (await this.d.store.schedules.reserve(name, activeEntry(start, processId))) {
        await this.runs.trigger(name, { definition: stored, trigger, reservation: { processId, startTime: start }, withoutEntries: true });
        return 'started';
      }
      const running = await this.running(name);
      if (running.length === 0) continue; // what blocked us has ended: try again
      if (schedule.continuous_schedule) return 'skipped_running';
      if (await this.terminates(stored, running)) {
        for (const id of running) await this.kill(id);
        start = this.d.now().toISOString(); // the new run starts after the kill
        continue;
      }
      if (await this.d.store.schedules.defer(name, key)) {
        // The run may have ended between our look and the flag, its end finding no flag: drain now.
        await this.drain(name);
        return 'deferred';
      }
    }
    this.d.logger.warn('tick found runs starting and ending under it; skipped', { process_definition_name: name, scheduled_time: key });
    return 'skipped_running';
  }

  /**
   * Whether overlap_action `terminate` ends `running` for a new run: not when one of them is a backfill's
   * run, which the new run waits behind instead (engine/backfills.ts says why).
   */
  private async terminates(stored: StoredDefinition<DefinitionSummary>, running: readonly string[]): Promise<boolean> {
    return stored.definition.overlap_action === 'terminate' && !(await this.backfills.holds(stored.definition.process_definition_name, running));
  }

  /** Runs of the definition in progress; entries left by a crash or a lost run end are cleared. */
  private async running(name: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of (await this.d.store.schedules.get(name)).active) {
      const id = activeProcessId(entry);
      const record = await this.d.store.runs.getRunRecord(id);
      if (record?.status === 'running') out.push(id);
      else if (record) await this.d.store.schedules.runEnded(name, entry, record.status === 'succeeded' ? 'succeeded' : 'failed');
      else if (this.d.now().getTime() - Date.parse(activeStartTime(entry)) > ORPHAN_ENTRY_MS) {
        await this.d.store.schedules.forget(name, entry);
      } else out.push(id); // being created right now
    }
    return out;
  }

  private async kill(processId: string, reason = 'terminated: a scheduled run of this definition started (overlap_action terminate)'): Promise<void> {
    try {
      await this.runs.kill(processId, reason);
    } catch (err) {
      if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
    }
  }

  /**
   * Starts the one catch-up run of a deferred `wait` tick or a queued manual trigger, if one is pending
   * and nothing runs; else a backfill's next occurrence (engine/backfills.ts: the live run goes first).
   * A deferred tick is dropped when the definition is paused or unscheduled; a queued trigger and a
   * backfill are not (explicit requests do not depend on the schedule).
   */
  private async drain(name: string, read?: { stored: ListedDefinition | undefined }): Promise<void> {
    // Its summary (`read`: as the caller just read it); the tasks are read only when a run starts from here (below).
    const stored = read ? read.stored : await this.d.store.definitions.summary(name);
    if (!stored) {
      await this.d.store.schedules.clearPending(name, true);
      await this.backfills.removed(name);
      return;
    }
    if (stored.paused || !stored.definition.schedule) await this.d.store.schedules.clearPending(name);
    const startTime = this.d.now().toISOString();
    const manual = queuedTrigger((await this.d.store.schedules.get(name)).pending);
    const processId = manual?.process_id ?? randomUUID();
    const taken = await this.d.store.schedules.takePending(name, activeEntry(startTime, processId));
    if (taken === undefined) {
      await this.backfills.startNext(name);
      return;
    }
    const queued = queuedTrigger(taken);
    if (queued && queued.process_id !== processId) {
      // Replaced between our read and the take: register the id its trigger answered instead.
      await this.d.store.schedules.forget(name, activeEntry(startTime, processId));
      await this.d.store.schedules.registerRun(name, activeEntry(startTime, queued.process_id));
    }
    const id = queued?.process_id ?? processId;
    this.d.logger.info(queued ? 'queued trigger starts' : 'catch-up run of a deferred tick', { process_definition_name: name, process_id: id });
    try {
      // A summary without its tasks (a definition in parts) is not the definition: the trigger reads it whole then.
      const whole = stored.task_definitions_omitted === undefined ? (stored as StoredDefinition) : undefined;
      await this.runs.trigger(name, {
        ...(whole ? { definition: whole } : {}),
        withoutEntries: true,
        reservation: { processId: id, startTime },
        ...(queued?.task_definition_name !== undefined ? { taskDefinitionName: queued.task_definition_name } : {}),
        ...(queued?.environment_variables ? { environmentVariables: queued.environment_variables } : {}),
        ...(queued?.parameters ? { parameters: queued.parameters } : {}),
        ...(queued?.passed_on_parameters ? { passedOnParameters: queued.passed_on_parameters } : {}),
        // A deferred tick's catch-up stands for that tick (`taken` is its scheduled time); a trigger
        // queued before provenance was recorded names nobody.
        trigger: queued ? (queued.trigger ?? { kind: 'manual', by: UNKNOWN_CALLER }) : { kind: 'schedule', by: scheduleCaller(name), scheduled_time: taken },
      });
    } catch (err) {
      if (!(await this.d.store.runs.getRunRecord(id))) await this.d.store.schedules.forget(name, activeEntry(startTime, id));
      throw err;
    }
  }

  /** Continuous: the next run at `lastEnd + buffer` (now if it never ran or that has passed). */
  private async continueAfterLastRun(name: string, bufferSeconds: number): Promise<void> {
    if ((await this.d.store.schedules.get(name)).active.length > 0) return; // its end arranges the next
    const last = await this.d.store.runs.latestRun(name);
    const now = this.d.now().getTime();
    const at = last?.end_time ? Math.max(now, Date.parse(last.end_time) + bufferSeconds * 1000) : now;
    await this.arrange(name, new Date(at));
  }

  /** One tick at `at`: through the scheduler, or at once (same tick path) when it is due already. */
  private async arrange(name: string, at: Date): Promise<void> {
    if (this.stopped) return;
    if (at.getTime() <= this.d.now().getTime()) {
      await this.tick(name, at.toISOString());
      return;
    }
    await this.d.scheduler.fireAt(name, at);
  }

  private async nextRunTime(stored: StoredDefinition<DefinitionSummary>, running: boolean, lastEnd: string | undefined): Promise<Date | undefined> {
    const schedule = stored.definition.schedule;
    if (stored.paused || !schedule) return undefined;
    const now = this.d.now();
    if (schedule.continuous_schedule) {
      if (running || !lastEnd) return undefined;
      return new Date(Math.max(now.getTime(), Date.parse(lastEnd) + (schedule.continuous_schedule.buffer_seconds ?? 0) * 1000));
    }
    const spec = this.spec(stored.definition, stored.definition);
    return spec ? nextFireTime(spec, now) : undefined;
  }
}
