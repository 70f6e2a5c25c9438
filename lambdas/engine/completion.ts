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
import { countsDone, doneShardCountOf, type Slot, startedSlot } from '../store/slots';
import type { Orchestrator } from './ports';

type Completed = 'succeeded' | 'failed' | 'blocked';

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

  /** Starts a waiting task whose dependencies are complete (once, whoever calls), its next attempt claimed. */
  async startSlot(slot: Slot): Promise<void> {
    const { process_id: processId, name, round, attempts } = slot;
    const started = await this.d.store.slots.start(processId, name, round, attempts, executionName(processId, name, round), stableUuid(processId, name, round, attempts));
    if (started) await this.startExecution(started);
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
   * now ready, block those that cannot run, and finish the run after its last task.
   */
  async completeTask(processId: string, first: string, firstStatus: Completed): Promise<void> {
    const queue: Array<{ name: string; status: Completed }> = [{ name: first, status: firstStatus }];
    while (queue.length > 0) {
      const { name, status } = queue.shift()!;
      const from = status === 'blocked' ? (['waiting', 'blocked'] as const) : (['running', status] as const);
      // The write that ends the slot stamps its expiry. Not the done shard's count: a shard is the engine's
      // state until the run ends (a run longer than the retention must still find it); the run's end sets it.
      const expiry = this.d.expiry();
      const slot = await this.d.store.slots.transition(processId, name, [...from], status, {}, expiry);
      if (!slot) continue; // moved by a kill or a concurrent replay that will carry on
      // The run is not read: a kill moves waiting slots to blocked (so dependents told now do not
      // start) and a task started in the meantime is failed by its Prepare, which reads the run.
      // The run's shard count is on its slots (slots written before they carried it or `tasks_total`:
      // the legacy count of the run's tasks, read from the run when the slot lacks them).
      const holder = slot.done_shard_count !== undefined || slot.tasks_total !== undefined ? slot : ((await this.d.store.runs.getRunRecord(processId)) ?? {});
      const shards = doneShardCountOf(holder);
      // A task may have thousands of dependents: tell them within the bound of lambdas/domain/concurrency.ts.
      const tellDependents = () =>
        mapLimited([...slot.dependents.entries()], AWS_FAN_OUT_CONCURRENCY, ([i, dep]) =>
          this.tellDependent(processId, slot, status, dep, i, (d) => queue.push({ name: d, status: 'blocked' })),
        );
      if (!countsDone(slot)) {
        // Not counted (slots.ts `countsDone`): its dependents end after it, and are. A failure is marked
        // first, so that it has landed before the run's last counted end decides the run's status.
        if (status !== 'succeeded') await this.d.store.slots.runTaskFailed(processId, name, shards);
        await tellDependents();
        continue;
      }
      // Dependents are separate items: tell them all at once rather than one round trip after another,
      // and count the task as done in the same round trip (the run cannot finish before its dependents
      // are done, so the order does not matter).
      const [counts] = await Promise.all([this.d.store.slots.runTaskFinished(processId, name, status !== 'succeeded', shards), tellDependents()]);
      if (counts.runDone) {
        const final = finalRunStatus(counts.failed);
        const ended = await this.d.store.runs.transitionRun(processId, 'running', final, { end_time: this.d.now().toISOString() });
        if (ended) {
          this.d.logger.info('run finished', { process_id: processId, status: final });
          await this.d.runEnded({ process_id: processId, process_definition_name: ended.process_definition_name, status: final });
        }
      }
    }
  }

  /**
   * Tells dependent `dep` (the `index`th of `slot`'s) that task `slot` completed `status`: the write that
   * completes its dependencies starts it, or blocks it (`blocked`: queued, it completes in turn). A
   * dependent whose only dependency this task is, and not blocked by it, is counted and started in one
   * write; any other case, and that write's condition failing (a replay), takes two.
   */
  private async tellDependent(processId: string, slot: Slot, status: Completed, dep: Dependent, index: number, blocked: (name: string) => void): Promise<void> {
    const blocking = blocksDependent(status, dep.success_required);
    if (!blocking && slot.only_dependency_of?.[index] === '1') {
      const started = await this.d.store.slots.startAfterOnlyDependency(processId, dep.name, slot.name, executionName(processId, dep.name, 0), stableUuid(processId, dep.name, 0, 0));
      if (started) return this.startExecution(started);
    }
    const d = await this.d.store.slots.dependencyCompleted(processId, dep.name, slot.name, blocking);
    if (!d) return;
    const step = nextStep(d);
    if (step === 'block') blocked(d.name);
    else if (step === 'start') await this.startSlot(d);
  }

  /**
   * Starts the execution of a task whose start has just claimed its next attempt (contract.ts
   * `ClaimHint.claimed`), or that was written started ({@link startedAtCreation}).
   */
  async startExecution(started: Slot): Promise<void> {
    await this.d.orchestrator.startTask(executionName(started.process_id, started.name, started.round), {
      process_id: started.process_id,
      task_definition_name: started.name,
      claim: {
        round: started.round,
        attempts: started.attempts - 1,
        claimed: true,
        ...(started.process_definition_name === undefined ? {} : { process_definition_name: started.process_definition_name }),
      },
    });
  }
}
