/**
 * Handing a finished run to the notify function (asynchronous Lambda invocation, asserted on the exact
 * request) and the notify function's entry point refusing what is not a finished run.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it, test } from 'vitest';
import { NotifyDispatcher } from '../../lambdas/adapters/lambda-notify';
import { handler } from '../../lambdas/functions/notify';
import { notifyListener } from '../../lambdas/functions/wiring';
import { InvalidNotifyEventError } from '../../lambdas/notify/events';

const lambda = mockClient(LambdaClient);

afterEach(() => {
  lambda.reset();
  delete process.env.NOTIFY_FUNCTION_NAME;
});
afterAll(() => {
  lambda.restore();
});

const ended = { process_id: '7c1f4f7e-0000-4000-8000-000000000001', process_definition_name: 'nightly', status: 'failed' as const };

describe('NotifyDispatcher', () => {
  it('invokes the notify function asynchronously with the ended run', async () => {
    // Prepare
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const dispatcher = new NotifyDispatcher(() => 'sundial-notify', new LambdaClient({ region: 'eu-west-1' }));

    // Act
    await dispatcher.runEnded({ ...ended, extra: 'not sent' } as typeof ended);

    // Assess
    const calls = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([{ FunctionName: 'sundial-notify', InvocationType: 'Event', Payload: expect.any(Uint8Array) }]);
    expect(JSON.parse(new TextDecoder().decode(calls[0]?.Payload as Uint8Array))).toEqual(ended);
  });

  it('fails when Lambda did not queue the event (the engine logs it; the run is unaffected)', async () => {
    // Prepare
    lambda.on(InvokeCommand).resolves({ StatusCode: 500 });
    const dispatcher = new NotifyDispatcher(() => 'sundial-notify', new LambdaClient({ region: 'eu-west-1' }));

    // Act / Assess
    await expect(dispatcher.runEnded(ended)).rejects.toThrow('did not queue the event (status 500)');
  });

  it('reads NOTIFY_FUNCTION_NAME when a run ends, failing with its name when missing', async () => {
    // Prepare
    const listener = notifyListener();

    // Act / Assess
    await expect(listener.runEnded(ended)).rejects.toThrow('missing environment variable NOTIFY_FUNCTION_NAME');
  });
});

describe('notify handler', () => {
  test.each([
    ['nothing', undefined],
    ['no status', { process_id: 'p', process_definition_name: 'n' }],
    ['a running run', { process_id: 'p', process_definition_name: 'n', status: 'running' }],
  ])('refuses %s', async (_case, event) => {
    // Act / Assess
    await expect(handler(event)).rejects.toThrow(InvalidNotifyEventError);
  });
});
