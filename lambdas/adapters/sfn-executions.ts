/**
 * The task state machine's running executions (the reaper's question, deployed): ListExecutions with
 * `statusFilter` RUNNING, `maxResults` 1,000 (the most a page holds), one page per call, `nextToken` to the
 * next (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html). The reaper
 * pages and paces (lambdas/engine/reaper.ts); the IAM action is `states:ListExecutions` on the state
 * machine's ARN, not on its executions
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
 *
 * One call per 1,000 running executions replaces a DescribeExecution per running task. DescribeExecution
 * would tell an execution that never existed (`ExecutionDoesNotExist`) from one that ended; the reaper
 * needs neither: not listed as running on two sweeps in a row is lost, whichever it was.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { SFN_LIST_EXECUTIONS_MAX_RESULTS } from '../domain/aws-limits';
import type { ListRunningExecutions } from '../engine/ports';
import { lazySfnClient } from './sfn';

/** `client` defaults to one built at first use from the Lambda's environment (./lazy-client). */
export function sfnRunningExecutions(stateMachineArn: string, client?: SFNClient): ListRunningExecutions {
  const load = lazySfnClient(client);
  return async (nextToken) => {
    const { sdk, client: sfn } = await load();
    const out = await sfn.send(
      new sdk.ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: SFN_LIST_EXECUTIONS_MAX_RESULTS, ...(nextToken ? { nextToken } : {}) }),
    );
    return {
      names: (out.executions ?? []).flatMap((e) => (e.name ? [e.name] : [])),
      ...(out.nextToken ? { nextToken: out.nextToken } : {}),
    };
  };
}
