/** Local mode's notifier: works in the background (ending a run never waits for a delivery), drains on close. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalNotifier } from '../../local/notifier';
import { email, type NotifyFixture, type PagerDutyReceiver, pagerduty, putDefinition, seedFinishedRun, startPagerDutyReceiver, startStore } from '../notify/support';

let fixture: NotifyFixture;
let receiver: PagerDutyReceiver;
let dataDir: string;

beforeAll(async () => {
  fixture = await startStore();
  receiver = await startPagerDutyReceiver();
  dataDir = mkdtempSync(join(tmpdir(), 'sundial-local-notify-'));
});

afterAll(async () => {
  await fixture?.close();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('createLocalNotifier', () => {
  it('returns before delivering, and drain() waits for the outbox file and the PagerDuty event', async () => {
    // Prepare
    const { store } = fixture;
    await putDefinition(store, 'local-bg', [email('ops@example.com'), pagerduty(receiver, 'local-key-0000000000000000000001')]);
    const run = await seedFinishedRun(store, 'local-bg', 'failed', 0);
    const lines: string[] = [];
    const notifier = createLocalNotifier({
      store,
      dataDir,
      log: (l) => lines.push(l),
      publicUrl: () => 'http://127.0.0.1:8080',
      retry: { attempts: 3, sleep: async () => undefined },
    });
    receiver.script(500); // the first PagerDuty attempt fails: the event still arrives, after a retry

    // Act
    await notifier.runEnded({ process_id: run.process_id, process_definition_name: 'local-bg', status: 'failed' });
    const outboxRightAway = existsSync(notifier.outboxDir ?? '') ? readdirSync(notifier.outboxDir ?? '') : [];
    await notifier.drain();

    // Assess
    expect(outboxRightAway).toEqual([]);
    expect(notifier.outboxDir).toBe(join(dataDir, 'outbox'));
    expect(readdirSync(join(dataDir, 'outbox'))).toEqual([expect.stringMatching(new RegExp(`-${run.process_id}\\.eml$`))]);
    expect(receiver.events.map((e) => e.body.event_action)).toEqual(['trigger', 'trigger']);
    expect(lines.some((l) => l.startsWith('info email to ops@example.com'))).toBe(true);
    expect(lines.join('\n')).not.toContain('local-key-0000000000000000000001');
  });
});
