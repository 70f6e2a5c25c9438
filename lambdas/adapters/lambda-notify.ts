/**
 * The deployed {@link RunListener} of the functions that end runs (engine: a run's last task; API: a
 * kill): hands the ended run to the notify function with an asynchronous invocation
 * (`InvocationType: Event`). The call returns once Lambda has queued the event, so ending a run never
 * waits for SES or PagerDuty; Lambda retries a failed notify invocation twice, then sends the event to
 * the notify function's dead-letter queue (lib/notifications.ts).
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RunListener } from '../engine/ports';
import type { Logger } from '../logger';
import { lazyClient, type Loaded } from './lazy-client';

type RunEnded = Parameters<RunListener['runEnded']>[0];

/** Hands ended runs to the notify function `functionName` (read when the first run ends). */
export class NotifyDispatcher implements RunListener {
  private readonly lambda: () => Promise<Loaded<typeof import('@aws-sdk/client-lambda'), LambdaClient>>;

  /** `client` defaults to one built when the first run ends (the SDK package is imported then: ./lazy-client). */
  constructor(
    private readonly functionName: () => string,
    client?: LambdaClient,
    private readonly logger?: Logger,
  ) {
    this.lambda = lazyClient(() => import('@aws-sdk/client-lambda'), (sdk) => new sdk.LambdaClient({}), client);
  }

  async runEnded(run: RunEnded): Promise<void> {
    const payload: RunEnded = { process_id: run.process_id, process_definition_name: run.process_definition_name, status: run.status };
    const { sdk, client } = await this.lambda();
    const out = await client.send(
      new sdk.InvokeCommand({ FunctionName: this.functionName(), InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
    );
    // 202 is "queued"; anything else means the event was not taken.
    if (out.StatusCode !== 202) throw new Error(`the notify function did not queue the event (status ${out.StatusCode})`);
    this.logger?.debug('notification handed to the notify function', { process_id: run.process_id });
  }
}
