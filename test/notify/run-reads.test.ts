/**
 * What the notifier reads of a run that ended: nothing of its attempts when its definition notifies no
 * one (a run of 10,000 tasks is not read whole for nothing), and, when it notifies, the entries of the
 * attempts its email shows (the last attempt of each failed task), however many newer attempts the run has;
 * of its slots, the names and statuses only (the tasks that never ran), never their definitions, once
 * however many channels list them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTEMPTS_WITH_ENTRIES_MAX } from '../../lambdas/domain/response-size';
import { mapLimited } from '../../lambdas/domain/concurrency';
import { plannedSlots } from '../../lambdas/engine/fan-out';
import { processDefinition } from '../../lambdas/domain/models';
import { shellTask } from '../helpers/factories';
import { isSlotQuery, type StoreCall, storeCallsDuring } from '../helpers/store-calls';
import { email, MemoryEmailSender, type NotifyFixture, putDefinition, seedFinishedRun, startHttpServer, startStore, testNotifier, webhook } from './support';

let fixture: NotifyFixture;

beforeAll(async () => {
  fixture = await startStore();
});

afterAll(async () => {
  await fixture?.close();
});

/** Every command the store sends while `work` runs: its name and input. */
const commandsDuring = async (work: () => Promise<unknown>): Promise<StoreCall[]> => (await storeCallsDuring(fixture.store.db, work)).calls;

describe('the notifier reads of an ended run', () => {
  it('reads only the run item and the definition when the definition notifies no one', async () => {
    // Prepare
    const { store } = fixture;
    await putDefinition(store, 'reads-quiet', []);
    const run = await seedFinishedRun(store, 'reads-quiet', 'failed', 0, { logLines: ['ERROR: disk full'] });
    const { notifier } = testNotifier(store);

    // Act
    let report: Awaited<ReturnType<typeof notifier.notify>> | undefined;
    const commands = await commandsDuring(async () => {
      report = await notifier.notify({ process_id: run.process_id, process_definition_name: 'reads-quiet', status: 'failed' });
    });

    // Assess
    expect(report?.skipped).toBe('the definition has no notifications');
    const queries = commands.filter((c) => c.name === 'QueryCommand');
    expect(queries.filter((c) => JSON.stringify(c.input.ExpressionAttributeValues ?? {}).includes(`RUN#${run.process_id}`))).toEqual([]);
    expect(queries.filter((c) => c.input.IndexName === 'gsi1')).toEqual([]);
  });

  it(`emails the log lines of a failed task whose attempt is older than the newest ${ATTEMPTS_WITH_ENTRIES_MAX}`, async () => {
    // Prepare: a failed run whose failed task ran first, then more succeeded attempts than an API answer embeds entries of
    const { store } = fixture;
    const name = 'reads-old-failure';
    await putDefinition(store, name, [email('oncall@example.com', 'on_failure')]);
    const run = await seedFinishedRun(store, name, 'failed', 0, { logLines: ['starting', 'ERROR: the oldest failure'] });
    const later = Array.from({ length: ATTEMPTS_WITH_ENTRIES_MAX }, (_, i) => i);
    await mapLimited(later, 16, (i) =>
      store.runs.createTask({
        task_id: randomUUID(),
        process_id: run.process_id,
        process_definition_name: name,
        task_definition_name: `later-${i}`,
        start_time: new Date(Date.parse(run.start_time) + 60_000 + i * 10).toISOString(),
        end_time: new Date(Date.parse(run.start_time) + 61_000 + i * 10).toISOString(),
        previous_attempt_count: 0,
        status: 'succeeded',
      }),
    );
    const sender = new MemoryEmailSender();
    const { notifier } = testNotifier(store, {}, sender);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(report.deliveries.map((d) => d.outcome)).toEqual(['sent']);
    expect(sender.sent).toHaveLength(1);
    expect(sender.sent[0]?.text).toContain('ERROR: the oldest failure');
    expect(sender.sent[0]?.text).not.toContain('(no log entries)');
  });

  it('reads of the slots (for the tasks that never ran) their names and statuses only, not their definitions', async () => {
    // Prepare: a failed run with a task that never ran (blocked), told by email and webhook
    const { store } = fixture;
    const name = 'reads-slot-states';
    const receiver = await startHttpServer();
    await putDefinition(store, name, [email('oncall@example.com', 'on_failure'), webhook(`${receiver.url}/hook`, 'on_failure')]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const tasks = processDefinition.parse({ process_definition_name: name, task_definitions: ['first', 'second', 'third'].map((t) => shellTask(t)) }).task_definitions;
    await store.slots.createSlots(plannedSlots(run.process_id, tasks, name).map((slot) => ({ ...slot, status: slot.name === 'third' ? 'blocked' : 'succeeded' })));
    const sender = new MemoryEmailSender();
    const { notifier } = testNotifier(store, {}, sender);

    // Act
    const commands = await commandsDuring(() => notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' }));
    await receiver.close();

    // Assess: both channels list the blocked task, from projected Queries of the slots
    const slotQueries = commands.filter(isSlotQuery);
    expect(slotQueries.length).toBeGreaterThan(0);
    // (the run's read projects its slots to their statuses; the tasks that never ran, to names and statuses)
    for (const query of slotQueries) expect(query.input.ProjectionExpression).toBeDefined();
    expect(new Set(slotQueries.flatMap((query) => Object.values(query.input.ExpressionAttributeNames as Record<string, string>)))).toEqual(new Set(['name', 'status']));
    // … and the names once, for both channels
    expect(slotQueries.filter((query) => Object.values(query.input.ExpressionAttributeNames as Record<string, string>).includes('name'))).toHaveLength(1);
    expect(sender.sent[0]?.text).toMatch(/third +blocked +0/);
    expect(JSON.parse(receiver.requests[0]?.body ?? '{}').tasks).toContainEqual({ task_definition_name: 'third', status: 'blocked', attempts: 0 });
  });
});
