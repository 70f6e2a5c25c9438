/**
 * Webhook notifications, without the HTTP API: the signature (HMAC-SHA256 over `<timestamp>.<body>`),
 * where a webhook may go (public https deployed, loopback too locally; every resolved address checked
 * and the connection pinned to them), the client's answers (2xx, 3xx not followed, retried 408/429/5xx,
 * not retried 4xx, timeouts) and the notifier's decisions, body, retries, marks and counters against
 * a real receiver on loopback; the URL and the secret masked, and put back from their masks. Neither the
 * URL's token, the secret nor an answer's body reach a log.
 */
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { WebhookClient } from '../../lambdas/adapters/webhook';
import { type Notification, type ProcessDefinition, processDefinition as definitionSchema } from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import { decideNotification, historyNeeded } from '../../lambdas/domain/notification-policy';
import { DeliveryError } from '../../lambdas/notify/ports';
import { isMaskedUrl, maskUrl, restoreMaskedSecrets } from '../../lambdas/domain/notification-secrets';
import { webhookText } from '../../lambdas/notify/webhook-body';
import { SIGNATURE_HEADER, signatureHeaders, TIMESTAMP_HEADER, webhookSignature } from '../../lambdas/notify/webhook-signature';
import { addressKind, DEPLOYED_WEBHOOK_URLS, LOCAL_WEBHOOK_URLS, webhookUrlProblem } from '../../lambdas/domain/webhook-url';
import { refusalOf } from '../helpers/assert';
import { processDefinition } from '../helpers/factories';
import {
  expectedSignature,
  type NotifyFixture,
  putDefinition,
  seedFinishedRun,
  startStore,
  startWebhookReceiver,
  testNotifier,
  WEBHOOK_PATH_TOKEN,
  type WebhookReceiver,
  webhook,
} from './support';

const SECRET = 'whsec-0123456789abcdefSIGNING';

let receiver: WebhookReceiver;
let fixture: NotifyFixture;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  fixture = await startStore();
});

afterAll(async () => {
  await receiver?.close();
  await fixture?.close();
});

/** Why `client` refused or failed to send, as the DeliveryError it threw. */
async function failureOf(send: Promise<void>): Promise<DeliveryError> {
  const err = await send.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

const post = (url: string) => ({ url, body: '{"text":"hello"}', headers: {} });

describe('signature', () => {
  it('is sha256=<hex HMAC-SHA256 of "<timestamp>.<body>"> keyed with the secret, with the timestamp in seconds beside it', () => {
    // Prepare
    const body = '{"text":"Sundial: nightly run 1 failed"}';
    const now = new Date('2026-12-03T10:00:00.750Z');

    // Act
    const headers = signatureHeaders(SECRET, body, now);

    // Assess
    expect(headers).toEqual({ [TIMESTAMP_HEADER]: '1796292000', [SIGNATURE_HEADER]: expectedSignature(SECRET, '1796292000', body) });
    expect(headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('changes with the body, the timestamp and the secret, and is absent without a secret', () => {
    const base = webhookSignature(SECRET, 100, '{}');
    expect(webhookSignature(SECRET, 100, '{ }')).not.toBe(base);
    expect(webhookSignature(SECRET, 101, '{}')).not.toBe(base);
    expect(webhookSignature(`${SECRET}x`, 100, '{}')).not.toBe(base);
    expect(signatureHeaders(undefined, '{}', new Date())).toEqual({});
  });
});

describe('where a webhook may go', () => {
  test.each<[string, string | undefined, string | undefined]>([
    // url, deployed problem, local problem
    ['https://hooks.slack.com/services/T0/B0/XYZ', undefined, undefined],
    ['https://example.com:8443/hook?sig=abc', undefined, undefined],
    ['https://172.32.0.1/hook', undefined, undefined],
    ['http://hooks.example.com/hook', 'must be https', 'must be https (http only on loopback)'],
    ['http://127.0.0.1:8099/hook', 'must be https', undefined],
    ['https://127.0.0.1/hook', '127.0.0.1 is a loopback address', undefined],
    ['http://localhost:8099/hook', 'must be https', undefined],
    ['https://LOCALHOST./hook', '"localhost" is loopback', undefined],
    ['https://receiver.localhost/hook', '"receiver.localhost" is loopback', undefined],
    ['https://[::1]/hook', '::1 is a loopback address', undefined],
    ['https://0x7f.1/hook', '127.0.0.1 is a loopback address', undefined],
    ['https://2130706433/hook', '127.0.0.1 is a loopback address', undefined],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address', '169.254.169.254 is a link-local address'],
    ['https://10.1.2.3/hook', '10.1.2.3 is a private address', '10.1.2.3 is a private address'],
    ['https://172.16.0.1/hook', '172.16.0.1 is a private address', '172.16.0.1 is a private address'],
    ['https://172.31.255.255/hook', 'is a private address', 'is a private address'],
    ['https://192.168.1.1/hook', 'is a private address', 'is a private address'],
    ['https://100.64.0.1/hook', 'is a shared (carrier-grade NAT) address', 'is a shared (carrier-grade NAT) address'],
    ['https://0.0.0.0/hook', 'is a "this network" address', 'is a "this network" address'],
    ['https://[fd00::1]/hook', 'is a private (unique local) address', 'is a private (unique local) address'],
    ['https://[fe80::1]/hook', 'is a link-local address', 'is a link-local address'],
    ['https://[::ffff:10.0.0.1]/hook', 'is a private address', 'is a private address'],
    ['https://user:pass@hooks.example.com/hook', 'must not carry credentials', 'must not carry credentials'],
    ['https://hooks.example.com/hook#part', 'must not carry a fragment', 'must not carry a fragment'],
    ['ftp://hooks.example.com/hook', 'must be an http(s) URL', 'must be an http(s) URL'],
    ['not a url', 'is not a URL', 'is not a URL'],
  ])('%s: deployed %s, locally %s', (url, deployed, local) => {
    const check = (problem: string | undefined, expected: string | undefined) =>
      expected === undefined ? expect(problem).toBeUndefined() : expect(problem).toContain(expected);
    check(webhookUrlProblem(url, DEPLOYED_WEBHOOK_URLS), deployed);
    check(webhookUrlProblem(url, LOCAL_WEBHOOK_URLS), local);
  });

  test.each<[string, string | undefined]>([
    ['93.184.216.34', undefined],
    ['2606:4700::1111', undefined],
    ['127.9.9.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['100.127.255.255', 'shared (carrier-grade NAT)'],
    ['100.128.0.1', undefined],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['fc00::1', 'private (unique local)'],
    ['febf::1', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'], // NAT64 of 169.254.169.254
    ['64:ff9b::10.1.2.3', 'private'],
    ['64:ff9b::', '"this network"'],
    ['64:ff9b::5db8:d822', undefined], // NAT64 of 93.184.216.34
    ['64:ff9b:1::a00:1', 'private (local-use NAT64)'],
  ])('the address %s is %s', (ip, kind) => {
    expect(addressKind(ip)).toBe(kind);
  });
});

describe('the client', () => {
  it('POSTs the body as JSON with the given headers, and a 2xx is delivered', async () => {
    // Prepare
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS });
    const before = receiver.requests.length;

    // Act
    await client.send({ url: receiver.url, body: '{"text":"hi"}', headers: { [TIMESTAMP_HEADER]: '1' } });

    // Assess
    const got = receiver.requests.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ method: 'POST', path: `/hooks/${WEBHOOK_PATH_TOKEN}`, body: '{"text":"hi"}' });
    expect(got[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'x-sundial-timestamp': '1' });
  });

  it('connects to the address it checked, not to what a second resolution would answer (DNS rebinding)', async () => {
    // Prepare: a receiver on 127.0.0.2 only; the name resolves there once, and nothing listens on 127.0.0.1 at that port
    const pinnedReceiver = await startWebhookReceiver('127.0.0.2');
    const lookups: string[] = [];
    const resolve = async (host: string): Promise<LookupAddress[]> => {
      lookups.push(host);
      return lookups.length === 1 ? [{ address: '127.0.0.2', family: 4 }] : [{ address: '10.0.0.1', family: 4 }];
    };
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS, resolve, timeoutMs: 2000 });

    try {
      // Act
      await client.send(post(`http://rebind.localhost:${pinnedReceiver.port}/hook`));

      // Assess: one resolution, and the request reached the checked address with the name as Host
      expect(lookups).toEqual(['rebind.localhost']);
      expect(pinnedReceiver.requests).toHaveLength(1);
      expect(pinnedReceiver.requests[0]?.headers.host).toBe(`rebind.localhost:${pinnedReceiver.port}`);
    } finally {
      await pinnedReceiver.close();
    }
  });

  test.each<[string, LookupAddress[]]>([
    ['the metadata service', [{ address: '169.254.169.254', family: 4 }]],
    ['a private address among public ones', [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }]],
    ['loopback (deployed)', [{ address: '127.0.0.1', family: 4 }]],
    ['an IPv4-mapped private address', [{ address: '::ffff:192.168.0.1', family: 6 }]],
  ])('refuses a name that resolves to %s, sends nothing and does not retry', async (_case, addresses) => {
    // Prepare
    const client = new WebhookClient({ urls: DEPLOYED_WEBHOOK_URLS, resolve: async () => addresses });

    // Act
    const err = await failureOf(client.send(post(`https://hooks.example.com/services/${WEBHOOK_PATH_TOKEN}`)));

    // Assess
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^webhook https:\/\/hooks\.example\.com\/\*\*\*\*cdef refused, nothing sent: hooks\.example\.com resolves to .+, a .+ address, not a public one$/);
    expect(err.message).not.toContain(WEBHOOK_PATH_TOKEN);
  });

  it('locally, keeps plain http on loopback: a localhost name that resolves elsewhere is refused', async () => {
    // Prepare
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS, resolve: async () => [{ address: '93.184.216.34', family: 4 }] });

    // Act
    const err = await failureOf(client.send(post('http://receiver.localhost:8099/hook')));

    // Assess
    expect(err).toMatchObject({ retryable: false, message: expect.stringContaining('resolves to 93.184.216.34, not a loopback address (http is for loopback only)') });
  });

  it('checks the URL again before sending (a definition stored before the rule), without resolving it', async () => {
    // Prepare
    const lookups: string[] = [];
    const client = new WebhookClient({ urls: DEPLOYED_WEBHOOK_URLS, resolve: async (h) => (lookups.push(h), []) });

    // Act
    const err = await failureOf(client.send(post(receiver.url)));

    // Assess
    expect(err).toMatchObject({ retryable: false, message: expect.stringContaining('refused, nothing sent: url must be https') });
    expect(lookups).toEqual([]);
  });

  test.each<[string, string, boolean]>([
    ['a name that does not exist', 'ENOTFOUND', false],
    ['a resolver that did not answer', 'EAI_AGAIN', true],
  ])('fails on %s (retried: %s)', async (_case, code, retryable) => {
    // Prepare
    const resolve = async () => {
      throw Object.assign(new Error(`getaddrinfo ${code}`), { code });
    };
    const client = new WebhookClient({ urls: DEPLOYED_WEBHOOK_URLS, resolve });

    // Act
    const err = await failureOf(client.send(post('https://hooks.example.com/x')));

    // Assess
    expect(err).toMatchObject({ retryable, message: `webhook https://hooks.example.com/****: hooks.example.com could not be resolved (${code})` });
  });

  test.each<[number, boolean]>([
    [500, true],
    [503, true],
    [429, true],
    [408, true],
    [400, false],
    [404, false],
    [410, false],
  ])('answered %i: a failed delivery, retried: %s; the answer body is not read', async (status, retryable) => {
    // Prepare
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS });
    receiver.script(status);

    // Act
    const err = await failureOf(client.send({ url: receiver.url, body: '{"secret-ish":"body"}', headers: {} }));

    // Assess
    expect(err).toMatchObject({ retryable, message: `webhook ${maskUrl(receiver.url)} answered ${status}` });
    expect(err.message).not.toContain(WEBHOOK_PATH_TOKEN);
    expect(err.message).not.toContain('secret-ish');
  });

  it('does not follow a redirect: a failed delivery, not retried, and the target receives nothing', async () => {
    // Prepare
    const elsewhere = await startWebhookReceiver();
    const redirecting = await startWebhookReceiver();
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS });
    redirecting.script(307);

    try {
      // Act
      const err = await failureOf(client.send(post(redirecting.url)));

      // Assess
      expect(err).toMatchObject({ retryable: false, message: expect.stringContaining('answered 307 (a redirect: not followed') });
      expect(redirecting.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await elsewhere.close();
      await redirecting.close();
    }
  });

  it('gives up on an endpoint that does not answer within its timeout (retried)', async () => {
    // Prepare
    const client = new WebhookClient({ urls: LOCAL_WEBHOOK_URLS, timeoutMs: 200 });
    receiver.hang(1);

    // Act
    const err = await failureOf(client.send(post(receiver.url)));

    // Assess
    expect(err).toMatchObject({ retryable: true, message: `webhook ${maskUrl(receiver.url)}: no answer within 200 ms` });
  });
});

describe('decisions', () => {
  const hook = (notifyWhen: string) => ({ webhook: { url: 'https://hooks.example.com/x', notify_when: notifyWhen } }) as Notification;

  test.each<[string, 'succeeded' | 'failed', Array<'succeeded' | 'failed'>, boolean]>([
    ['on_state_change_and_failures', 'failed', ['failed'], true],
    ['on_state_change_and_failures', 'succeeded', ['failed'], true],
    ['on_state_change_and_failures', 'succeeded', ['succeeded'], false],
    ['on_state_change', 'failed', ['failed'], false],
    ['on_failure', 'succeeded', [], false],
    ['always', 'succeeded', [], true],
    ['never', 'failed', [], false],
  ])('notify_when %s: %s after %j → send %s (as an email would)', (notifyWhen, outcome, history, send) => {
    expect(decideNotification(hook(notifyWhen), { outcome, history })).toEqual({ channel: 'webhook', send, reason: expect.any(String) });
  });

  it('reads the previous run only when notify_when compares with it', () => {
    expect(historyNeeded([hook('always'), hook('never')])).toBe(0);
    expect(historyNeeded([hook('on_state_change')])).toBe(1);
  });
});

describe('the notifier', () => {
  /** The requests the receiver got about one run. */
  const requestsFor = (processId: string) => receiver.requests.filter((r) => r.body.includes(processId));

  it('POSTs the run summary, signed, once per run ending; a replay sends nothing', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'wh-summary';
    await putDefinition(store, name, [webhook(receiver.url, 'always', SECRET)]);
    const run = await seedFinishedRun(store, name, 'failed', 0, { reason: 'task first failed' });
    const { notifier, logger } = testNotifier(store);
    const before = await store.stats.read();
    const ended = { process_id: run.process_id, process_definition_name: name, status: 'failed' } as const;

    // Act
    const report = await notifier.notify(ended);
    const replay = await notifier.notify(ended);

    // Assess: one POST, its body and its signature
    const runUrl = `https://console.example.com/#/run/${run.process_id}`;
    expect(report.deliveries).toEqual([{ channel: 'webhook', target: maskUrl(receiver.url), action: 'post', outcome: 'sent', attempts: 1 }]);
    expect(replay.deliveries).toEqual([{ channel: 'webhook', target: maskUrl(receiver.url), action: 'post', outcome: 'already done', attempts: 0 }]);
    const got = requestsFor(run.process_id);
    expect(got).toHaveLength(1);
    const [request] = got;
    // What started the run, as the run answers it (runs stored before provenance answer it derived).
    const { trigger } = (await store.runs.getRun(run.process_id)) as { trigger?: unknown };
    expect(JSON.parse(request?.body ?? '')).toEqual({
      text: `Sundial: ${name} run ${run.process_id} failed ${runUrl}`,
      process_definition_name: name,
      process_id: run.process_id,
      status: 'failed',
      reason: 'task first failed',
      start_time: run.start_time,
      end_time: run.end_time,
      tasks: [
        { task_definition_name: 'first', status: 'failed', attempts: 1 },
        { task_definition_name: 'second', status: 'succeeded', attempts: 1 },
      ],
      run_url: runUrl,
      ...(trigger === undefined ? {} : { trigger }),
    });
    const timestamp = String(request?.headers['x-sundial-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
    expect(request?.headers['x-sundial-signature']).toBe(expectedSignature(SECRET, timestamp, request?.body ?? ''));
    const after = await store.stats.read();
    expect((after.notifications_sent_webhook ?? 0) - (before.notifications_sent_webhook ?? 0)).toBe(1);
    expect(logger.lines.some((l) => l.startsWith('info webhook notification sent'))).toBe(true);
    expect(logger.lines.join('\n')).not.toContain(WEBHOOK_PATH_TOKEN);
    expect(logger.lines.join('\n')).not.toContain(SECRET);
  });

  it('sends no signature headers without a secret, and follows notify_when', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'wh-unsigned';
    await putDefinition(store, name, [webhook(receiver.url)]); // on_state_change_and_failures
    await seedFinishedRun(store, name, 'succeeded', 0);
    const quiet = await seedFinishedRun(store, name, 'succeeded', 2);
    const loud = await seedFinishedRun(store, name, 'failed', 4);
    const { notifier } = testNotifier(store);

    // Act
    const silent = await notifier.notify({ process_id: quiet.process_id, process_definition_name: name, status: 'succeeded' });
    await notifier.notify({ process_id: loud.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(silent.deliveries).toEqual([]);
    expect(silent.decisions).toEqual([{ channel: 'webhook', send: false, reason: 'still succeeded (on_state_change_and_failures)' }]);
    expect(requestsFor(quiet.process_id)).toHaveLength(0);
    const [request] = requestsFor(loud.process_id);
    expect(request?.headers['x-sundial-signature']).toBeUndefined();
    expect(request?.headers['x-sundial-timestamp']).toBeUndefined();
  });

  it('retries a 503 and a 429 with backoff, each attempt signed anew', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'wh-retry';
    await putDefinition(store, name, [webhook(receiver.url, 'always', SECRET)]);
    const run = await seedFinishedRun(store, name, 'succeeded', 0);
    const waits: number[] = [];
    let clock = Date.parse('2026-12-03T10:00:00Z');
    const { notifier } = testNotifier(store, {
      now: () => new Date((clock += 1000)),
      retry: { attempts: 4, baseDelayMs: 1000, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
    });
    receiver.script(503, 429);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'succeeded' });

    // Assess
    expect(report.deliveries[0]).toMatchObject({ outcome: 'sent', attempts: 3 });
    expect(waits).toEqual([500, 1000]);
    const got = requestsFor(run.process_id);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    expect(new Set(got.map((r) => r.headers['x-sundial-timestamp'])).size).toBe(3);
    for (const r of got) expect(r.headers['x-sundial-signature']).toBe(expectedSignature(SECRET, String(r.headers['x-sundial-timestamp']), r.body));
  });

  it('gives up on a 400 at once, logs it without the URL token or the answer body, and counts the failure', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'wh-refused';
    await putDefinition(store, name, [webhook(receiver.url, 'always')]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier, logger } = testNotifier(store);
    const before = await store.stats.read();
    receiver.script(400);

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: `webhook ${maskUrl(receiver.url)} answered 400` });
    expect(requestsFor(run.process_id)).toHaveLength(1);
    expect(logger.lines.some((l) => l.startsWith('error webhook notification failed'))).toBe(true);
    const logs = logger.lines.join('\n');
    expect(logs).not.toContain(WEBHOOK_PATH_TOKEN);
    expect(logs).not.toContain('rejected');
    const after = await store.stats.read();
    expect((after.notifications_failed_webhook ?? 0) - (before.notifications_failed_webhook ?? 0)).toBe(1);
    expect((await store.runs.getRunRecord(run.process_id))?.status).toBe('failed');
  });
});

describe('masking', () => {
  test.each([
    ['https://hooks.slack.com/services/T000/B000/XXXXabcd', 'https://hooks.slack.com/****abcd'],
    ['https://prod.example.com:8443/workflows/1/invoke?api-version=1&sig=zzzz9876', 'https://prod.example.com:8443/****9876'],
    ['https://hooks.example.com/short', 'https://hooks.example.com/****'],
    ['https://hooks.example.com/', 'https://hooks.example.com/'],
    ['https://hooks.example.com', 'https://hooks.example.com/'],
  ])('shows %s as %s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
    expect(isMaskedUrl(masked)).toBe(masked !== 'https://hooks.example.com/');
  });

  const SLACK_A = 'https://hooks.slack.com/services/T000/B000/aaaaaaaa1111';
  const SLACK_B = 'https://hooks.slack.com/services/T000/B000/bbbbbbbb2222';
  const hooks = (...list: Array<[string, string?]>): ProcessDefinition =>
    parseWith(definitionSchema, processDefinition('hooks', { notifications: list.map(([url, secret]) => webhook(url, 'always', secret)) }));
  const urls = (def: ProcessDefinition) => (def.notifications ?? []).map((n) => [n.webhook?.url, n.webhook?.secret]);

  it('puts back URLs and secrets by their masks when the webhooks were reordered', () => {
    // Prepare
    const stored = hooks([SLACK_A, 'secret-of-a-0001'], [SLACK_B, 'secret-of-b-0002']);
    const incoming = hooks(['https://hooks.slack.com/****2222', '****0002'], ['https://hooks.slack.com/****1111', '****0001']);

    // Act
    const restored = restoreMaskedSecrets(incoming, stored);

    // Assess
    expect(urls(restored)).toEqual([
      [SLACK_B, 'secret-of-b-0002'],
      [SLACK_A, 'secret-of-a-0001'],
    ]);
  });

  it('keeps a secret for a URL given in full when it is the stored one', () => {
    const restored = restoreMaskedSecrets(hooks([SLACK_A, '****0001']), hooks([SLACK_A, 'secret-of-a-0001']));
    expect(urls(restored)).toEqual([[SLACK_A, 'secret-of-a-0001']]);
  });

  test.each<[string, ProcessDefinition, ProcessDefinition | undefined, string, string]>([
    ['no stored definition', hooks(['https://hooks.slack.com/****1111']), undefined, 'notifications.0.webhook.url', 'matches no stored webhook url'],
    ['the mask on another host', hooks(['https://attacker.example.com/****1111']), hooks([SLACK_A]), 'notifications.0.webhook.url', 'matches no stored webhook url'],
    ['the mask on another port', hooks(['https://hooks.slack.com:8443/****1111']), hooks([SLACK_A]), 'notifications.0.webhook.url', 'matches no stored webhook url'],
    ['a secret with a new URL', hooks([SLACK_B, '****0001']), hooks([SLACK_A, 'secret-of-a-0001']), 'notifications.0.webhook.secret', 'a masked secret is kept only when url is unchanged'],
    ['a secret that matches none', hooks([SLACK_A, '****9999']), hooks([SLACK_A, 'secret-of-a-0001']), 'notifications.0.webhook.secret', 'matches no stored secret'],
  ])('refuses %s (400 naming the field)', (_case, incoming, stored, field, message) => {
    expect(refusalOf(() => restoreMaskedSecrets(incoming, stored))).toMatchObject({ statusCode: 400, field, message: expect.stringContaining(message) });
  });
});

describe('text', () => {
  it('is one line like an email subject, with the link when there is one', () => {
    const run = { process_definition_name: 'nightly', process_id: 'p-1', status: 'failed' } as const;
    expect(webhookText(run, 'https://console.example.com/#/run/p-1')).toBe('Sundial: nightly run p-1 failed https://console.example.com/#/run/p-1');
    expect(webhookText(run)).toBe('Sundial: nightly run p-1 failed');
  });
});
