/**
 * What a schedule delivers: the Target.Input the EventBridge adapter sets (lambdas/adapters/scheduler.ts),
 * filled in by Scheduler (`<aws.scheduler.scheduled-time>`), is what the local scheduler hands to the tick,
 * per test/fixtures/aws/scheduler-target-input.json (written from AWS's context attributes page).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tickInput } from '../../lambdas/adapters/scheduler';
import { LocalScheduler, type ScheduledTick, scheduledTick } from '../../local/scheduler';

const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/aws/scheduler-target-input.json'), 'utf8')) as {
  schedule_target_input: string;
  scheduled_time: string;
  tick_execution_input: ScheduledTick;
};

describe('the tick input of a schedule', () => {
  let scheduler: LocalScheduler | undefined;
  afterEach(() => scheduler?.stop());

  it('is set on the EventBridge schedule as the fixture says (Target.Input)', () => {
    expect(tickInput('nightly-report')).toBe(fixture.schedule_target_input);
  });

  it('is what Scheduler delivers once it fills in the scheduled time', () => {
    // Act
    const tick = scheduledTick('nightly-report', new Date(fixture.scheduled_time));

    // Assess
    expect(tick).toEqual(fixture.tick_execution_input);
  });

  it('is what the local scheduler fires, in whole seconds, for a one-off tick due now', async () => {
    // Prepare
    const fired: ScheduledTick[] = [];
    let delivered!: () => void;
    const done = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    scheduler = new LocalScheduler({
      fire: async (tick) => {
        fired.push(tick);
        delivered();
      },
    });
    const due = new Date(Date.now() - 1500);

    // Act
    await scheduler.fireAt('nightly-report', due);
    await done;

    // Assess: the shape and format of the fixture, the time rounded up to the second as at() does deployed.
    expect(Object.keys(fired[0]!).sort()).toEqual(Object.keys(fixture.tick_execution_input).sort());
    expect(fired[0]!.process_definition_name).toBe('nightly-report');
    expect(fired[0]!.scheduled_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(fired[0]!.scheduled_time)).toBe(Math.ceil(due.getTime() / 1000) * 1000);
  });
});
