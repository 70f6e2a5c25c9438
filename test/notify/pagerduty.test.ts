/**
 * PagerDuty Events API v2 against a real HTTP receiver on loopback: trigger, dedup (one incident per
 * definition), resolve on the next success, retries on 500, no retry on 400, timeouts, and the routing
 * key kept out of logs. Where the key may go: the URL rule (PagerDuty's hosts, an operator's extra
 * hosts, loopback locally only), checked again before each send; no redirect followed; no answer body
 * echoed into logs.
 */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { enqueueUrl, PagerDutyEventsClient } from '../../lambdas/adapters/pagerduty';
import { PAGERDUTY_HOSTS_ENV, pagerDutyUrlsFromEnv } from '../../lambdas/functions/environment';
import {
  DEPLOYED_PAGERDUTY_URLS,
  PAGERDUTY_EVENTS_HOSTS,
  parsePagerDutyHosts,
  pagerDutyUrlProblem,
  withPagerDutyHosts,
} from '../../lambdas/domain/pagerduty-url';
import { DeliveryError } from '../../lambdas/notify/ports';
import {
  LOOPBACK_AND_PAGERDUTY,
  type NotifyFixture,
  type PagerDutyReceiver,
  pagerduty,
  putDefinition,
  seedFinishedRun,
  startHttpServer,
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
    const url = `https://console.example.com/#/run/${run.process_id}`;
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
    const client = new PagerDutyEventsClient({ urls: LOOPBACK_AND_PAGERDUTY, timeoutMs: 100 });
    receiver.hang(1);

    // Act
    const sent = client.send(receiver.url, { routing_key: KEY, event_action: 'resolve', dedup_key: 'sundial/pd-timeout' });

    // Assess
    await expect(sent).rejects.toThrow(DeliveryError);
    await expect(sent).rejects.toMatchObject({ retryable: true, message: expect.stringContaining('no answer within 100 ms') });
  });

  it('fails with a retryable error when nothing listens', async () => {
    // Prepare
    const client = new PagerDutyEventsClient({ urls: LOOPBACK_AND_PAGERDUTY, timeoutMs: 1000 });

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

describe('the api_url rule', () => {
  // PagerDuty's Events API hosts per service region: https://support.pagerduty.com/docs/service-regions
  // ("API Access URLs"); endpoint POST /v2/enqueue: https://developer.pagerduty.com/docs/events-API-v2/overview/
  test.each([
    'https://events.pagerduty.com',
    'https://events.pagerduty.com/',
    'https://events.pagerduty.com/v2/enqueue',
    'https://EVENTS.PagerDuty.com:443',
    'https://events.eu.pagerduty.com',
  ])('deployed, %s is allowed', (url) => {
    // Act / Assess
    expect(pagerDutyUrlProblem(url, DEPLOYED_PAGERDUTY_URLS)).toBeUndefined();
  });

  test.each([
    ['http://events.pagerduty.com', 'must be https'],
    ['https://events.pagerduty.com:8443', 'got "events.pagerduty.com:8443"'],
    ['https://evil.example.com', 'got "evil.example.com"'],
    ['https://events.pagerduty.com.evil.example.com', 'got "events.pagerduty.com.evil.example.com"'],
    ['https://api.pagerduty.com', 'got "api.pagerduty.com"'],
    ['http://127.0.0.1:8080', 'must be https'],
    ['https://127.0.0.1', 'got "127.0.0.1"'],
    ['https://localhost', 'got "localhost"'],
    ['https://[::1]', 'got "[::1]"'],
    ['https://169.254.169.254/latest/meta-data', 'got "169.254.169.254"'],
    ['https://[fe80::1]', 'got "[fe80::1]"'],
    ['https://user:pass@events.pagerduty.com', 'must not carry credentials'],
    ['https://key@events.pagerduty.com', 'must not carry credentials'],
    ['https://events.pagerduty.com/?to=evil', 'must not carry a query'],
    ['not a url', 'is not a URL'],
  ])('deployed, %s is refused (%s)', (url, reason) => {
    // Act / Assess
    expect(pagerDutyUrlProblem(url, DEPLOYED_PAGERDUTY_URLS)).toContain(reason);
  });

  test.each(['http://127.0.0.1:8080', 'http://127.1.2.3', 'https://localhost:9000/pd', 'http://[::1]:8080', 'https://events.pagerduty.com'])(
    'locally, %s is allowed',
    (url) => {
      // Act / Assess
      expect(pagerDutyUrlProblem(url, LOOPBACK_AND_PAGERDUTY)).toBeUndefined();
    },
  );

  test.each([
    ['http://169.254.169.254/latest/meta-data', 'must be https'],
    ['https://169.254.169.254/latest/meta-data', 'got "169.254.169.254"'],
    ['http://[fe80::1]:8080', 'must be https'],
    ['http://10.0.0.1', 'must be https'],
    ['https://192.168.1.1', 'got "192.168.1.1"'],
    ['http://events.pagerduty.com', 'must be https'],
    ['http://user:pass@127.0.0.1:8080', 'must not carry credentials'],
    ['ftp://127.0.0.1', 'must be an http(s) URL'],
  ])('locally, %s is refused (%s)', (url, reason) => {
    // Act / Assess
    expect(pagerDutyUrlProblem(url, LOOPBACK_AND_PAGERDUTY)).toContain(reason);
  });

  it('is extended by the operator hosts (the value lib/notifications.ts puts in SUNDIAL_PAGERDUTY_HOSTS)', () => {
    // Prepare: what `-c sundial:pagerDutyHosts=a.example.com,B.example.com:8443` becomes
    const env = { [PAGERDUTY_HOSTS_ENV]: withPagerDutyHosts('a.example.com,B.example.com:8443').join(',') };

    // Act
    const policy = pagerDutyUrlsFromEnv(false, env);

    // Assess
    expect(policy).toEqual({ hosts: [...PAGERDUTY_EVENTS_HOSTS, 'a.example.com', 'b.example.com:8443'], allowLoopback: false });
    expect(pagerDutyUrlProblem('https://a.example.com/pd', policy)).toBeUndefined();
    expect(pagerDutyUrlProblem('https://b.example.com:8443', policy)).toBeUndefined();
    expect(pagerDutyUrlProblem('https://events.eu.pagerduty.com', policy)).toBeUndefined();
    expect(pagerDutyUrlProblem('https://b.example.com', policy)).toContain('got "b.example.com"');
    expect(pagerDutyUrlProblem('http://a.example.com', policy)).toContain('must be https');
    expect(pagerDutyUrlProblem('https://c.example.com', policy)).toContain('got "c.example.com"');
  });

  it('is PagerDuty hosts alone when the variable is absent', () => {
    // Act / Assess
    expect(pagerDutyUrlsFromEnv(false, {})).toEqual(DEPLOYED_PAGERDUTY_URLS);
  });

  test.each(['https://a.example.com', '*.example.com', 'a.example.com/path', 'localhost', 'a..example.com'])('an operator host %s is refused, quoted', (entry) => {
    // Act / Assess
    expect(() => parsePagerDutyHosts(`ok.example.com,${entry}`)).toThrow(`got ${JSON.stringify(entry)}`);
    expect(() => pagerDutyUrlsFromEnv(false, { [PAGERDUTY_HOSTS_ENV]: entry })).toThrow(PAGERDUTY_HOSTS_ENV);
  });
});

describe('where the key is sent', () => {
  it('is checked again at send time: a stored definition with a refused api_url is never called', async () => {
    // Prepare: stored before the rule existed (putDefinition stores without the API's check).
    const { store } = fixture;
    const name = 'pd-stored-before';
    await putDefinition(store, name, [pagerduty(receiver, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier, logger } = testNotifier(store, { pagerduty: new PagerDutyEventsClient({ urls: DEPLOYED_PAGERDUTY_URLS }) });

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess: refused without a retry, nothing reached the receiver
    expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: expect.stringContaining('api_url refused, nothing sent') });
    expect(eventsOf(name)).toEqual([]);
    expect(logger.lines.join('\n')).not.toContain(KEY);
  });

  it('does not follow a redirect: a 302 is a failed delivery and its target receives nothing', async () => {
    // Prepare
    const target = await startHttpServer();
    const redirecting = await startHttpServer(() => ({ status: 302, headers: { location: `${target.url}/v2/enqueue` } }));
    const { store } = fixture;
    const name = 'pd-redirect';
    await putDefinition(store, name, [pagerduty(redirecting, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier } = testNotifier(store);

    try {
      // Act
      const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

      // Assess: the key went to the configured endpoint once, and no further
      expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: expect.stringContaining('answered 302') });
      expect(redirecting.requests).toHaveLength(1);
      expect(target.requests).toEqual([]);
    } finally {
      await target.close();
      await redirecting.close();
    }
  });

  it('keeps the body of a non-2xx answer out of the report and the logs: the status alone', async () => {
    // Prepare
    const MARKER = 'BODY-MARKER-7f3a9c';
    const failing = await startHttpServer(() => ({ status: 500, headers: { 'content-type': 'application/json' }, body: `{"status":"error","message":"${MARKER}"}` }));
    const { store } = fixture;
    const name = 'pd-body';
    await putDefinition(store, name, [pagerduty(failing, KEY)]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier, logger } = testNotifier(store);

    try {
      // Act
      const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

      // Assess
      expect(failing.requests).toHaveLength(3);
      expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', error: `PagerDuty ${failing.url}/v2/enqueue answered 500` });
      expect(logger.lines.some((l) => l.startsWith('error PagerDuty notification failed'))).toBe(true);
      expect(logger.lines.join('\n')).not.toContain(MARKER);
      const marks = JSON.stringify(await store.runs.getRun(run.process_id));
      expect(marks).not.toContain(MARKER);
    } finally {
      await failing.close();
    }
  });
});
