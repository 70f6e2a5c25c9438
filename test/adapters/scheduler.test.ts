import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgeScheduler } from '../../lambdas/adapters/scheduler';

const CONFIG = {
  groupName: 'Sundial-Scheduling-1A2B3C4D',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  tickStateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Sundial-Ticks',
};
const client = new SchedulerClient({ region: 'eu-west-1' });
const mock = mockClient(client);
const notFound = () => new ResourceNotFoundException({ message: 'no such schedule', Message: 'no such schedule', $metadata: {} });

afterEach(() => {
  mock.reset();
});

const target = (name: string) => ({
  Arn: CONFIG.tickStateMachineArn,
  RoleArn: CONFIG.roleArn,
  Input: `{"process_definition_name":"${name}","scheduled_time":"<aws.scheduler.scheduled-time>"}`,
  RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
});

describe('EventBridgeScheduler', () => {
  it('updates the definition schedule in the group, with its time zone and window', async () => {
    // Prepare
    mock.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    const scheduler = new EventBridgeScheduler(CONFIG, client);
    const start = new Date('2026-12-01T00:00:00Z');
    const end = new Date('2026-12-01T00:40:30Z');

    // Act
    await scheduler.put('nightly', { expression: 'rate(10 minutes)', timeZone: 'UTC', startDate: start, endDate: end }, false);

    // Assess
    expect(mock.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input)).toEqual([
      {
        Name: 'nightly',
        GroupName: CONFIG.groupName,
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: target('nightly'),
        ScheduleExpression: 'rate(10 minutes)',
        ScheduleExpressionTimezone: 'UTC',
        StartDate: start,
        EndDate: end,
        State: 'DISABLED',
        ActionAfterCompletion: 'NONE',
        Description: 'Sundial: runs of process definition nightly',
      },
    ]);
    expect(mock.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it('creates the schedule when there is none yet', async () => {
    // Prepare
    mock.on(UpdateScheduleCommand).rejects(notFound()).on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    const scheduler = new EventBridgeScheduler(CONFIG, client);

    // Act
    await scheduler.put('weekdays', { expression: 'cron(0 12 ? * MON-FRI *)', timeZone: 'Europe/Paris' }, true);

    // Assess
    expect(mock.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({
        Name: 'weekdays',
        ScheduleExpression: 'cron(0 12 ? * MON-FRI *)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        State: 'ENABLED',
        Target: target('weekdays'),
      }),
    ]);
  });

  it('arranges a continuous run as a one-off at() that deletes itself, rounded up to the second', async () => {
    // Prepare: the update races the previous one-off deleting itself
    mock
      .on(UpdateScheduleCommand).rejects(notFound())
      .on(CreateScheduleCommand).rejectsOnce(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} })).resolves({ ScheduleArn: 'arn' });
    const scheduler = new EventBridgeScheduler(CONFIG, client);

    // Act
    await scheduler.fireAt('loop', new Date('2026-12-01T10:00:05.200Z'));

    // Assess
    const created = mock.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input);
    expect(created).toHaveLength(2);
    expect(created[1]).toMatchObject({
      Name: 'loop',
      ScheduleExpression: 'at(2026-12-01T10:00:06)',
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
    });
  });

  it('deletes a schedule, and a missing one is fine', async () => {
    // Prepare
    mock.on(DeleteScheduleCommand).rejects(notFound());
    const scheduler = new EventBridgeScheduler(CONFIG, client);

    // Act
    await scheduler.remove('gone');

    // Assess
    expect(mock.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'gone', GroupName: CONFIG.groupName }]);
  });
});
