/**
 * The reaper: finds task attempts their executor lost — the execution, job or process is gone and
 * nothing recorded the attempt, or the attempt ran past its deadline — and ends them through the
 * engine with a reason, so that no run stays `running` for ever (the agenda seed's reclaimer of stuck
 * work). Deployed, an EventBridge schedule invokes the engine function with `{action: "reap"}`
 * (lib/reaper.ts); locally the sweep runs it (local/sweeper.ts).
 *
 * Candidates come from the sparse ACTIVE index (running runs only) and each run's slots: no Scan.
 */
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { Slot } from '../store/slots';
import { DEFAULT_TIMEOUT_SECONDS } from './contract';
import type { Engine } from './engine';
import type { RunFanOut } from './fan-out';

/** Slack beyond an attempt's own bound (its start, after the backoff, + max_runtime_seconds) before the reaper ends it. */
export const REAPER_GRACE_SECONDS = 300;

export interface ReaperDeps {
  store: Store;
  engine: Pick<Engine, 'reap' | 'settle'>;
  now: () => Date;
  logger: Logger;
  /**
   * Whether the execution of this name no longer runs (local: the orchestrator has no such execution;
   * deployed: DescribeExecution is not RUNNING). An attempt is reaped as lost only when two sweeps in a
   * row found it so, which leaves room for a task that is being started right now.
   */
  executionGone?: (executionName: string) => Promise<boolean>;
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

  constructor(private readonly d: ReaperDeps) {}

  /** One sweep: ends every lost attempt; answers what it ended. */
  async reap(): Promise<ReapedAttempt[]> {
    const reaped: ReapedAttempt[] = [];
    const stillSuspect = new Set<string>();
    const stillStalled = new Map<string, string>();
    for (const processId of await this.d.store.runs.listActiveRunIds()) {
      await this.d.fanOut?.redriveStale(processId).catch((err: unknown) => this.d.logger.error('could not hand on the start of a run', { process_id: processId, error: err as Error }));
      const slots = await this.d.store.slots.list(processId);
      await this.settleIfStalled(processId, slots, stillStalled);
      for (const slot of slots) {
        if (slot.status !== 'running') continue;
        const reason = await this.whyLost(slot, stillSuspect);
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
  private async settleIfStalled(processId: string, slots: readonly Slot[], stillStalled: Map<string, string>): Promise<void> {
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

  private async whyLost(slot: Slot, stillSuspect: Set<string>): Promise<string | undefined> {
    const now = this.d.now().getTime();
    const task = slot.current_task_id ? await this.d.store.runs.getTaskRecord(slot.process_id, slot.current_task_id) : undefined;
    if (task?.status === 'running') {
      const def = slot.definition;
      // start_time is when the attempt starts executing, after its backoff (Prepare writes it so).
      const bound = (def.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS) + (this.d.graceSeconds ?? REAPER_GRACE_SECONDS);
      const deadline = Date.parse(task.start_time) + bound * 1000;
      if (Number.isFinite(deadline) && now > deadline) {
        return `the executor lost the attempt: it ran past its deadline (${new Date(deadline).toISOString()}: start + max_runtime_seconds + ${this.d.graceSeconds ?? REAPER_GRACE_SECONDS} s) and nothing recorded it`;
      }
    }
    if (!slot.execution_name || !this.d.executionGone) return undefined;
    if (!(await this.d.executionGone(slot.execution_name))) return undefined;
    const key = `${slot.process_id}/${slot.name}/${slot.execution_name}`;
    stillSuspect.add(key);
    if (!this.suspects.has(key)) return undefined;
    return 'the executor lost the attempt: its execution ended and nothing recorded it';
  }
}
