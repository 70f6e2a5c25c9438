import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { sfnRunningExecutions } from '../../lambdas/adapters/sfn-executions';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Sundial-Engine-1A2B3C4D-Tasks';
const client = new SFNClient({ region: 'eu-west-1' });
const sfn = mockClient(client);

afterEach(() => {
  sfn.reset();
});

const execution = (name: string) => ({ name, executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`, stateMachineArn: STATE_MACHINE_ARN, status: 'RUNNING' as const, startDate: new Date() });

describe('sfnRunningExecutions', () => {
  it('lists a page of the state machine RUNNING executions, 1,000 at most, and hands on the next token', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({ executions: [execution('run-1-a-r0'), execution('run-1-b-r0')], nextToken: 'page-2' });
    const list = sfnRunningExecutions(STATE_MACHINE_ARN, client);

    // Act
    const page = await list();

    // Assess
    expect(page).toEqual({ names: ['run-1-a-r0', 'run-1-b-r0'], nextToken: 'page-2' });
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([{ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000 }]);
  });

  it('asks for the page a token names, with the other arguments unchanged, and answers no token after the last page', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({ executions: [execution('run-2-c-r1')] });
    const list = sfnRunningExecutions(STATE_MACHINE_ARN, client);

    // Act
    const page = await list('page-2');

    // Assess
    expect(page).toEqual({ names: ['run-2-c-r1'] });
    expect(sfn.commandCalls(ListExecutionsCommand)[0]!.args[0].input).toEqual({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000, nextToken: 'page-2' });
  });

  it('passes errors on (the reaper then judges no execution gone this sweep)', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).rejects(Object.assign(new Error('User is not authorized to perform: states:ListExecutions'), { name: 'AccessDeniedException' }));

    // Act
    const page = sfnRunningExecutions(STATE_MACHINE_ARN, client)();

    // Assess
    await expect(page).rejects.toThrow(/not authorized/);
  });
});
