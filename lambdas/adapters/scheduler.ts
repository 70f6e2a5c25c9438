/**
 * The `Scheduler` port on EventBridge Scheduler: one schedule per definition, named after it, in the
 * stack's schedule group (lib/scheduling.ts). Its target is the tick state machine, started by the
 * Scheduler role (which may start nothing else) with `{process_definition_name, scheduled_time}`; the
 * machine hands that, with its execution id as the delivery's owner, to the engine Lambda's `tick`.
 */
import type { CreateScheduleCommandInput, SchedulerClient } from '@aws-sdk/client-scheduler';
import { atExpression, type ScheduleSpec } from '../domain/schedule';
import type { Scheduler } from '../engine/ports';
import { lazyClient, type Loaded } from './lazy-client';

/** Deployed: from the function's environment (lambdas/functions/wiring.ts). */
export interface EventBridgeSchedulerConfig {
  /** The schedule group of this Sundial. */
  groupName: string;
  /** The role EventBridge Scheduler assumes to start the tick state machine. */
  roleArn: string;
  /** The tick state machine. */
  tickStateMachineArn: string;
}

/** Definition names (1–64 of `A-Z a-z 0-9 _ - .`) are valid schedule names as they are. */
export const scheduleName = (definitionName: string) => definitionName;

/** The tick state machine's input; Scheduler replaces `<aws.scheduler.scheduled-time>` at each delivery. */
export function tickInput(definitionName: string): string {
  return JSON.stringify({ process_definition_name: definitionName, scheduled_time: '<aws.scheduler.scheduled-time>' });
}

export class EventBridgeScheduler implements Scheduler {
  readonly minIntervalSeconds = 60;
  private readonly load: () => Promise<Loaded<typeof import('@aws-sdk/client-scheduler'), SchedulerClient>>;

  /** `client` defaults to one built at first use from the Lambda's environment (region, credentials; ./lazy-client). */
  constructor(
    private readonly config: EventBridgeSchedulerConfig,
    client?: SchedulerClient,
  ) {
    this.load = lazyClient(() => import('@aws-sdk/client-scheduler'), (sdk) => new sdk.SchedulerClient({}), client);
  }

  put(definitionName: string, spec: ScheduleSpec, enabled: boolean): Promise<void> {
    return this.upsert({
      ...this.base(definitionName),
      ScheduleExpression: spec.expression,
      ScheduleExpressionTimezone: spec.timeZone,
      ...(spec.startDate ? { StartDate: spec.startDate } : {}),
      ...(spec.endDate ? { EndDate: spec.endDate } : {}),
      State: enabled ? 'ENABLED' : 'DISABLED',
      ActionAfterCompletion: 'NONE',
      Description: `Sundial: runs of process definition ${definitionName}`,
    });
  }

  fireAt(definitionName: string, time: Date): Promise<void> {
    // at() counts whole seconds: round up, so that the run never starts before its buffer has passed.
    const at = new Date(Math.ceil(time.getTime() / 1000) * 1000);
    return this.upsert({
      ...this.base(definitionName),
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      ActionAfterCompletion: 'DELETE',
      Description: `Sundial: next run of continuous process definition ${definitionName}`,
    });
  }

  async remove(definitionName: string): Promise<void> {
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.DeleteScheduleCommand({ Name: scheduleName(definitionName), GroupName: this.config.groupName }));
    } catch (err) {
      if (!(err instanceof sdk.ResourceNotFoundException)) throw err;
    }
  }

  private base(definitionName: string): Pick<CreateScheduleCommandInput, 'Name' | 'GroupName' | 'FlexibleTimeWindow' | 'Target'> {
    return {
      Name: scheduleName(definitionName),
      GroupName: this.config.groupName,
      // Fire at the scheduled time: a tick's time is its identity (exactly one run per tick).
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: this.config.tickStateMachineArn,
        RoleArn: this.config.roleArn,
        Input: tickInput(definitionName),
        // A tick delivered an hour late is no longer that tick's run.
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      },
    };
  }

  /**
   * UpdateSchedule replaces a schedule whole; a missing one is created. A one-off schedule deletes
   * itself after it fired, so either call can race that deletion: one more try settles it.
   */
  private async upsert(input: CreateScheduleCommandInput): Promise<void> {
    const { sdk, client } = await this.load();
    for (let attempt = 0; ; attempt++) {
      try {
        await client.send(new sdk.UpdateScheduleCommand(input));
        return;
      } catch (err) {
        if (!(err instanceof sdk.ResourceNotFoundException)) throw err;
      }
      try {
        await client.send(new sdk.CreateScheduleCommand(input));
        return;
      } catch (err) {
        if (!(err instanceof sdk.ConflictException) || attempt >= 1) throw err;
      }
    }
  }
}
