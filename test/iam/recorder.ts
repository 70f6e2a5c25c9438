/**
 * Records the AWS SDK calls Sundial's code makes, tagged with the Lambda function it runs as
 * (local/function-context.ts): an observer of the local store's DynamoDB client (the one client that really
 * sends), and the calls aws-sdk-client-mock received for the services that have no local engine.
 * ./actions.ts maps each to what IAM authorizes.
 */
import type { Db } from '../../lambdas/store/client';
import { currentFunction } from '../../local/function-context';
import type { RecordedCall } from './actions';

/** Records every command the store's client `db` sends into `calls` until the returned function is called. */
export function recordStoreCalls(db: Db, calls: RecordedCall[]): () => void {
  return db.doc.observe((call, next) => {
    calls.push({ function: currentFunction(), service: 'DynamoDB', command: call.name.replace(/Command$/, ''), input: structuredClone(call.input) });
    return next();
  });
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
