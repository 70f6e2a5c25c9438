/**
 * Whether a task execution still runs (the reaper's question, deployed): `DescribeExecution` of the
 * execution named by the engine. Not RUNNING, or unknown to Step Functions, means gone.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { executionArn, lazySfnClient } from './sfn';

/** `client` defaults to one built at first use from the Lambda's environment (./lazy-client). */
export function sfnExecutionGone(stateMachineArn: string, client?: SFNClient): (name: string) => Promise<boolean> {
  const load = lazySfnClient(client);
  return async (name) => {
    const { sdk, client: sfn } = await load();
    try {
      const out = await sfn.send(new sdk.DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, name) }));
      return out.status !== 'RUNNING';
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return true;
      throw err;
    }
  };
}
