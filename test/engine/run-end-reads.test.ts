/**
 * A run's end reads its definition's summary, not the definition whole (lambdas/engine/schedules.ts
 * `runEnded`, `drain`): what it needs is the schedule, `paused` and `overlap_action`. A definition larger than
 * one DynamoDB item is stored in parts (lambdas/store/definitions.ts): 4,000 tasks written out in full are
 * ≈ 440 KB gzipped in two parts, and a 10,000-task one megabytes, which every run's end read twice before
 * (strongly consistent: 4 KB a read unit). Its item is read once: the drain of queued runs decides from the
 * listener's read. The store is real (dynalite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDefinition } from '../../lambdas/domain/models';
import { keys } from '../../lambdas/store/keys';
import { fullFieldDefinition } from '../helpers/large-definition';
import { isoAt, seedRun, startTestSundial, type TestSundial } from '../helpers/local';
import { storeCallsDuring } from '../helpers/store-calls';

let t: TestSundial;
beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(() => t?.close());

describe("a run's end", () => {
  it('reads none of the parts of a definition stored in parts', async () => {
    // Prepare: a definition in parts (its cron schedule: a run's end then only drains what is queued), and a run of it that ended
    const name = 'parted';
    await t.services.store.definitions.put(processDefinition.parse(fullFieldDefinition(name, { layers: 4, perLayer: 1000 })), isoAt(0));
    const parts = keys.definitionPartsPartition(name);
    const { calls: read } = await storeCallsDuring(t.services.store.db, async () => t.services.store.definitions.get(name));
    expect(read.some((c) => (c.input.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[':pk'] === parts)).toBe(true); // in parts
    const run = await seedRun(t.services, { process_definition_name: name, status: 'succeeded', end_time: isoAt(1), tasks: [] });

    // Act
    const { calls } = await storeCallsDuring(t.services.store.db, () =>
      t.services.schedules.runEnded({ process_id: run.process_id, process_definition_name: name, status: 'succeeded' }),
    );

    // Assert: the definition's item read once (the listener's drain decides from the listener's read), none of its parts
    expect(calls.filter((c) => c.name === 'GetItemCommand' && (c.input.Key as { pk: string }).pk === keys.definition(name).pk)).toHaveLength(1);
    const partReads = calls.filter((c) => (c.input.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[':pk'] === parts);
    expect(partReads).toEqual([]);
  });
});
