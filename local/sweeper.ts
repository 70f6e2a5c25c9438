/**
 * The local sweep, every minute: the reaper (attempts whose process or execution is gone, or that ran
 * past their deadline, end failed with a reason) and retention (runs whose `expires_at` has passed are
 * deleted with everything in their partition — dynalite has no TTL, DynamoDB's does this deployed).
 */
import type { Reaper, ReapedAttempt } from '../lambdas/engine/reaper';
import type { Store } from '../lambdas/store';
import { runAs } from './function-context';

export interface SweepResult {
  reaped: ReapedAttempt[];
  /** Runs deleted because their retention ran out. */
  expiredRuns: number;
}

export interface LocalSweeperOptions {
  store: Store;
  reaper: Reaper;
  now: () => Date;
  log: (line: string) => void;
  /** @default 60_000 */
  intervalMs?: number;
}

export class LocalSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(private readonly o: LocalSweeperOptions) {}

  start(): void {
    this.timer ??= setInterval(() => {
      void this.sweep().catch((err) => this.o.log(`error sweep failed: ${(err as Error).message}`));
    }, this.o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One sweep now (one at a time: a second call waits for the first). */
  sweep(): Promise<SweepResult> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(): Promise<SweepResult> {
    // Deployed, the reaper is the engine function's `reap` (lib/reaper.ts); expiry is DynamoDB TTL's.
    const reaped = await runAs('engine', () => this.o.reaper.reap());
    for (const r of reaped) this.o.log(`warn reaped task ${r.task_definition_name} of run ${r.process_id}: ${r.reason}`);
    const expiredRuns = await runAs('local', () => this.expire());
    if (expiredRuns > 0) this.o.log(`info retention: deleted ${expiredRuns} expired run(s)`);
    return { reaped, expiredRuns };
  }

  private async expire(): Promise<number> {
    let expiredRuns = 0;
    for (;;) {
      const due = await this.o.store.runs.listExpiredRunIds(this.o.now());
      if (due.length === 0) break;
      for (const processId of due) {
        await this.o.store.runs.deleteRun(processId);
        expiredRuns++;
      }
    }
    return expiredRuns;
  }
}
