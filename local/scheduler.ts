/**
 * The `Scheduler` port in-process: one timer per definition, armed from the *translated* schedule
 * (`nextFireTime` of the same `ScheduleSpec` EventBridge gets: croner for cron, arithmetic for rates),
 * firing into `Schedules.tick` — the same path the engine Lambda's `tick` takes.
 *
 * Restarts: `restore` re-arms every definition and fires, at most once, the newest tick missed while
 * the server was down (since the later of the last tick fired, which the schedule state keeps, and the
 * definition's last change). The tick claim makes a tick that did fire before the crash a no-op.
 */
import { tickInput } from '../lambdas/adapters/scheduler';
import { SCHEDULER_MIN_INTERVAL_SECONDS } from '../lambdas/domain/aws-limits';
import { nextFireTime, type ScheduleSpec } from '../lambdas/domain/schedule';
import { runAs } from './function-context';
import type { Scheduler } from '../lambdas/engine/ports';
import type { Schedules } from '../lambdas/engine/schedules';
import type { Store } from '../lambdas/store';

/** setTimeout's longest delay (~24.8 days); longer waits re-arm. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** How often expired tick claims are swept (dynalite has no TTL). */
const SWEEP_EVERY_MS = 3_600_000;

/** What a schedule delivers to the tick state machine: its Target.Input once Scheduler filled it in. */
export interface ScheduledTick {
  process_definition_name: string;
  scheduled_time: string;
}

/**
 * The tick input EventBridge Scheduler delivers for `definitionName` at `time`: the schedule's own Target.Input
 * (lambdas/adapters/scheduler.ts `tickInput`) with `<aws.scheduler.scheduled-time>` replaced as Scheduler does,
 * by the time in whole seconds, `2022-03-22T18:59:43Z`
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html;
 * test/fixtures/aws/scheduler-target-input.json).
 */
export function scheduledTick(definitionName: string, time: Date): ScheduledTick {
  const scheduledTime = time.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return JSON.parse(tickInput(definitionName).replaceAll('<aws.scheduler.scheduled-time>', scheduledTime)) as ScheduledTick;
}

export interface LocalSchedulerOptions {
  /** Delivers a tick (`Schedules.tick`), with the input the tick state machine gets deployed. */
  fire: (tick: ScheduledTick) => Promise<unknown>;
  now?: () => Date;
  log?: (line: string) => void;
  /**
   * The shortest interval accepted. EventBridge Scheduler's (60 s, whole minutes) by default, so that a
   * schedule refused deployed is refused here; tests that need ticks seconds apart lower it.
   * @default SCHEDULER_MIN_INTERVAL_SECONDS
   */
  minIntervalSeconds?: number;
}

export class LocalScheduler implements Scheduler {
  readonly minIntervalSeconds: number;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private sweeper?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: LocalSchedulerOptions) {
    this.now = o.now ?? (() => new Date());
    this.minIntervalSeconds = o.minIntervalSeconds ?? SCHEDULER_MIN_INTERVAL_SECONDS;
    this.log = o.log ?? (() => undefined);
  }

  async put(definitionName: string, spec: ScheduleSpec, enabled: boolean): Promise<void> {
    this.clear(definitionName);
    if (enabled) this.armNext(definitionName, spec, this.now());
  }

  async fireAt(definitionName: string, time: Date): Promise<void> {
    this.clear(definitionName);
    // As deployed (at() counts whole seconds, lambdas/adapters/scheduler.ts): never before `time`.
    const at = new Date(Math.ceil(time.getTime() / 1000) * 1000);
    this.armAt(definitionName, at, () => this.deliver(definitionName, at));
  }

  async remove(definitionName: string): Promise<void> {
    this.clear(definitionName);
  }

  /** Definitions with an armed timer (tests). */
  armed(): string[] {
    return [...this.timers.keys()].sort();
  }

  /**
   * At server start: arms every definition's schedule (`Schedules.sync`), goes on with a backfill whose run
   * the stop ended (`Schedules.resumeBackfill`), fires each recurring schedule's newest missed tick once,
   * and sweeps expired tick claims now and hourly.
   */
  async restore(store: Store, schedules: Schedules): Promise<void> {
    const now = this.now();
    for (const stored of await store.definitions.list()) {
      const name = stored.definition.process_definition_name;
      try {
        await schedules.sync(stored);
        await schedules.resumeBackfill(name);
        await store.schedules.sweepClaims(name, now);
        if (stored.paused || !stored.definition.schedule || stored.definition.schedule.continuous_schedule) continue;
        const state = await store.schedules.get(name);
        const since = new Date(Math.max(Date.parse(stored.updated_at), state.last_tick ? Date.parse(state.last_tick) : 0));
        // The schedule as it stood then: an interval's start has moved on since.
        const spec = schedules.spec(stored.definition, stored.definition, since);
        const missed = spec ? lastFireBetween(spec, since, now) : undefined;
        if (missed) {
          this.log(`info firing the missed tick ${missed.toISOString()} of ${name} once`);
          await this.deliver(name, missed);
        }
      } catch (err) {
        this.log(`warn could not restore the schedule of ${name}: ${(err as Error).message}`);
      }
    }
    this.sweeper = setInterval(() => {
      // DynamoDB TTL expires tick claims deployed: no function does this.
      void runAs('local', async () => {
        for (const stored of await store.definitions.list()) await store.schedules.sweepClaims(stored.definition.process_definition_name, this.now());
      }).catch((err) => this.log(`warn sweeping tick claims failed: ${(err as Error).message}`));
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /** Clears every timer; nothing fires any more. */
  stop(): void {
    this.stopped = true;
    for (const name of [...this.timers.keys()]) this.clear(name);
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private armNext(name: string, spec: ScheduleSpec, after: Date): void {
    const next = nextFireTime(spec, after);
    if (!next) return;
    this.armAt(name, next, async () => {
      this.armNext(name, spec, next);
      await this.deliver(name, next);
    });
  }

  private armAt(name: string, time: Date, run: () => Promise<void>): void {
    if (this.stopped) return;
    const delay = time.getTime() - this.now().getTime();
    const timer =
      delay > MAX_DELAY_MS
        ? setTimeout(() => this.armAt(name, time, run), MAX_DELAY_MS)
        : setTimeout(() => {
            // Node may fire a timer a millisecond before its due time: never start a tick early.
            if (this.now().getTime() < time.getTime()) return this.armAt(name, time, run);
            if (this.timers.get(name) === timer) this.timers.delete(name);
            void run();
          }, Math.max(0, delay));
    // The HTTP server keeps the process alive; a pending tick alone must not.
    timer.unref();
    this.timers.set(name, timer);
  }

  private async deliver(name: string, time: Date): Promise<void> {
    if (this.stopped) return;
    try {
      // Deployed, a tick reaches the engine function's `tick` through the tick state machine (lib/scheduling.ts).
      await runAs('engine', () => this.o.fire(scheduledTick(name, time)));
    } catch (err) {
      this.log(`error tick ${time.toISOString()} of ${name} failed: ${(err as Error).message}`);
    }
  }

  private clear(name: string): void {
    const timer = this.timers.get(name);
    if (timer) clearTimeout(timer);
    this.timers.delete(name);
  }
}

/** The newest fire time of `spec` in (`since`, `until`], or undefined. */
export function lastFireBetween(spec: ScheduleSpec, since: Date, until: Date): Date | undefined {
  let last: Date | undefined;
  let t = nextFireTime(spec, since);
  for (let i = 0; t && t.getTime() <= until.getTime() && i < 1_000_000; i++) {
    last = t;
    t = nextFireTime(spec, t);
  }
  return last;
}
