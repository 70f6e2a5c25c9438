import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { executionArn, InvalidStateMachineArnError, SfnOrchestrator } from '../../lambdas/adapters/sfn';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Sundial-Engine-1A2B3C4D-Tasks';
const client = new SFNClient({ region: 'eu-west-1' });
const sfn = mockClient(client);

afterEach(() => {
  sfn.reset();
});

describe('SfnOrchestrator', () => {
  it('starts an execution with the given name and the input as JSON', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const orchestrator = new SfnOrchestrator(STATE_MACHINE_ARN, client);

    // Act
    await orchestrator.startTask('run-1-abc-r0', { process_id: 'run-1', task_definition_name: 'extract' });

    // Assess
    expect(sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input)).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'run-1-abc-r0',
        input: '{"process_id":"run-1","task_definition_name":"extract"}',
      },
    ]);
  });

  it('takes ExecutionAlreadyExists as already started', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const orchestrator = new SfnOrchestrator(STATE_MACHINE_ARN, client);

    // Act
    const started = orchestrator.startTask('run-1-abc-r0', { process_id: 'run-1', task_definition_name: 'extract' });

    // Assess
    await expect(started).resolves.toBeUndefined();
  });

  it('passes on any other error of StartExecution', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const orchestrator = new SfnOrchestrator(STATE_MACHINE_ARN, client);

    // Act
    const started = orchestrator.startTask('run-1-abc-r0', { process_id: 'run-1', task_definition_name: 'extract' });

    // Assess
    await expect(started).rejects.toThrow('Rate exceeded');
  });

  it('stops an execution by the ARN built from the state machine ARN and the name', async () => {
    // Prepare
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    const orchestrator = new SfnOrchestrator(STATE_MACHINE_ARN, client);

    // Act
    await orchestrator.stopTask('run-1-abc-r0', 'killed by operator');

    // Assess
    expect(sfn.commandCalls(StopExecutionCommand).map((call) => call.args[0].input)).toEqual([
      {
        executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:Sundial-Engine-1A2B3C4D-Tasks:run-1-abc-r0',
        error: 'Sundial.Killed',
        cause: 'killed by operator',
      },
    ]);
  });

  it('takes ExecutionDoesNotExist as nothing to stop', async () => {
    // Prepare
    sfn.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    const orchestrator = new SfnOrchestrator(STATE_MACHINE_ARN, client);

    // Act
    const stopped = orchestrator.stopTask('run-1-abc-r0', 'killed by operator');

    // Assess
    await expect(stopped).resolves.toBeUndefined();
  });

  it('refuses an ARN that is not a state machine ARN', () => {
    // Act
    const build = () => new SfnOrchestrator('arn:aws:lambda:eu-west-1:123456789012:function:engine', client);

    // Assess
    expect(build).toThrow(InvalidStateMachineArnError);
    expect(build).toThrow('"arn:aws:lambda:eu-west-1:123456789012:function:engine"');
  });
});

describe('executionArn', () => {
  it.each([
    ['arn:aws:states:us-east-1:111122223333:stateMachine:tasks', 'x', 'arn:aws:states:us-east-1:111122223333:execution:tasks:x'],
    ['arn:aws-cn:states:cn-north-1:111122223333:stateMachine:t-1', 'a-b', 'arn:aws-cn:states:cn-north-1:111122223333:execution:t-1:a-b'],
  ])('%s + %s → %s', (stateMachineArn, name, expected) => {
    // Assess
    expect(executionArn(stateMachineArn, name)).toBe(expected);
  });
});
