/**
 * PagerDuty settings through the API in local mode: a GET answer masks the service key, and a PUT may
 * send the mask back only for the same `api_url`. Sending it with another `api_url` (a host that would
 * then receive the key with every event) is a 400 naming the service_key; the stored key stays, and
 * the "attacker" host, a second HTTP server, receives nothing when the definition's run fails. An
 * `api_url` outside the local rule (link-local, private, credentials in the URL) is a 400 naming it.
 */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { type Api, shellScript, startTestSundial, type TestSundial } from '../helpers/local';
import { until } from '../helpers/until';
import { type HttpServerStandIn, type PagerDutyReceiver, startHttpServer, startPagerDutyReceiver } from './support';

const KEY = 'putR0UTINGkey000000000000000SAFE';

let t: TestSundial;
let api: Api;
let receiver: PagerDutyReceiver;
let attacker: HttpServerStandIn;

beforeAll(async () => {
  receiver = await startPagerDutyReceiver();
  attacker = await startHttpServer();
  t = await startTestSundial();
  api = t.api;
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await attacker?.close();
});

/** A definition whose one task fails, paging `pagerduty` on the first failure. */
function failing(name: string, pagerduty: Record<string, unknown>) {
  return {
    process_definition_name: name,
    task_definitions: [shellScript('work', 'exit 1')],
    notifications: [{ pagerduty: { num_consecutive_failures: 1, ...pagerduty } }],
  };
}

describe('PUT with a masked service_key', () => {
  it('is refused with another api_url: the stored key stays, and the new host never receives it', async () => {
    // Prepare
    const name = 'pd-exfiltrate';
    const created = await api('PUT', `/api/process_definitions/${name}`, failing(name, { service_key: KEY, api_url: receiver.url }));
    expect(created.status, created.text).toBe(201);
    const read = await api('GET', `/api/process_definitions/${name}`);
    const masked = read.json.notifications[0].pagerduty.service_key as string;
    expect(masked).toBe('****SAFE');

    // Act
    const put = await api('PUT', `/api/process_definitions/${name}`, failing(name, { service_key: masked, api_url: attacker.url }));

    // Assess: 400 naming the key
    expect(put.status, put.text).toBe(400);
    expect(put.json.error).toMatchObject({ code: 'invalid_field', field: 'notifications.0.pagerduty.service_key' });
    expect(put.json.error.message).toContain('a masked key is kept only when api_url is unchanged');
    // Assess: nothing changed
    const stored = await t.services.store.definitions.get(name);
    expect(stored?.definition.notifications?.[0]?.pagerduty).toMatchObject({ service_key: KEY, api_url: receiver.url });
    // Assess: a failed run pages the stored endpoint, and only it
    const run = await api('POST', `/api/process_definitions/${name}/trigger`);
    expect(run.status, run.text).toBe(201);
    await until(async () => receiver.events.some((e) => e.body.dedup_key === `sundial/${name}`), Boolean);
    expect(receiver.events.find((e) => e.body.dedup_key === `sundial/${name}`)?.body.routing_key).toBe(KEY);
    expect(attacker.requests).toEqual([]);
  });

  it('keeps the stored key when api_url is unchanged (GET → PUT round trip)', async () => {
    // Prepare
    const name = 'pd-roundtrip';
    await api('PUT', `/api/process_definitions/${name}`, failing(name, { service_key: KEY, api_url: receiver.url }));
    const read = await api('GET', `/api/process_definitions/${name}`);

    // Act: the GET answer, trailing slash added to the same endpoint
    const body = { ...read.json, notifications: [{ pagerduty: { ...read.json.notifications[0].pagerduty, api_url: `${receiver.url}/` } }] };
    const put = await api('PUT', `/api/process_definitions/${name}`, body);

    // Assess
    expect(put.status, put.text).toBe(200);
    expect((await t.services.store.definitions.get(name))?.definition.notifications?.[0]?.pagerduty?.service_key).toBe(KEY);
  });

  it('takes a new api_url with the key itself', async () => {
    // Prepare
    const name = 'pd-moved';
    await api('PUT', `/api/process_definitions/${name}`, failing(name, { service_key: KEY, api_url: receiver.url }));

    // Act
    const put = await api('PUT', `/api/process_definitions/${name}`, failing(name, { service_key: 'newKEY000000000000000000000000NEW', api_url: attacker.url }));

    // Assess
    expect(put.status, put.text).toBe(200);
    expect((await t.services.store.definitions.get(name))?.definition.notifications?.[0]?.pagerduty).toMatchObject({
      service_key: 'newKEY000000000000000000000000NEW',
      api_url: attacker.url,
    });
  });
});

describe('PUT with an api_url outside the local rule', () => {
  test.each([
    ['link-local (instance metadata)', 'http://169.254.169.254/latest/meta-data', 'must be https'],
    ['link-local over https', 'https://169.254.169.254', 'got "169.254.169.254"'],
    ['a private address', 'https://10.0.0.1', 'got "10.0.0.1"'],
    ['any other host', 'https://pagerduty.example.com', 'got "pagerduty.example.com"'],
    ['credentials in the URL', 'http://user:pass@127.0.0.1:9', 'must not carry credentials'],
  ])('refuses %s with a 400 naming api_url', async (_case, apiUrl, reason) => {
    // Act
    const put = await api('PUT', '/api/process_definitions/pd-refused', failing('pd-refused', { service_key: KEY, api_url: apiUrl }));

    // Assess
    expect(put.status, put.text).toBe(400);
    expect(put.json.error).toMatchObject({ code: 'invalid_field', field: 'notifications.0.pagerduty.api_url' });
    expect(put.json.error.message).toContain(reason);
    expect(await t.services.store.definitions.get('pd-refused')).toBeUndefined();
  });

  it('takes loopback (a local receiver) and PagerDuty itself', async () => {
    // Act
    const local = await api('PUT', '/api/process_definitions/pd-local', failing('pd-local', { service_key: KEY, api_url: receiver.url }));
    const real = await api('PUT', '/api/process_definitions/pd-real', failing('pd-real', { service_key: KEY, api_url: 'https://events.eu.pagerduty.com' }));

    // Assess
    expect([local.status, real.status]).toEqual([201, 201]);
  });
});
