/**
 * The reaper: finds task attempts their executor lost — the execution, job or process is gone and
 * nothing recorded the attempt, or the attempt ran past its deadline — and ends them through the
 * engine with a reason, so that no run stays `running` for ever (the agenda seed's reclaimer of stuck
 * work). Deployed, an EventBridge schedule invokes the engine function with `{action: "reap"}`
 * (lib/reaper.ts); locally the sweep runs it (local/sweeper.ts).
 *
 * Candidates come from the sparse ACTIVE index (running runs only) and each run's slots: no Scan.
 *
 * Whether a slot's execution still runs is read from one listing of the task state machine's running
 * executions per sweep (ListExecutions, statusFilter RUNNING, 1,000 a page), not asked per slot: at
 * 10,000 running tasks a DescribeExecution each would be 10,000 calls against a bucket of 250 refilled
 * 10 a second (docs/SCALE.md). The listing is paced under ListExecutions' own quota (100, refilled 2 a
 * second outside the three largest Regions:
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Other quotas").
 */
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../domain/concurrency';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { SlotAttemptState } from '../store/slots';
import { DEFAULT_TIMEOUT_SECONDS } from './contract';
import type { Engine } from './engine';
import type { RunFanOut } from './fan-out';
import { type Clock, type Rate, realClock, TokenBucket } from './pace';
import type { ListRunningExecutions } from './ports';

/** Slack beyond an attempt's own bound (its start, after the backoff, + max_runtime_seconds) before the reaper ends it. */
export const REAPER_GRACE_SECONDS = 300;

/**
 * How fast a sweep pages through the running executions: 10 pages at once (10,000 running executions),
 * then one a second, a tenth of ListExecutions' bucket and half its slowest refill (100 and 2/s), so that
 * the console and other callers keep the rest.
 */
export const REAPER_LIST_PACE: Rate = { burst: 10, perSecond: 1 };

/**
 * Most pages one sweep lists (20,000 running executions, ≥ 10 s of pacing within the engine function's
 * 30 s). Past it the sweep judges no execution gone (deadlines still apply) and says so in the log: a
 * partial listing would make every unlisted running task a suspect.
 */
export const REAPER_LIST_MAX_PAGES = 20;

export interface ReaperDeps {
  store: Store;
  engine: Pick<Engine, 'reap' | 'settle'>;
  now: () => Date;
  logger: Logger;
  /**
   * The running task executions, a page at a time (./ports.ts). A running slot whose execution is not
   * listed is suspect; it is reaped as lost only when two sweeps in a row found it so, which leaves room
   * for a task being started right now and for the listing's eventual consistency. Listed once per
   * sweep, and only when some running slot has an execution to check.
   */
  listRunningExecutions?: ListRunningExecutions;
  /** @default REAPER_LIST_PACE */
  listPace?: Rate;
  /** @default REAPER_LIST_MAX_PAGES */
  maxListPages?: number;
  /** Time, for the listing's pace (tests give a fake one). */
  clock?: Clock;
  /** @default REAPER_GRACE_SECONDS */
  graceSeconds?: number;
  /** Hands on the start of a large run that died half-way (./fan-out.ts): its slots are not all written yet. */
  fanOut?: Pick<RunFanOut, 'redriveStale'>;
}

export interface ReapedAttempt {
  process_id: string;
  task_definition_name: string;
  task_id?: string;
  reason: string;
}

export class Reaper {
  /** Slots found without an execution at the previous sweep (`<process id>/<task>/<execution>`). */
  private suspects = new Set<string>();
  /** Running runs found with no task running at the previous sweep, with their slots' state then. */
  private stalled = new Map<string, string>();
  /** Kept across sweeps (a warm Lambda's): a sweep every 5 minutes finds it full. */
  private readonly listBucket: TokenBucket;

  constructor(private readonly d: ReaperDeps) {
    this.listBucket = new TokenBucket(d.listPace ?? REAPER_LIST_PACE, d.clock ?? realClock);
  }

  /** One sweep: ends every lost attempt; answers what it ended. */
  async reap(): Promise<ReapedAttempt[]> {
    const reaped: ReapedAttempt[] = [];
    const stillSuspect = new Set<string>();
    const stillStalled = new Map<string, string>();
    let listing: Promise<ReadonlySet<string> | undefined> | undefined;
    const listed = () => (listing ??= this.listRunning());
    for (const processId of await this.d.store.runs.listActiveRunIds()) {
      await this.d.fanOut?.redriveStale(processId).catch((err: unknown) => this.d.logger.error('could not hand on the start of a run', { process_id: processId, error: err as Error }));
      // Of each slot only what the sweep judges by (not its definition and dependents: 10 MB a run at 10,000 tasks).
      const slots = await this.d.store.slots.listAttemptStates(processId);
      await this.settleIfStalled(processId, slots, stillStalled);
      // Each running slot's question (its attempt's record, read strongly consistently) goes out side by
      // side: one after another, 10,000 running tasks are 10,000 round trips of a few ms each deployed
      // (locally 15 s, 9 s side by side: test/engine/reaper-sweep.test.ts), past the engine function's
      // 30 s timeout, and no sweep would have ended. Lost attempts are then reaped in order.
      const running = slots.filter((s) => s.status === 'running');
      const reasons = await mapLimited(running, AWS_FAN_OUT_CONCURRENCY, (slot) => this.whyLost(slot, stillSuspect, listed));
      for (const [i, slot] of running.entries()) {
        const reason = reasons[i];
        if (!reason) continue;
        try {
          await this.d.engine.reap({ process_id: processId, task_definition_name: slot.name }, reason);
          reaped.push({ process_id: processId, task_definition_name: slot.name, ...(slot.current_task_id ? { task_id: slot.current_task_id } : {}), reason });
          this.d.logger.warn('lost attempt reaped', { process_id: processId, task_definition_name: slot.name, task_id: slot.current_task_id, reason });
        } catch (err) {
          this.d.logger.error('could not reap a lost attempt', { process_id: processId, task_definition_name: slot.name, error: err as Error });
        }
      }
    }
    this.suspects = stillSuspect;
    this.stalled = stillStalled;
    return reaped;
  }

  /**
   * A running run with no task running, and its slots unchanged since the previous sweep (so that a
   * run being started or retried right now is left alone), is stalled: nothing will end it (issue 15:
   * a kill racing a retry left runs so). The engine completes its settled tasks again, which ends it.
   */
  private async settleIfStalled(processId: string, slots: readonly SlotAttemptState[], stillStalled: Map<string, string>): Promise<void> {
    if (slots.length === 0 || slots.some((s) => s.status === 'running')) return;
    const state = slots.map((s) => `${s.name}:${s.status}:${s.round}:${s.attempts}`).sort().join('|');
    stillStalled.set(processId, state);
    if (this.stalled.get(processId) !== state) return;
    try {
      await this.d.engine.settle(processId);
      this.d.logger.warn('stalled run settled', { process_id: processId });
    } catch (err) {
      this.d.logger.error('could not settle a stalled run', { process_id: processId, error: err as Error });
    }
  }

  /**
   * Every running execution's name, paged and paced; undefined when the listing failed or would take more
   * than its pages (no execution is then judged gone this sweep; suspects stay suspects for the next one).
   */
  private async listRunning(): Promise<ReadonlySet<string> | undefined> {
    const list = this.d.listRunningExecutions;
    if (!list) return undefined;
    const names = new Set<string>();
    const maxPages = this.d.maxListPages ?? REAPER_LIST_MAX_PAGES;
    let nextToken: string | undefined;
    try {
      for (let page = 0; page < maxPages; page++) {
        await this.listBucket.take(1);
        const out = await list(nextToken);
        for (const name of out.names) names.add(name);
        nextToken = out.nextToken;
        if (!nextToken) return names;
      }
      this.d.logger.warn('too many running executions to list in one sweep: none is judged gone', { pages: maxPages, listed: names.size });
    } catch (err) {
      this.d.logger.error('could not list the running executions: none is judged gone this sweep', { error: err as Error });
    }
    return undefined;
  }

  private async whyLost(slot: SlotAttemptState, stillSuspect: Set<string>, running: () => Promise<ReadonlySet<string> | undefined>): Promise<string | undefined> {
    const now = this.d.now().getTime();
    const task = slot.current_task_id ? await this.d.store.runs.getTaskRecord(slot.process_id, slot.current_task_id) : undefined;
    if (task?.status === 'running') {
      // start_time is when the attempt starts executing, after its backoff (Prepare writes it so).
      const bound = (slot.definition?.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS) + (this.d.graceSeconds ?? REAPER_GRACE_SECONDS);
      const deadline = Date.parse(task.start_time) + bound * 1000;
      if (Number.isFinite(deadline) && now > deadline) {
        return `the executor lost the attempt: it ran past its deadline (${new Date(deadline).toISOString()}: start + max_runtime_seconds + ${this.d.graceSeconds ?? REAPER_GRACE_SECONDS} s) and nothing recorded it`;
      }
    }
    if (!slot.execution_name || !this.d.listRunningExecutions) return undefined;
    const key = `${slot.process_id}/${slot.name}/${slot.execution_name}`;
    const listed = await running();
    if (!listed) {
      // Not known this sweep: a suspect stays one, for the next full listing to decide.
      if (this.suspects.has(key)) stillSuspect.add(key);
      return undefined;
    }
    if (listed.has(slot.execution_name)) return undefined;
    stillSuspect.add(key);
    if (!this.suspects.has(key)) return undefined;
    return 'the executor lost the attempt: its execution ended and nothing recorded it';
  }
}
