/**
 * Process dependencies at run time (Kala's dependent jobs, Airflow's triggered DAGs): when a run ends,
 * each definition whose `upstream` lists the run's definition for that ending (domain/upstream.ts)
 * starts a run through its own overlap_action (`Schedules.trigger`: `wait` queues it behind a run in
 * progress, `terminate` kills that run), with `trigger.kind` "upstream", the upstream run's id, its
 * logical time, and its parameter values where the names match. A paused downstream definition does not
 * start (Kala: a disabled child does not run), nor is its start kept for later.
 *
 * A `RunListener` told after `Schedules` (which has unregistered the run by then): deployed in every
 * function that ends runs (engine, API), locally in-process. The downstream index (store/downstream.ts)
 * finds the definitions; each is checked against its own stored `upstream`. docs/TRIGGERS.md.
 */
import { startsDownstream } from '../domain/upstream';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { RunItem } from '../store/runs';
import { stableUuid } from '../domain/ids';
import type { RunListener } from './ports';
import type { Schedules } from './schedules';

export interface UpstreamRunsDeps {
  store: Store;
  schedules: Schedules;
  now: () => Date;
  logger: Logger;
}

type EndedRun = { process_id: string; process_definition_name: string; status: 'succeeded' | 'failed' };

export class UpstreamRuns implements RunListener {
  constructor(private readonly d: UpstreamRunsDeps) {}

  /** Starts the run of each downstream definition that waits for this ending; a failure is logged per definition. */
  async runEnded(run: EndedRun): Promise<void> {
    if (this.d.schedules.stopping) return;
    const names = await this.d.store.downstream.of(run.process_definition_name);
    if (names.length === 0) return;
    const ended = await this.d.store.runs.getRunRecord(run.process_id);
    for (const name of names) {
      try {
        await this.start(name, run, ended);
      } catch (err) {
        this.d.logger.error('could not start a downstream run', { process_definition_name: name, upstream_process_id: run.process_id, error: err });
      }
    }
  }

  private async start(name: string, run: EndedRun, ended: RunItem | undefined): Promise<void> {
    const stored = await this.d.store.definitions.get(name);
    const link = stored?.definition.upstream?.find((u) => u.process_definition_name === run.process_definition_name);
    if (!stored || !link || !startsDownstream(link.when, run.status)) return;
    if (stored.paused) {
      this.d.logger.info('downstream definition paused: no run', { process_definition_name: name, upstream_process_id: run.process_id });
      return;
    }
    // One run per ending of the upstream run (a retried run that ends again starts another): a replayed
    // run end finds it.
    const runId = stableUuid(name, 'upstream', run.process_id, ended?.end_time ?? '');
    if (await this.d.store.runs.getRunRecord(runId)) return;
    const started = await this.d.schedules.trigger(
      name,
      {
        trigger: {
          kind: 'upstream',
          by: `upstream:${run.process_definition_name}`,
          // The logical time travels down: a backfilled upstream occurrence's downstream run stands for it too.
          ...(ended?.trigger ? { scheduled_time: ended.trigger.scheduled_time } : {}),
          upstream_process_id: run.process_id,
        },
        // The engine takes those the definition declares and a trigger may give (not static ones).
        passedOnParameters: Object.fromEntries((ended?.parameters ?? []).map((p) => [p.name, p.value])),
        withoutEntries: true,
      },
      false,
      runId,
    );
    this.d.logger.info(started.queued ? 'downstream run queued' : 'downstream run started', {
      process_definition_name: name,
      process_id: started.process_id,
      upstream_process_id: run.process_id,
    });
  }
}
