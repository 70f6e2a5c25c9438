/**
 * Notifications end to end in local mode: a definition whose task fails twice and then succeeds, run
 * three times through the API. Emails land in `$SUNDIAL_DATA_DIR/outbox` (one .eml per message) and
 * PagerDuty events at the definition's `api_url`, a receiver on loopback.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, metricValue, shellTask, startTestSundial, type TestSundial } from '../helpers/local';
import { until } from '../helpers/until';
import { type PagerDutyReceiver, startPagerDutyReceiver } from './support';

const KEY = 'e2eR0UTINGkey00000000000000000042';

let t: TestSundial;
let api: Api;
let receiver: PagerDutyReceiver;
let work: string;

beforeAll(async () => {
  receiver = await startPagerDutyReceiver();
  t = await startTestSundial();
  api = t.api;
  work = mkdtempSync(join(tmpdir(), 'sundial-flaky-'));
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Decodes a quoted-printable body. */
function fromQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** The headers and the text/plain part of an .eml file. */
function readEml(file: string): { headers: Record<string, string>; text: string; raw: string } {
  const raw = readFileSync(file, 'utf8');
  const [head = ''] = raw.split('\r\n\r\n');
  const headers = Object.fromEntries(head.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 2)]));
  const plain = raw.split('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n')[1] ?? '';
  return { headers, text: fromQuotedPrintable(plain.split('\r\n--sundial-')[0] ?? ''), raw };
}

/** Triggers a run and waits until it is no longer running. */
const runToEnd = async (name: string): Promise<{ process_id: string; status: string }> => t.finished((await t.trigger(name)).process_id);

describe('notifications in local mode', () => {
  it('emails each failure and the recovery to the outbox, and triggers then resolves one PagerDuty incident', async () => {
    // Prepare: the task fails on its first two runs and succeeds on the third.
    const counter = join(work, 'count');
    const script = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "run $n"; if [ $n -lt 3 ]; then echo "boom on run $n" >&2; exit 1; fi`;
    const put = await api('PUT', '/api/process_definitions/flaky', {
      process_definition_name: 'flaky',
      task_definitions: [shellTask('work', { executable: { shell_script_command: { script } } })],
      notifications: [
        { email: { name: 'Ops', email: 'ops@example.com' } }, // on_state_change_and_failures by default
        { email: { name: 'Quiet', email: 'quiet@example.com', notify_when: 'never' } },
        { pagerduty: { service_key: KEY, num_consecutive_failures: 2, api_url: receiver.url } },
      ],
    });
    expect(put.status, put.text).toBe(201);
    const outbox = join(t.dataDir, 'outbox');
    const emails = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')).sort() : []);

    // Act: one run at a time, each one's notifications delivered before the next starts.
    const runs: Array<{ process_id: string; status: string }> = [];
    for (let i = 1; i <= 3; i++) {
      runs.push(await runToEnd('flaky'));
      await until(async () => emails().length, (n) => n >= i);
    }
    await until(async () => receiver.events.some((e) => e.body.event_action === 'resolve'), Boolean);

    // Assess: runs
    expect(runs.map((r) => r.status)).toEqual(['failed', 'failed', 'succeeded']);

    // Assess: outbox — one message per run ending, to the recipients that asked, readable as MIME
    const messages = emails().map((f) => readEml(join(outbox, f)));
    expect(messages).toHaveLength(3);
    expect(messages.map((m) => m.headers.subject)).toEqual(runs.map((r) => `[Sundial] flaky ${r.status} - run ${r.process_id}`));
    for (const m of messages) {
      expect(m.headers.to).toBe('ops@example.com');
      expect(m.headers['mime-version']).toBe('1.0');
      expect(m.headers['content-type']).toMatch(/^multipart\/alternative; boundary="sundial-/);
      expect(m.raw).toContain('Content-Type: text/html; charset=utf-8');
    }
    expect(messages[0]?.text).toMatch(/ {2}work +failed +1 {2}\d/);
    expect(messages[0]?.text).toContain('boom on run 1');
    expect(messages[1]?.text).toContain('boom on run 2');
    expect(messages[2]?.text).toMatch(/ {2}work +succeeded +1 {2}\d/);
    // The link opens the run in the local console (served at the same base URL), not the API.
    expect(messages[2]?.text).toContain(`Link:    ${t.url}/#/run/${runs[2]?.process_id}`);
    expect(receiver.events[0]?.body.links).toEqual([{ href: `${t.url}/#/run/${runs[1]?.process_id}`, text: `Run ${runs[1]?.process_id}` }]);

    // Assess: PagerDuty — nothing on the first failure (threshold 2), trigger on the second, resolve on the success
    expect(receiver.events.map((e) => [e.path, e.body.event_action, e.body.dedup_key, e.body.routing_key])).toEqual([
      ['/v2/enqueue', 'trigger', 'sundial/flaky', KEY],
      ['/v2/enqueue', 'resolve', 'sundial/flaky', KEY],
    ]);
    expect(receiver.events[0]?.body.payload?.custom_details).toMatchObject({ process_id: runs[1]?.process_id, consecutive_failures: 2 });

    // Assess: the key is masked on GET, and the counters moved
    const get = await api('GET', '/api/process_definitions/flaky');
    expect(get.json.notifications[2].pagerduty.service_key).toBe('****0042');
    expect(get.text).not.toContain(KEY);
    // A delivery is counted after it was received (notifier.ts `settle`: its mark, then the counter): wait for the last count.
    const metrics = await until(
      () => api('GET', '/_internal_/metrics'),
      (m) => metricValue(m.text, 'sundial_notifications_sent{channel="email"}') === 3 && metricValue(m.text, 'sundial_notifications_sent{channel="pagerduty"}') === 2,
    ).catch(() => api('GET', '/_internal_/metrics'));
    expect(metricValue(metrics.text, 'sundial_notifications_sent{channel="email"}')).toBe(3);
    expect(metricValue(metrics.text, 'sundial_notifications_sent{channel="pagerduty"}')).toBe(2);
    expect(metricValue(metrics.text, 'sundial_notifications_failed{channel="pagerduty"}')).toBe(0);
  });
});
