/**
 * The engine Lambda: the `Prepare` and `Record` steps of the task state machine (lib/engine.ts).
 * `{ action: 'prepare', process_id, task_definition_name }` → {@link PreparedAttempt};
 * `{ action: 'record', state }` → {@link Recorded}. Anything else fails the step.
 */
import { AwsLauncher, launcherConfigFromEnv } from '../adapters/batch-ecs';
import { secretKeyLoader } from '../adapters/secrets';
import { SfnOrchestrator, TASK_STATE_MACHINE_ARN_ENV } from '../adapters/sfn';
import { requireEnv } from '../config';
import { createLogger } from '../logger';
import { createDb, Store } from '../store';
import type { PreparedAttempt, PrepareRequest, Recorded, RecordRequest } from './contract';
import { Engine } from './engine';

/** An event whose `action` the engine Lambda does not know. */
export class UnknownActionError extends Error {
  constructor(action: unknown) {
    super(`unknown engine action ${JSON.stringify(action)}: expected "prepare" or "record"`);
    this.name = 'UnknownActionError';
  }
}

/**
 * An engine wired to AWS from the environment: `TABLE_NAME`, `TOKEN_SECRET_ARN`, `SUNDIAL_URL`,
 * `TASK_STATE_MACHINE_ARN` and the launcher's variables (`LAUNCHER_ENV`). A missing one fails with its name.
 */
export function engineFromEnv(): Engine {
  const sundialUrl = requireEnv('SUNDIAL_URL');
  return new Engine({
    store: new Store(createDb(requireEnv('TABLE_NAME'))),
    orchestrator: new SfnOrchestrator(requireEnv(TASK_STATE_MACHINE_ARN_ENV)),
    launcher: new AwsLauncher(launcherConfigFromEnv()),
    tokenKey: secretKeyLoader(requireEnv('TOKEN_SECRET_ARN')),
    callbackUrl: () => sundialUrl,
    now: () => new Date(),
    logger: createLogger(),
  });
}

let engine: Engine | undefined;

export async function handler(event: PrepareRequest | RecordRequest | { action?: unknown }): Promise<PreparedAttempt | Recorded> {
  engine ??= engineFromEnv();
  switch (event.action) {
    case 'prepare': {
      const { process_id, task_definition_name } = event as PrepareRequest;
      return engine.prepare({ process_id, task_definition_name });
    }
    case 'record':
      return engine.record(event as RecordRequest);
    default:
      throw new UnknownActionError(event.action);
  }
}
