/**
 * Step Functions: the deployed {@link Orchestrator}. One Standard execution per task of a run, named by
 * the engine (`executionName`), so that the name itself makes starting idempotent.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { PrepareState } from '../engine/contract';
import type { Orchestrator } from '../engine/ports';
import { lazyClient, type Loaded } from './lazy-client';
import { THROTTLING_RETRY } from './retry';

/** A state machine ARN that is not one (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`). */
export class InvalidStateMachineArnError extends Error {
  constructor(arn: string) {
    super(`invalid state machine ARN: expected arn:<partition>:states:<region>:<account>:stateMachine:<name>, got "${arn}"`);
    this.name = 'InvalidStateMachineArnError';
  }
}

const STATE_MACHINE_ARN = /^arn:([^:]+):states:([^:]+):([^:]+):stateMachine:([^:]+)$/;

/**
 * The ARN of execution `name` of a state machine:
 * `arn:<partition>:states:<region>:<account>:execution:<state machine name>:<name>`.
 */
export function executionArn(stateMachineArn: string, name: string): string {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new InvalidStateMachineArnError(stateMachineArn);
  return `arn:${m[1]}:states:${m[2]}:${m[3]}:execution:${m[4]}:${name}`;
}

const errorName = (err: unknown) => (err as { name?: string } | undefined)?.name;

/** The Step Functions SDK client package with a client, at first use (./lazy-client); `client` if given. */
export function lazySfnClient(client?: SFNClient): () => Promise<Loaded<typeof import('@aws-sdk/client-sfn'), SFNClient>> {
  return lazyClient(() => import('@aws-sdk/client-sfn'), (sdk) => new sdk.SFNClient({ ...THROTTLING_RETRY }), client);
}

/** Starts and stops task executions of one Standard state machine. */
export class SfnOrchestrator implements Orchestrator {
  private readonly load: ReturnType<typeof lazySfnClient>;

  /** `client` defaults to one built at first use from the Lambda's environment (region, credentials). */
  constructor(
    private readonly stateMachineArn: string,
    client?: SFNClient,
  ) {
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) throw new InvalidStateMachineArnError(stateMachineArn);
    this.load = lazySfnClient(client);
  }

  /**
   * Starts execution `name`. `ExecutionAlreadyExists` means a replayed step already started it (Standard
   * workflows keep names unique for 90 days), which is what the engine asked for.
   */
  async startTask(name: string, input: PrepareState): Promise<void> {
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
    } catch (err) {
      if (errorName(err) !== 'ExecutionAlreadyExists') throw err;
    }
  }

  /**
   * Stops execution `name`. Step Functions then stops the Batch job or ECS task its `.sync` step waits
   * on. An execution that never started is fine: there is nothing to stop.
   */
  async stopTask(name: string, cause: string): Promise<void> {
    const { sdk, client } = await this.load();
    try {
      await client.send(
        new sdk.StopExecutionCommand({
          executionArn: executionArn(this.stateMachineArn, name),
          error: 'Sundial.Killed',
          // StopExecution takes at most 32,768 characters of cause.
          cause: cause.slice(0, 32_768),
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ExecutionDoesNotExist') throw err;
    }
  }
}
