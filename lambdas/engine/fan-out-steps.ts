/**
 * The engine function's steps of a fan-out (./fan-out.ts): each goes over a run's slots a page at a time,
 * paced, and hands what it has not done to a new step before its function's timeout. Built beside the
 * engine (`fanOutStepsFor`), as `Prepare` is (./prepare.ts): only the engine function and the local
 * runtime run steps, so the api function's bundle leaves them out (test/lib/bundling.test.ts). The request's
 * part, and what both share (a task's kill, restart and unblocking, the tokens, the hand-off), is
 * `RunFanOut`'s. docs/SCALE.md, "The hand-off".
 */
import { AWS_FAN_OUT_CONCURRENCY, mapLimited, mapUntil } from '../domain/concurrency';
import { nextStep } from '../domain/dag';
import type { FanOutMarker } from '../store/fan-outs';
import type { RunItem } from '../store/runs';
import { claimsFirstAttempt, countsDone, type Slot } from '../store/slots';
import type { Engine } from './engine';
import { type At, type Deadline, type FanOutDeps, type FanOutEvent, type FanOutOp, type FanOutPhase, plannedSlots, type RunFanOut } from './fan-out';
import { Pacer, realClock, writeUnits } from './pace';

/** Slots a step reads or writes between two looks at the run. */
const PAGE = 100;

/**
 * Each op's phases, in order. A start has one since its tasks without dependencies are written started
 * (their executions start page by page); `roots`, its second phase before, still ends a start handed on
 * in it (an event in flight across a deployment).
 */
const PHASES: Record<FanOutOp, readonly FanOutPhase[]> = {
  start: ['slots'],
  kill: ['stop'],
  reopen: ['expiry', 'unblock', 'restart', 'ready'],
};
/**
 * The phase after `phase` in `op`; none after its last, nor after one that is not (any more) in `op`'s
 * list: `roots`, a start's last phase before, ends the start of an event handed on in it.
 */
function nextPhase(op: FanOutOp, phase: FanOutPhase): FanOutPhase | undefined {
  const phases = PHASES[op];
  const i = phases.indexOf(phase);
  return i < 0 ? undefined : phases[i + 1];
}
const MARKER: Record<FanOutOp, FanOutMarker> = { start: 'starting', kill: 'killing', reopen: 'reopening' };
const FINISHED: Record<FanOutOp, string> = { start: 'run started: every task written', kill: 'run killed', reopen: 'run retried: every task reopened' };

/** What a page did: where its phase goes on, that the phase is done, or that the fan-out is over. */
type Outcome = At | 'phase done' | 'over';

/** What one step reads once: the plan of a run being started, the tasks a retry reopens. */
interface StepCache {
  plan?: { ordered: Slot[]; roots: Slot[] };
  reopened?: Set<string>;
}

/** The steps of `engine`'s fan-outs: the one way to run one (the engine function, the local runtime, tests). */
export function fanOutStepsFor(engine: Pick<Engine, 'fanOut'>): FanOutSteps {
  return new FanOutSteps(engine.fanOut);
}

export class FanOutSteps {
  constructor(private readonly fanOut: RunFanOut) {}

  private get d(): FanOutDeps {
    return this.fanOut.d;
  }

  /** One step of a fan-out: pages until its phases are done or `deadline` holds, then the rest is handed on. */
  async step(event: FanOutEvent, deadline: Deadline = () => false): Promise<void> {
    const { op, process_id: processId } = event;
    const marker = MARKER[op];
    const pacer = new Pacer(this.d.pace, this.d.clock);
    const cache: StepCache = {};
    let token = event.token;
    let phase = event.phase;
    let at: At = { next: event.next, after: event.after, ...(event.unstarted ? { unstarted: true as const } : {}) };
    for (;;) {
      const run = await this.d.store.runs.getRunRecord(processId);
      // A replayed or overtaken step: the marker moved on, and so did the fan-out.
      if (!run || run[marker] !== token) return;
      if (deadline()) return this.handOn(event, token, phase, at);
      const outcome = await this.page(op, phase, run, at, pacer, deadline, cache);
      if (outcome === 'over') return this.finish(op, run, token);
      if (outcome === 'phase done') {
        const following = nextPhase(op, phase);
        if (!following) return this.finish(op, run, token);
        // A new phase, a new token: a step still in the previous one stops at its next page.
        const next = this.fanOut.token(token);
        if (!(await this.d.store.fanOuts.moveMarker(processId, marker, token, next))) return;
        token = next;
        phase = following;
        at = {};
      } else {
        // A step that may find tasks unstarted looks for them on every page after.
        at = { ...outcome, ...(at.unstarted ? { unstarted: true as const } : {}) };
      }
    }
  }

  private page(op: FanOutOp, phase: FanOutPhase, run: RunItem, at: At, pacer: Pacer, deadline: Deadline, cache: StepCache): Promise<Outcome> {
    const pid = run.process_id;
    switch (phase) {
      case 'slots':
        return this.writeSlots(run, at.next ?? 0, Boolean(at.unstarted), pacer, deadline, cache);
      case 'roots':
        return this.startRoots(run, at.next ?? 0, pacer, deadline, cache);
      case 'stop':
        return this.overSlots(pid, at.after, deadline, (slot) => this.fanOut.killSlot(pid, slot, run.reason ?? 'killed by operator', pacer), (last) => this.killDone(run, last));
      case 'expiry':
        return this.clearExpiry(run, at.after, pacer);
      case 'unblock':
        return this.unblock(run, at.after, pacer, deadline, cache);
      case 'restart':
        if (run.status !== 'running') return Promise.resolve('over');
        return this.overSlots(pid, at.after, deadline, async (slot) => {
          if (slot.status !== 'failed') return;
          await pacer.take('starts');
          await pacer.take('writeUnits', writeUnits(slot));
          await this.fanOut.restartSlot(pid, slot);
        });
      case 'ready':
        if (run.status !== 'running') return Promise.resolve('over');
        return this.overSlots(pid, at.after, deadline, async (slot) => {
          if (nextStep(slot) !== 'start') return;
          await pacer.take('starts');
          await pacer.take('writeUnits', writeUnits(slot));
          await this.d.startSlot(slot);
        });
      default:
        throw new Error(`fan-out ${op} has no phase ${String(phase)}`);
    }
  }

  /**
   * Start: the done shards, then each slot, those with dependencies first (see {@link plan}). The tasks
   * without dependencies come last and are written started, their first attempt claimed, as a run
   * triggered within its request writes them (engine.ts `trigger`): one write each where a waiting slot
   * and its start took two. Once a page is written (and with it every slot before it: a task only starts
   * once all are), its claims are counted running in one write, the run is read again, and their
   * executions start at the pace of starts, unless the run was killed meanwhile. A step that must hand on
   * before they all started hands on from the first not started, `unstarted`: the next step finds those
   * written started and starts them.
   */
  private async writeSlots(run: RunItem, from: number, unstarted: boolean, pacer: Pacer, deadline: Deadline, cache: StepCache): Promise<Outcome> {
    const { ordered } = await this.plan(run, cache);
    const processId = run.process_id;
    if (from === 0) await this.d.store.slots.createDoneShards(processId, ordered.filter(countsDone).map((s) => s.name));
    const page = ordered.slice(from, from + PAGE);
    if (page.length === 0) return 'phase done';
    // A run killed before its slots exist: they are written as its kill leaves waiting tasks.
    const killed = (r: RunItem | undefined) => ({ status: 'blocked' as const, reason: r?.reason ?? 'the run ended before the task started' });
    const running = run.status === 'running';
    // The page's tasks without dependencies: written started by this step, or found written (a replayed page).
    const roots: Array<{ at: number; slot: Slot; written: boolean }> = [];
    const done = await mapUntil(page, AWS_FAN_OUT_CONCURRENCY, deadline, async (slot, at) => {
      const root = running && slot.deps_total === 0;
      const written: Slot = !running ? { ...slot, ...killed(run) } : root ? this.d.startedAtCreation(slot) : slot;
      await pacer.take('writeUnits', writeUnits(written));
      const wrote = await this.d.store.slots.createSlot(written);
      if (root) roots.push({ at, slot: wrote ? written : slot, written: wrote });
    });
    if (!running) return { next: from + done };
    roots.sort((a, b) => a.at - b.at);
    // The claims are counted with their writes, as a run started in its request counts them with the run.
    const claims = roots.filter((r) => r.written).length;
    if (claims > 0) await this.d.store.stats.add({ tasks_running: claims });
    // Killed while this page was written: the kill may have listed the slots before they were there.
    const now = await this.d.store.runs.getRunRecord(processId);
    if (now?.status !== 'running') {
      const found = await mapLimited(roots.filter((r) => !r.written), AWS_FAN_OUT_CONCURRENCY, (r) => this.d.store.slots.get(processId, r.slot.name));
      const written = [...page.slice(0, done).filter((slot) => slot.deps_total > 0), ...roots.filter((r) => r.written).map((r) => r.slot), ...found.filter((slot) => slot !== undefined)];
      await mapLimited(written, AWS_FAN_OUT_CONCURRENCY, (slot) => this.fanOut.killSlot(processId, slot, killed(now).reason));
      return { next: from + done };
    }
    const started = await mapUntil(roots, AWS_FAN_OUT_CONCURRENCY, deadline, async ({ slot, written }) => {
      await pacer.take('starts');
      await (written ? this.d.startExecution(slot) : this.startFound(processId, slot.name, unstarted));
    });
    return started < roots.length ? { next: from + roots[started]!.at, unstarted: true } : { next: from + done };
  }

  /**
   * A task without dependencies that a page found written. Still waiting (written by a step from before
   * tasks were written started, an event in flight across a deployment), it starts as any waiting task.
   * Running, it was written started: by a step that handed on before starting its execution
   * (`unstarted`), which starts here; else by a step that started it, or is starting it now (the same
   * event delivered twice at once), and nothing is done.
   */
  private async startFound(processId: string, name: string, unstarted: boolean): Promise<void> {
    const slot = await this.d.store.slots.get(processId, name);
    if (slot?.status === 'waiting') await this.d.startSlot(slot);
    else if (unstarted && slot?.status === 'running' && slot.round === 0 && claimsFirstAttempt(slot)) await this.d.startExecution(slot);
  }

  /**
   * Start, phase 2 of a fan-out handed on before the tasks without dependencies were written started (an
   * event in flight across a deployment): those tasks start, unless the run was killed.
   */
  private async startRoots(run: RunItem, from: number, pacer: Pacer, deadline: Deadline, cache: StepCache): Promise<Outcome> {
    if (run.status !== 'running') return 'over';
    const page = (await this.plan(run, cache)).roots.slice(from, from + PAGE);
    if (page.length === 0) return 'phase done';
    const done = await mapUntil(page, AWS_FAN_OUT_CONCURRENCY, deadline, async (slot) => {
      await pacer.take('starts');
      await pacer.take('writeUnits', writeUnits(slot));
      await this.d.startSlot(slot);
    });
    return { next: from + done };
  }

  /**
   * The plan's slots, those with dependencies before those without: a task only starts once every slot
   * is written (a completed task tells its dependents, which must exist by then), and the reaper's
   * settling of a run that stalls (Engine.settle) starts only the waiting tasks it finds ready.
   */
  private async plan(run: RunItem, cache: StepCache): Promise<{ ordered: Slot[]; roots: Slot[] }> {
    if (!cache.plan) {
      const processId = run.process_id;
      const tasks = await this.d.store.fanOuts.getPlan(processId);
      if (!tasks) throw new Error(`run ${processId} has no plan to start it from`);
      const slots = plannedSlots(processId, tasks, run.process_definition_name);
      const roots = slots.filter((s) => s.deps_total === 0);
      cache.plan = { ordered: [...slots.filter((s) => s.deps_total > 0), ...roots], roots };
    }
    return cache.plan;
  }

  /**
   * Kill: every slot done. It ends — its listeners set the run's expiry — once a start still writing the
   * run's slots (blocked now) has written them all, and a reopening has stopped (it clears expiries);
   * until then it looks again after `last`.
   */
  private async killDone(run: RunItem, last: string | undefined): Promise<Outcome> {
    if (this.fanOut.busy(run)) {
      await (this.d.clock ?? realClock).sleep(200);
      return { after: last };
    }
    return 'phase done';
  }

  /**
   * Reopen, phase 1: the items of the run's partition keep no expiry while it runs again (its run item
   * lost its own in the request). First, while no task runs: the run cannot end meanwhile, whose end
   * sets the expiries again (a kill waits for the reopening to stop).
   */
  private async clearExpiry(run: RunItem, after: string | undefined, pacer: Pacer): Promise<Outcome> {
    if (run.status !== 'running') return 'over';
    await pacer.take('writeUnits', PAGE);
    const next = await this.d.store.runs.clearExpiryPage(run.process_id, after, PAGE);
    return next === undefined ? 'phase done' : { after: next };
  }

  /**
   * Reopen, phase 2, before any task starts again: the blocked tasks wait again, without the completions
   * of the reopened ones — those not succeeded (nothing has started yet, so those this phase already
   * reopened are among them, waiting). Undone, page by page, if the run is killed meanwhile.
   */
  private async unblock(run: RunItem, after: string | undefined, pacer: Pacer, deadline: Deadline, cache: StepCache): Promise<Outcome> {
    if (run.status !== 'running') return 'over';
    // By name and status only: whole, a run of 10,000 tasks is ~10 MB for this step to read and hold.
    cache.reopened ??= new Set((await this.d.store.slots.listStates(run.process_id)).filter((s) => s.status !== 'succeeded' && s.status !== 'running').map((s) => s.name));
    const reopened = cache.reopened;
    const unblocked: Slot[] = [];
    const outcome = await this.overSlots(run.process_id, after, deadline, async (slot) => {
      if (slot.status !== 'blocked') return;
      await pacer.take('writeUnits', 2 * writeUnits(slot));
      await this.fanOut.unblockSlot(run.process_id, slot, reopened);
      unblocked.push(slot);
    });
    const now = await this.d.store.runs.getRunRecord(run.process_id);
    if (now?.status === 'running') return outcome;
    await mapLimited(unblocked, AWS_FAN_OUT_CONCURRENCY, (slot) => this.d.store.slots.transition(run.process_id, slot.name, ['waiting'], 'blocked', { reason: now?.reason }, this.d.expiry?.()));
    return 'over';
  }

  /** One page of the run's slots (in name order, after `after`) through `fn`; `whenDone` (after the last one) once there are no more. */
  private async overSlots(
    processId: string,
    after: string | undefined,
    deadline: Deadline,
    fn: (slot: Slot) => Promise<void>,
    whenDone?: (last: string | undefined) => Promise<Outcome>,
  ): Promise<Outcome> {
    const { slots, last } = await this.d.store.slots.listPage(processId, after, PAGE);
    const done = await mapUntil(slots, AWS_FAN_OUT_CONCURRENCY, deadline, fn);
    if (done < slots.length) return { after: done === 0 ? after : slots[done - 1]!.name };
    if (last !== undefined) return { after: last };
    return whenDone ? whenDone(slots.at(-1)?.name ?? after) : 'phase done';
  }

  /** The fan-out is over: a kill tells the listeners (notifications, schedules, retention), then the marker goes. */
  private async finish(op: FanOutOp, run: RunItem, token: string): Promise<void> {
    if (op === 'kill' && run.status === 'failed') {
      await this.d.runEnded({ process_id: run.process_id, process_definition_name: run.process_definition_name, status: 'failed' });
    }
    if (await this.d.store.fanOuts.moveMarker(run.process_id, MARKER[op], token, undefined)) {
      this.d.logger.info(FINISHED[op], { process_id: run.process_id, ...(op === 'kill' ? { reason: run.reason } : {}) });
    }
  }

  /** Hands what is left to a new step under a new token (put back if the hand-off fails, so that a retry of this step goes on). */
  private async handOn(event: FanOutEvent, token: string, phase: FanOutPhase, at: At): Promise<void> {
    const marker = MARKER[event.op];
    const next = this.fanOut.token(token);
    if (!(await this.d.store.fanOuts.moveMarker(event.process_id, marker, token, next))) return;
    try {
      await this.fanOut.hand({ action: 'fan-out', op: event.op, process_id: event.process_id, token: next, phase, ...at });
    } catch (err) {
      await this.d.store.fanOuts.moveMarker(event.process_id, marker, next, token).catch(() => undefined);
      throw err;
    }
  }
}
