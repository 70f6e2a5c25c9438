/**
 * PagerDuty Events API v2 against a real HTTP receiver on loopback: trigger, dedup (one incident per
 * definition), resolve on the next success, retries on 500, no retry on 400, timeouts, and the routing
 * key kept out of logs.
 */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { enqueueUrl, PagerDutyEventsClient } from '../../lambdas/adapters/pagerduty';
import { DeliveryError } from '../../lambdas/notify/ports';
import {
  type NotifyFixture,
  type PagerDutyReceiver,
  pagerduty,
  putDefinition,
  seedFinishedRun,
  startPagerDutyReceiver,
  startStore,
  testNotifier,
} from './support';

const KEY = 'R0UT1NGKEY0123456789abcdefSECRET';

let receiver: PagerDutyReceiver;
let fixture: NotifyFixture;

beforeAll(async () => {
  receiver = await startPagerDutyReceiver();
  fixture = await startStore();
});

afterAll(async () => {
  await receiver?.close();
  await fixture?.close();
});

/** Events the receiver got for one definition. */
const eventsOf = (name: string) => receiver.events.filter((e) => e.body.dedup_key === `sundial/${name}`);

describe('trigger, dedup, resolve', () => {
  it('triggers on a failure with the full event at {api_url}/v2/enqueue', async () => {
    // Prepare
    const { store } = fixture;
    await putDefinition(store, 'pd-trigger', [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, 'pd-trigger', 'failed', 0);
    const { notifier } = testNotifier(store);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: 'pd-trigger', status: 'failed' });

    // Assess
    expect(report.deliveries).toEqual([
      { channel: 'pagerduty', target: `****CRET at ${receiver.url}`, action: 'trigger', outcome: 'sent', attempts: 1 },
    ]);
    const [event] = eventsOf('pd-trigger');
    expect(event?.method).toBe('POST');
    expect(event?.path).toBe('/v2/enqueue');
    expect(event?.headers['content-type']).toBe('application/json');
    const url = `https://sundial.example.com/api/processes/${run.process_id}`;
    expect(event?.body).toEqual({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'sundial/pd-trigger',
      payload: {
        summary: 'Sundial: pd-trigger failed (failed tasks: first)',
        source: 'sundial',
        severity: 'error',
        timestamp: run.end_time,
        component: 'pd-trigger',
        group: 'sundial',
        class: 'process run failed',
        custom_details: {
          process_id: run.process_id,
          process_definition_name: 'pd-trigger',
          consecutive_failures: 1,
          failed_tasks: ['first'],
          start_time: run.start_time,
          end_time: run.end_time,
        },
      },
      client: 'Sundial',
      client_url: url,
      links: [{ href: url, text: `Run ${run.process_id}` }],
    });
  });

  it('triggers again on each further failure with the same dedup_key, and resolves on the next success', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-sequence';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const { notifier } = testNotifier(store);
    const outcomes = ['failed', 'failed', 'succeeded', 'succeeded'] as const;

    // Act
    for (const [i, status] of outcomes.entries()) {
      const run = await seedFinishedRun(store, name, status, i * 10);
      await notifier.notify({ process_id: run.process_id, process_definition_name: name, status });
    }

    // Assess: one incident (same dedup_key), updated, then resolved once; the second success says nothing.
    expect(eventsOf(name).map((e) => [e.body.event_action, e.body.dedup_key])).toEqual([
      ['trigger', `sundial/${name}`],
      ['trigger', `sundial/${name}`],
      ['resolve', `sundial/${name}`],
    ]);
    expect(eventsOf(name)[1]?.body.payload?.summary).toBe(`Sundial: ${name} failed 2 times in a row (failed tasks: first)`);
    expect(eventsOf(name)[2]?.body).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: `sundial/${name}` });
  });

  it('waits for num_consecutive_failures failed runs in a row before triggering', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-threshold';
    await putDefinition(store, name, [pagerduty(receiver, KEY, 3)]);
    const { notifier } = testNotifier(store);
    const outcomes = ['failed', 'failed', 'succeeded', 'failed', 'failed', 'failed'] as const;
    const actions: string[][] = [];

    // Act
    for (const [i, status] of outcomes.entries()) {
      const run = await seedFinishedRun(store, name, status, i * 10);
      const before = eventsOf(name).length;
      await notifier.notify({ process_id: run.process_id, process_definition_name: name, status });
      actions.push(eventsOf(name).slice(before).map((e) => e.body.event_action));
    }

    // Assess
    expect(actions).toEqual([[], [], ['resolve'], [], [], ['trigger']]);
  });

  it('orders runs by when they ended: a retried old run that now succeeds resolves', async () => {
    // Prepare: run A started first but ended (after a retry) after run B failed.
    const { store } = fixture;
    const name = 'pd-order';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const { notifier } = testNotifier(store);
    await seedFinishedRun(store, name, 'failed', 10, { endAt: 11 });
    const retried = await seedFinishedRun(store, name, 'succeeded', 0, { endAt: 20 });

    // Act
    await notifier.notify({ process_id: retried.process_id, process_definition_name: name, status: 'succeeded' });

    // Assess
    expect(eventsOf(name).map((e) => e.body.event_action)).toEqual(['resolve']);
  });

  it('sends nothing twice when told twice about the same ending', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-replay';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier } = testNotifier(store);

    // Act
    await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });
    const again = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(eventsOf(name)).toHaveLength(1);
    expect(again.deliveries.map((d) => d.outcome)).toEqual(['already done']);
  });

  it('drops a trigger whose run was followed by a success before it could be delivered', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-stale';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const failed = await seedFinishedRun(store, name, 'failed', 0);
    await seedFinishedRun(store, name, 'succeeded', 10);
    const { notifier } = testNotifier(store);

    // Act
    const report = await notifier.notify({ process_id: failed.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(report.deliveries.map((d) => d.outcome)).toEqual(['stale']);
    expect(eventsOf(name)).toEqual([]);
  });
});

describe('delivery failures', () => {
  it('retries while the receiver answers 500, then delivers', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-retry';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier } = testNotifier(store);
    const before = await store.stats.read();
    receiver.script(500, 503);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(eventsOf(name)).toHaveLength(3);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'sent', attempts: 3 });
    const after = await store.stats.read();
    expect((after.notifications_sent_pagerduty ?? 0) - (before.notifications_sent_pagerduty ?? 0)).toBe(1);
  });

  it('gives up after its attempts on 500, logs without the routing key and counts the failure; the run is untouched', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-down';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier, logger } = testNotifier(store);
    const before = await store.stats.read();
    receiver.script(500, 500, 500);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(eventsOf(name)).toHaveLength(3);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 3, error: expect.stringContaining('answered 500') });
    expect(report.deliveries[0]?.error).not.toContain(KEY);
    expect(logger.lines.some((l) => l.startsWith('error PagerDuty notification failed'))).toBe(true);
    expect(logger.lines.join('\n')).not.toContain(KEY);
    const after = await store.stats.read();
    expect((after.notifications_failed_pagerduty ?? 0) - (before.notifications_failed_pagerduty ?? 0)).toBe(1);
    expect((await store.runs.getRunRecord(run.process_id))?.status).toBe('failed');
  });

  it('does not retry a 400 (the event or the key is wrong)', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'pd-invalid';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier } = testNotifier(store);
    receiver.script(400);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(eventsOf(name)).toHaveLength(1);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 1 });
  });
});

describe('PagerDutyEventsClient', () => {
  it('fails a request that gets no answer in time with a retryable error', async () => {
    // Prepare
    const client = new PagerDutyEventsClient({ timeoutMs: 100 });
    receiver.hang(1);

    // Act
    const sent = client.send(receiver.url, { routing_key: KEY, event_action: 'resolve', dedup_key: 'sundial/pd-timeout' });

    // Assess
    await expect(sent).rejects.toThrow(DeliveryError);
    await expect(sent).rejects.toMatchObject({ retryable: true, message: expect.stringContaining('no answer within 100 ms') });
  });

  it('fails with a retryable error when nothing listens', async () => {
    // Prepare
    const client = new PagerDutyEventsClient({ timeoutMs: 1000 });

    // Act
    const sent = client.send('http://127.0.0.1:9', { routing_key: KEY, event_action: 'resolve', dedup_key: 'sundial/x' });

    // Assess
    await expect(sent).rejects.toMatchObject({ name: 'DeliveryError', retryable: true });
  });

  test.each([
    ['https://events.pagerduty.com', 'https://events.pagerduty.com/v2/enqueue'],
    ['https://events.pagerduty.com/', 'https://events.pagerduty.com/v2/enqueue'],
    ['https://events.eu.pagerduty.com', 'https://events.eu.pagerduty.com/v2/enqueue'],
    ['http://127.0.0.1:8099/v2/enqueue', 'http://127.0.0.1:8099/v2/enqueue'],
    ['http://proxy.internal/pagerduty', 'http://proxy.internal/pagerduty/v2/enqueue'],
  ])('enqueue URL of api_url %s is %s', (apiUrl, url) => {
    // Act / Assess
    expect(enqueueUrl(apiUrl)).toBe(url);
  });
});
