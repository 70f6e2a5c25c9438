/**
 * Webhook notifications through the HTTP API in local mode: PUT validation (every problem named by its
 * field), the OpenAPI document, the URL and the secret masked in every answer and restored on an unchanged PUT-back (refused
 * for another host or URL), and runs end to end: a failed run POSTs its signed summary to a receiver on
 * loopback, which verifies the signature as a receiver would; a receiver that refuses, and a URL
 * stored before the rule (a private address), are failed deliveries that are counted and change no run.
 */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import type { ProcessDefinition } from '../../lambdas/domain/models';
import { dependsOn, type JsonObject, metricValue, shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';
import { expectedSignature, startWebhookReceiver, WEBHOOK_PATH_TOKEN, type WebhookReceiver, webhook } from '../notify/support';

const SECRET = 'whsec-http-0123456789-SIGN';

const logs: string[] = [];
const { api, define, trigger, finished, current } = sundialPerFile({ log: (line) => logs.push(line) });
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await receiver?.close();
});

const path = (name: string) => `/api/process_definitions/${name}`;

/** A definition whose task `a` fails and whose task `b`, depending on it, is blocked. */
function failing(name: string, notifications: JsonObject[]): JsonObject {
  return {
    process_definition_name: name,
    task_definitions: [shellScript('a', 'echo boom >&2; exit 1'), shellScript('b', 'true', { dependencies: [dependsOn('a')] })],
    notifications,
  };
}

/** A counter of `GET /_internal_/metrics`. */
async function metric(sample: string): Promise<number> {
  const res = await api('GET', '/_internal_/metrics');
  return metricValue(res.text, sample) ?? 0;
}

describe('PUT refuses what a webhook may not be', () => {
  test.each<[string, JsonObject, string, string]>([
    ['another scheme', { url: 'ftp://hooks.example.com/x' }, 'notifications.0.webhook.url', 'must be an http(s) URL'],
    ['plain http to a public host', { url: 'http://hooks.example.com/x' }, 'notifications.0.webhook.url', 'must be https'],
    ['the metadata service', { url: 'https://169.254.169.254/latest/meta-data/' }, 'notifications.0.webhook.url', 'link-local address'],
    ['a private address', { url: 'https://10.20.30.40/hook' }, 'notifications.0.webhook.url', 'private address'],
    ['a unique local IPv6 address', { url: 'https://[fd12::1]/hook' }, 'notifications.0.webhook.url', 'private (unique local) address'],
    ['credentials in the URL', { url: 'https://user:pass@hooks.example.com/x' }, 'notifications.0.webhook.url', 'must not carry credentials'],
    ['no url', { notify_when: 'always' }, 'notifications.0.webhook.url', ''],
    ['an empty secret', { url: 'https://hooks.example.com/x', secret: '' }, 'notifications.0.webhook.secret', 'must not be empty'],
    ['an unknown notify_when', { url: 'https://hooks.example.com/x', notify_when: 'sometimes' }, 'notifications.0.webhook.notify_when', 'must be one of'],
  ])('%s: 400 naming the field, nothing stored', async (_case, hook, field, message) => {
    // Prepare
    const name = `wh-bad-${field.split('.').pop()}-${Math.random().toString(36).slice(2, 8)}`;

    // Act
    const res = await api('PUT', path(name), failing(name, [{ webhook: hook }]));

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors).toEqual([expect.objectContaining({ field, message: expect.stringContaining(message) })]);
    expect((await api('GET', path(name))).status).toBe(404);
  });

  it('names an unknown field with the nearest one the schema knows', async () => {
    // Act
    const res = await api('PUT', path('wh-typo'), failing('wh-typo', [{ webhook: { url: 'https://hooks.example.com/x', secert: SECRET } }]));

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', field: 'notifications.0.webhook.secert' });
    expect(res.json.error.message).toContain('secret');
  });

  it('answers every problem at once', async () => {
    // Act
    const res = await api('PUT', path('wh-two'), failing('wh-two', [webhook('https://hooks.example.com/x'), webhook('https://192.168.1.1/x'), webhook('http://hooks.example.com/x')]));

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.errors.map((e: JsonObject) => e.field)).toEqual(['notifications.1.webhook.url', 'notifications.2.webhook.url']);
  });

  it('accepts a public https URL, and locally a loopback one over http', async () => {
    const res = await api('PUT', path('wh-ok'), failing('wh-ok', [webhook('https://hooks.slack.com/services/T0/B0/x'), webhook('http://localhost:8099/hook'), webhook(receiver.url)]));
    expect(res.status, res.text).toBe(201);
  });
});

describe('the OpenAPI document', () => {
  it('describes the webhook notification in the PUT body: url required, notify_when defaulted, secret optional', async () => {
    // Act
    const doc = (await api('GET', '/api/openapi.json')).json;

    // Assess
    const body = doc.paths['/api/process_definitions/{process_definition_name}'].put.requestBody.content['application/json'].schema;
    const notifications = body.properties.notifications.anyOf.find((s: JsonObject) => s.type === 'array');
    const hook = notifications.items.properties.webhook;
    expect(Object.keys(hook.properties)).toEqual(['url', 'notify_when', 'secret']);
    expect(hook.required).toEqual(['url']);
    expect(hook.properties.notify_when.default).toBe('on_state_change_and_failures');
  });
});

describe('the URL and the secret are masked, and kept on an unchanged PUT-back', () => {
  const name = 'wh-masked';
  const masked = () => `${new URL(receiver.url).origin}/****cdef`;
  const stored = async (): Promise<ProcessDefinition['notifications']> => (await current().services.store.definitions.get(name))?.definition.notifications;

  beforeAll(async () => {
    await define(name, failing(name, [webhook(receiver.url, 'never', SECRET), webhook('https://hooks.example.com/', 'never')]));
  });

  it('masks them in the PUT answer, GET and the list', async () => {
    // Act
    const put = await api('PUT', path(name), failing(name, [webhook(receiver.url, 'never', SECRET), webhook('https://hooks.example.com/', 'never')]));
    const get = await api('GET', path(name));
    const list = await api('GET', '/api/process_definitions');

    // Assess
    for (const answer of [put.json, get.json, list.json.find((d: JsonObject) => d.process_definition_name === name)]) {
      expect(answer.notifications).toEqual([
        { webhook: { url: masked(), notify_when: 'never', secret: '****SIGN' } },
        { webhook: { url: 'https://hooks.example.com/', notify_when: 'never' } }, // nothing past the host to hide
      ]);
    }
    for (const text of [put.text, get.text, list.text]) {
      expect(text).not.toContain(WEBHOOK_PATH_TOKEN);
      expect(text).not.toContain(SECRET);
    }
  });

  it('keeps the stored URL and secret when GET answer is PUT back', async () => {
    // Prepare
    const read = await api('GET', path(name));

    // Act
    const put = await api('PUT', path(name), read.json);

    // Assess
    expect(put.status, put.text).toBe(200);
    expect((await stored())?.[0]?.webhook).toEqual({ url: receiver.url, notify_when: 'never', secret: SECRET });
  });

  it('refuses the masked URL on another host, and the masked secret with another URL; the stored ones stay', async () => {
    // Prepare
    const elsewhere = masked().replace('127.0.0.1', 'attacker.example.com').replace('http:', 'https:');

    // Act
    const moved = await api('PUT', path(name), failing(name, [webhook(elsewhere, 'never', SECRET)]));
    const resigned = await api('PUT', path(name), failing(name, [webhook('https://attacker.example.com/hook', 'never', '****SIGN')]));

    // Assess
    expect(moved.status, moved.text).toBe(400);
    expect(moved.json.error).toMatchObject({ code: 'invalid_field', field: 'notifications.0.webhook.url', message: expect.stringContaining('send the url itself') });
    expect(resigned.status, resigned.text).toBe(400);
    expect(resigned.json.error).toMatchObject({ field: 'notifications.0.webhook.secret', message: expect.stringContaining('a masked secret is kept only when url is unchanged') });
    expect((await stored())?.[0]?.webhook).toEqual({ url: receiver.url, notify_when: 'never', secret: SECRET });
  });
});

describe('a run that ends', () => {
  it('POSTs its signed summary to the webhook, which verifies it, and counts it', async () => {
    // Prepare
    const name = 'wh-e2e';
    await define(name, failing(name, [webhook(receiver.url, undefined, SECRET)]));
    const sent = await metric('sundial_notifications_sent{channel="webhook"}');

    // Act
    const run = await finished((await trigger(name)).process_id);
    const [request] = await until(
      async () => receiver.requests.filter((r) => r.body.includes(run.process_id)),
      (got) => got.length > 0,
    );

    // Assess: the signature, as a receiver checks it
    expect(run.status).toBe('failed');
    const timestamp = String(request?.headers['x-sundial-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
    expect(request?.headers['x-sundial-signature']).toBe(expectedSignature(SECRET, timestamp, request?.body ?? ''));
    // Assess: the summary
    const runUrl = `${current().url}/#/run/${run.process_id}`;
    expect(JSON.parse(request?.body ?? '')).toMatchObject({
      text: `Sundial: ${name} run ${run.process_id} failed ${runUrl}`,
      process_definition_name: name,
      process_id: run.process_id,
      status: 'failed',
      start_time: run.start_time,
      end_time: run.end_time,
      tasks: [
        { task_definition_name: 'a', status: 'failed', attempts: 1 },
        { task_definition_name: 'b', status: 'blocked', attempts: 0 },
      ],
      run_url: runUrl,
      ...(run.trigger === undefined ? {} : { trigger: run.trigger }), // what started it, as the run answers it
    });
    expect(request?.path).toBe(`/hooks/${WEBHOOK_PATH_TOKEN}`);
    await until(() => metric('sundial_notifications_sent{channel="webhook"}'), (n) => n === sent + 1);
  });

  it('counts a refused delivery (a 400, not retried) as failed, and the run is unchanged', async () => {
    // Prepare
    const name = 'wh-refused';
    await define(name, failing(name, [webhook(receiver.url, 'always')]));
    const failed = await metric('sundial_notifications_failed{channel="webhook"}');
    receiver.script(400);

    // Act
    const run = await finished((await trigger(name)).process_id);

    // Assess
    await until(() => metric('sundial_notifications_failed{channel="webhook"}'), (n) => n === failed + 1);
    expect(receiver.requests.filter((r) => r.body.includes(run.process_id))).toHaveLength(1);
    expect((await api('GET', `/api/processes/${run.process_id}`)).json.status).toBe('failed');
  });

  it('checks a URL stored before the rule again when sending: nothing goes to a private address, and the failure is counted', async () => {
    // Prepare: a definition written around the API, with a webhook on a private address
    const name = 'wh-stored-private';
    await define(name, failing(name, []));
    const def = (await current().services.store.definitions.get(name))?.definition as ProcessDefinition;
    await current().services.store.definitions.put(
      { ...def, notifications: [{ webhook: { url: 'https://10.9.8.7/hook', notify_when: 'always' } }] },
      new Date().toISOString(),
    );
    const failed = await metric('sundial_notifications_failed{channel="webhook"}');

    // Act
    await finished((await trigger(name)).process_id);

    // Assess
    await until(() => metric('sundial_notifications_failed{channel="webhook"}'), (n) => n === failed + 1);
    expect(logs.find((l) => l.includes('webhook notification failed') && l.includes('10.9.8.7'))).toContain(
      'refused, nothing sent: url must be on a public host; 10.9.8.7 is a private address',
    );
  });
});
