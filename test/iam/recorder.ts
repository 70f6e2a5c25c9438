/**
 * Records the AWS SDK calls Sundial's code makes, tagged with the Lambda function it runs as
 * (local/function-context.ts): an SDK middleware on clients that really send (the local store's
 * DynamoDB client), and the calls aws-sdk-client-mock received for the services that have no local
 * engine. ./actions.ts maps each to what IAM authorizes.
 */
import { currentFunction } from '../../local/function-context';
import type { RecordedCall } from './actions';

/** A client with a middleware stack (any AWS SDK v3 client). */
interface SdkClient {
  middlewareStack: {
    add: (middleware: any, options: { step: 'initialize'; name: string }) => void;
    remove: (name: string) => boolean;
  };
}

const NAME = 'sundialIamRecorder';

/** Records every command `client` sends into `calls` until the returned function is called. */
export function recordSdkCalls(client: SdkClient, calls: RecordedCall[]): () => void {
  client.middlewareStack.add(
    (next: (args: any) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: { input: Record<string, any> }) => {
      calls.push({
        function: currentFunction(),
        service: (context.clientName ?? 'Unknown').replace(/Client$/, ''),
        command: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
        input: structuredClone(args.input),
      });
      return next(args);
    },
    { step: 'initialize', name: NAME },
  );
  return () => {
    client.middlewareStack.remove(NAME);
  };
}

/** A command as aws-sdk-client-mock hands it back (`mock.calls()[n].args[0]`). */
interface SentCommand {
  constructor: { name: string };
  input: Record<string, any>;
}

/** The calls of an aws-sdk-client-mock mock of `service` (`SFN`, `Batch`, …), made while running as `fn`. */
export function mockedCalls(service: string, fn: string, sent: readonly { args: unknown[] }[]): RecordedCall[] {
  return sent.map((call) => {
    const command = call.args[0] as SentCommand;
    return { function: fn, service, command: command.constructor.name.replace(/Command$/, ''), input: structuredClone(command.input) };
  });
}
