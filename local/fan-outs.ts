/**
 * The local runtime's {@link FanOutDispatcher}: a step over a large run's tasks (lambdas/engine/fan-out.ts)
 * runs in the background of this process as the engine function, once the hand-off has returned, as the
 * deployed asynchronous invocation does. Each step works for as long as an invocation of the engine
 * function would before it hands the rest on, so that both take the same path; a step that fails is tried
 * twice more, as Lambda retries an asynchronous invocation. Nothing is paced: the local executor has none
 * of AWS's quotas.
 */
import type { FanOutEvent } from '../lambdas/engine/fan-out';
import type { FanOutSteps } from '../lambdas/engine/fan-out-steps';
import type { FanOutDispatcher } from '../lambdas/engine/ports';
import { runAs } from './function-context';

/** How long a step works before it hands on: the engine function's 30 s timeout less its margin (lambdas/engine/events.ts). */
export const LOCAL_STEP_MS = 20_000;

/** Tries of a step that fails: the first and Lambda's two retries. */
const TRIES = 3;

export class LocalFanOuts implements FanOutDispatcher {
  private steps: FanOutSteps | undefined;
  private readonly running = new Set<Promise<void>>();
  private paused = false;
  private waiting: FanOutEvent[] = [];

  constructor(private readonly log: (line: string) => void) {}

  /** The engine is built with this dispatcher, then its steps (fan-out-steps.ts `fanOutStepsFor`) handed back: they refer to each other. */
  attach(steps: FanOutSteps): void {
    this.steps = steps;
  }

  async handOff(event: FanOutEvent): Promise<void> {
    if (this.paused) {
      this.waiting.push(event);
      return;
    }
    const step: Promise<void> = this.run(event).finally(() => this.running.delete(step));
    this.running.add(step);
  }

  private async run(event: FanOutEvent): Promise<void> {
    const steps = this.steps;
    if (!steps) throw new Error('local fan-outs used before the engine steps were attached');
    for (let tries = 1; ; tries++) {
      // After the hand-off has returned (and with it the request), as an asynchronous invocation runs.
      await new Promise((resolve) => setTimeout(resolve, tries === 1 ? 0 : 1000));
      const started = Date.now();
      try {
        await runAs('engine', () => steps.step(event, () => this.paused || Date.now() - started > LOCAL_STEP_MS));
        return;
      } catch (err) {
        this.log(`${tries < TRIES ? 'warn' : 'error'} fan-out ${event.op} of run ${event.process_id} failed (try ${tries} of ${TRIES}): ${(err as Error).message}`);
        if (tries >= TRIES) return;
      }
    }
  }

  /**
   * The steps under way stop at their next task and hand on; what they hand on, and any hand-off from
   * now, waits for {@link drain} (the server stops its executions meanwhile: nothing starts then).
   */
  async pause(): Promise<void> {
    this.paused = true;
    await this.settled();
  }

  /** Runs what waited, and whatever it hands on, to the end. */
  async drain(): Promise<void> {
    this.paused = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const event of waiting) await this.handOff(event);
    await this.settled();
  }

  private async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
