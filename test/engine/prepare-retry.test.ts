/**
 * A throttled call during `Prepare` (a fan-out of Prepares in a new account meets DynamoDB's, Batch's or
 * ECS's rate limits) is retried by the state machine (lib/task-state-machine.ts: Retry on the throttling errors, with
 * jitter), and the retried Prepare carries on with the attempt it claimed: the task still runs, with its
 * attempts intact. Local mode, the synthesized state machine; the store throws once, as DynamoDB would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentFunction } from '../../local/function-context';
import { shellTask, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(async () => {
  await t.close();
});

describe('Prepare, throttled', () => {
  it.each([
    // The write of the attempt's record, after the claim (the claim must not be lost).
    ['createTask', 'ProvisionedThroughputExceededException'],
    // The read of the run, beside the check of the claim the task's start made (after the attempt's write).
    ['getRunRecord', 'ThrottlingException'],
  ] as const)('%s throws %s once: the task still succeeds at its first attempt', async (method, errorName) => {
    // Prepare: the store's call throws a throttling error once, as DynamoDB does under load
    const runs = t.services.store.runs as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = runs[method]!;
    let thrown = 0;
    runs[method] = async function (this: unknown, ...args: unknown[]) {
      // Only the engine's (Prepare's) calls: the trigger's answer reads the run too.
      if (thrown === 0 && started && currentFunction() === 'engine') {
        thrown++;
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: errorName });
      }
      return original.apply(this, args);
    };
    let started = false;
    const name = `throttled-${method}`;
    try {
      await t.api('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, task_definitions: [shellTask('t', { max_attempts: 3 })] });
      started = true;
      // Act
      const created = await t.api('POST', `/api/process_definitions/${name}/trigger`);
      const run = await t.finished(created.json.process_id);
      // Assess
      expect(thrown).toBe(1);
      expect(run.status).toBe('succeeded');
      expect(run.task.map((x: any) => [x.previous_attempt_count, x.status])).toEqual([[0, 'succeeded']]);
    } finally {
      runs[method] = original;
    }
  });
});
