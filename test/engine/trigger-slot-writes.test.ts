/**
 * A trigger writes a run's slots (and its done shards) in BatchWriteItem calls of 25 items, up to 4 at a
 * time (lambdas/store/slots.ts `batchPut`): one after another, a run of 100 tasks waited on 5 round trips in
 * a row before its first task could start. What DynamoDB leaves unprocessed is sent again, so that every
 * slot is written before the run item and its tasks all run. The store is real (dynalite); DynamoDB's
 * `UnprocessedItems` (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html)
 * is made by an observer that sends part of a batch and answers the rest as unprocessed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_REQUEST_TASKS_MAX } from '../../lambdas/engine/fan-out';
import { shellTask, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;
beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(() => t?.close());

type Request = { PutRequest: { Item: Record<string, unknown> } };

describe('the slots of a triggered run', () => {
  it('are written in batches side by side, what DynamoDB leaves unprocessed sent again, and all the tasks run', async () => {
    // Prepare: the largest run whose slots the trigger's request writes itself
    const tasks = Array.from({ length: IN_REQUEST_TASKS_MAX }, (_, i) => shellTask(`t${i}`));
    await t.define('batched', tasks);
    let inFlight = 0;
    let maxInFlight = 0;
    let batches = 0;
    let leftUnprocessed = 0;
    const stop = t.services.store.db.doc.observe(async (call, next) => {
      if (call.name !== 'BatchWriteItemCommand') return next();
      const items = call.input.RequestItems as Record<string, Request[]>;
      const [table, requests] = Object.entries(items)[0]!;
      if (!requests.some((r) => String(r.PutRequest.Item.sk).startsWith('SLOT#'))) return next();
      batches++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        // The first batch: DynamoDB takes all but its last 3 items.
        const kept = batches === 1 ? requests.slice(-3) : [];
        if (kept.length > 0) {
          leftUnprocessed = kept.length;
          call.input.RequestItems = { [table]: requests.slice(0, -3) };
        }
        // Others start while this one is out: a few turns of the event loop.
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
        const out = await next();
        return kept.length > 0 ? { ...out, UnprocessedItems: { [table]: kept } } : out;
      } finally {
        inFlight--;
      }
    });

    // Act
    let run: { process_id: string };
    try {
      run = await t.trigger('batched');
    } finally {
      stop();
    }
    const finished = await t.finished(run.process_id);

    // Assert: 100 slots and the done shards in 5 batches (the first one sent again for what it left), up to 4 out at once
    expect(leftUnprocessed).toBe(3);
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(IN_REQUEST_TASKS_MAX / 25) + 1);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(finished.status).toBe('succeeded');
    const slots = await t.services.store.slots.list(run.process_id);
    expect(slots).toHaveLength(IN_REQUEST_TASKS_MAX);
    expect(slots.every((s) => s.status === 'succeeded')).toBe(true);
  });
});
