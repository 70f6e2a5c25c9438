/**
 * The deployed {@link FanOutDispatcher}: hands a step over a large run's tasks (lambdas/engine/fan-out.ts)
 * to the engine function with an asynchronous invocation (`InvocationType: Event`), from the API function
 * (trigger, kill, retry) or from the engine function itself (a tick's trigger or kill, the next step of a
 * fan-out). The call returns once Lambda has queued the event. Lambda retries a step that fails twice, and
 * keeps a throttled one for up to 6 hours (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html);
 * every step is safe to replay.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { FanOutEvent } from '../engine/fan-out';
import type { FanOutDispatcher } from '../engine/ports';
import { lazyClient, type Loaded } from './lazy-client';

export class EngineFanOutDispatcher implements FanOutDispatcher {
  private readonly lambda: () => Promise<Loaded<typeof import('@aws-sdk/client-lambda'), LambdaClient>>;

  /** `functionName` is read at the first hand-off; `client` defaults to one built then. */
  constructor(
    private readonly functionName: () => string,
    client?: LambdaClient,
  ) {
    this.lambda = lazyClient(() => import('@aws-sdk/client-lambda'), (sdk) => new sdk.LambdaClient({}), client);
  }

  async handOff(event: FanOutEvent): Promise<void> {
    const { sdk, client } = await this.lambda();
    const out = await client.send(
      new sdk.InvokeCommand({ FunctionName: this.functionName(), InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(event)) }),
    );
    // 202 is "queued"; anything else means the event was not taken.
    if (out.StatusCode !== 202) throw new Error(`the engine function did not queue the fan-out step (status ${out.StatusCode})`);
  }
}
