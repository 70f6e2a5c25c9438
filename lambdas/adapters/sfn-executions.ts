/**
 * Whether a task execution still runs (the reaper's question, deployed): `DescribeExecution` of the
 * execution named by the engine. Not RUNNING, or unknown to Step Functions, means gone.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { executionArn } from './sfn';

export function sfnExecutionGone(stateMachineArn: string, client: SFNClient = new SFNClient({})): (name: string) => Promise<boolean> {
  return async (name) => {
    try {
      const out = await client.send(new DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, name) }));
      return out.status !== 'RUNNING';
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return true;
      throw err;
    }
  };
}
