/**
 * A fan-out dispatcher for an engine built in a test (lambdas/engine/fan-out.ts): each step runs here and
 * now, to its end, within the hand-off, so that a large run's trigger, kill or retry has done its steps
 * when it returns. The engine function's asynchrony and time limit are left out (test/engine/large-runs.test.ts
 * has them).
 */
import type { Engine } from '../../lambdas/engine/engine';
import type { FanOutEvent } from '../../lambdas/engine/fan-out';
import { type FanOutSteps, fanOutStepsFor } from '../../lambdas/engine/fan-out-steps';
import type { FanOutDispatcher } from '../../lambdas/engine/ports';

export class InlineFanOuts implements FanOutDispatcher {
  private steps: FanOutSteps | undefined;

  /** The engine built with this dispatcher: its steps run the hand-offs. */
  attach(engine: Pick<Engine, 'fanOut'>): void {
    this.steps = fanOutStepsFor(engine);
  }

  handOff(event: FanOutEvent): Promise<void> {
    if (!this.steps) throw new Error('inline fan-outs used before an engine was attached');
    return this.steps.step(event);
  }
}
