/**
 * How fast the engine function's fan-outs (./fan-out.ts) call AWS: a token bucket per kind of call,
 * taken before each call, at rates under the quotas a run of 10,000 tasks meets. docs/SCALE.md has each
 * quota with its number, its page and why these rates. The local runtime has none of these quotas and
 * does not pace.
 */

/** A token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** The rates of a fan-out, per kind of call. */
export interface FanOutPace {
  /** Task starts: StartExecution, then the attempt's Batch SubmitJob or ECS RunTask once Prepare has run. */
  starts: Rate;
  /** Attempt stops: StopExecution, then Batch ListJobs + TerminateJob or ECS ListTasks + StopTask. */
  stops: Rate;
  /** DynamoDB write units in the run's partition (one per KB of an item written). */
  writeUnits: Rate;
}

/**
 * Deployed. Starts: Fargate launches 20 tasks a second sustained (Batch on Fargate too) and Batch takes
 * 50 SubmitJob a second per account; half the tighter leaves room for the dependents Record starts and
 * for other runs. Stops: StopExecution refills at 25 a second outside us-east-1, us-west-2 and
 * eu-west-1, and a Batch stop costs two Batch calls. Write units: one partition takes 1,000 a second, and
 * the run's own attempts write into it too.
 */
export const DEPLOYED_FAN_OUT_PACE: FanOutPace = {
  starts: { perSecond: 10, burst: 10 },
  stops: { perSecond: 10, burst: 10 },
  writeUnits: { perSecond: 400, burst: 400 },
};

/** Write units of putting or updating an item like `item`: one per KB (its JSON stands for its size). */
export function writeUnits(item: unknown): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(item)) / 1024));
}

/** Time, for the buckets (tests give a fake one). */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** A token bucket; `take` waits for its tokens, `tryTake` answers whether they were there (and takes them if so). */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: Rate,
    private readonly clock: Clock,
  ) {
    this.tokens = rate.burst;
    this.at = clock.now();
  }

  /** Takes `n` tokens, waiting until they are there. A take reserves before it waits, so takers go in turn. */
  async take(n: number): Promise<void> {
    this.refill();
    this.tokens -= n;
    if (this.tokens < 0) await this.clock.sleep((-this.tokens / this.rate.perSecond) * 1000);
  }

  /** Takes `n` tokens if they are there now (a quota that refuses, as AWS's do, rather than waits). */
  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSecond);
    this.at = now;
  }
}

/** The buckets of one fan-out step; without a pace, takes never wait. */
export class Pacer {
  private readonly buckets: Partial<Record<keyof FanOutPace, TokenBucket>>;

  constructor(pace: FanOutPace | undefined, clock: Clock = realClock) {
    this.buckets = pace
      ? { starts: new TokenBucket(pace.starts, clock), stops: new TokenBucket(pace.stops, clock), writeUnits: new TokenBucket(pace.writeUnits, clock) }
      : {};
  }

  async take(kind: keyof FanOutPace, n = 1): Promise<void> {
    await this.buckets[kind]?.take(n);
  }
}
