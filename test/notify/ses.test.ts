/**
 * Email through SES, asserted on the exact SendEmail request (aws-sdk-client-mock): one message per run
 * ending to every recipient that decided to hear of it, retries on throttling, none on a rejection,
 * and what happens without a configured sender.
 */
import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, test } from 'vitest';
import { isRetryableSesError, SesEmailSender } from '../../lambdas/adapters/ses';
import { DeliveryError, type EmailMessage } from '../../lambdas/notify/ports';
import { email, type NotifyFixture, putDefinition, seedFinishedRun, startStore, testNotifier } from './support';

const ses = mockClient(SESClient);

let fixture: NotifyFixture;

beforeAll(async () => {
  fixture = await startStore();
});

afterEach(() => {
  ses.reset();
});

afterAll(async () => {
  ses.restore();
  await fixture?.close();
});

/** An error as the SDK throws it for an SES error answer. */
function sesError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from SES`), { name, $metadata: { httpStatusCode: status } });
}

describe('SesEmailSender', () => {
  it('sends one SendEmail with the sender, every recipient, the subject and both bodies in UTF-8', async () => {
    // Prepare
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    const message: EmailMessage = {
      from: 'sundial@example.com',
      to: ['ops@example.com', 'dev@example.com'],
      subject: '[Sundial] nightly failed - run 1',
      text: 'plain',
      html: '<p>html</p>',
      id: '1',
      date: '2026-03-01T12:00:00.000Z',
    };

    // Act
    await new SesEmailSender(new SESClient({ region: 'eu-west-1' })).send(message);

    // Assess
    expect(ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input)).toEqual([
      {
        Source: 'sundial@example.com',
        Destination: { ToAddresses: ['ops@example.com', 'dev@example.com'] },
        Message: {
          Subject: { Data: '[Sundial] nightly failed - run 1', Charset: 'UTF-8' },
          Body: { Text: { Data: 'plain', Charset: 'UTF-8' }, Html: { Data: '<p>html</p>', Charset: 'UTF-8' } },
        },
      },
    ]);
  });

  test.each([
    ['Throttling', 400, true],
    ['ServiceUnavailable', 503, true],
    ['InternalFailure', 500, true],
    ['MessageRejected', 400, false],
    ['MailFromDomainNotVerifiedException', 400, false],
    ['AccessDenied', 403, false],
    ['InvalidParameterValue', 400, false],
  ])('%s (%i) is retryable: %s', (name, status, retryable) => {
    // Act / Assess
    expect(isRetryableSesError(sesError(name, status))).toBe(retryable);
  });

  it('takes an error without an HTTP answer (network) as retryable', () => {
    // Act / Assess
    expect(isRetryableSesError(Object.assign(new Error('socket hang up'), { name: 'Error' }))).toBe(true);
  });
});

describe('notifier with SES', () => {
  it('sends one message per run ending to the recipients whose notify_when says so', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'ses-recipients';
    await putDefinition(store, name, [
      email('oncall@example.com', 'on_failure'),
      email('boss@example.com', 'on_state_change'),
      email('quiet@example.com', 'never'),
      email('everyone@example.com', 'always'),
    ]);
    await seedFinishedRun(store, name, 'failed', 0);
    const run = await seedFinishedRun(store, name, 'failed', 10, { logLines: ['starting', 'ERROR: disk full'] });
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-2' });
    const { notifier } = testNotifier(store, { email: { sender: new SesEmailSender(new SESClient({ region: 'eu-west-1' })), from: 'sundial@example.com' } });

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(report.deliveries).toEqual([
      { channel: 'email', target: 'oncall@example.com, everyone@example.com', action: 'email', outcome: 'sent', attempts: 1 },
    ]);
    const calls = ses.commandCalls(SendEmailCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toEqual({
      Source: 'sundial@example.com',
      Destination: { ToAddresses: ['oncall@example.com', 'everyone@example.com'] },
      Message: {
        Subject: { Data: `[Sundial] ${name} failed - run ${run.process_id}`, Charset: 'UTF-8' },
        Body: { Text: { Data: expect.any(String), Charset: 'UTF-8' }, Html: { Data: expect.any(String), Charset: 'UTF-8' } },
      },
    });
    const text = input.Message!.Body!.Text!.Data!;
    expect(text).toContain(`Link:    https://console.example.com/#/run/${run.process_id}`);
    expect(text).toMatch(/ {2}first +failed +1 {2}5s/);
    expect(text).toMatch(/ {2}second +succeeded +1 {2}5s/);
    expect(text).toContain('ERROR: disk full');
    expect(input.Message!.Body!.Html!.Data).toContain('ERROR: disk full');
  });

  it('retries a throttled send and delivers', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'ses-throttled';
    await putDefinition(store, name, [email('oncall@example.com', 'always')]);
    const run = await seedFinishedRun(store, name, 'succeeded', 0);
    ses.on(SendEmailCommand).rejectsOnce(sesError('Throttling', 400)).resolves({ MessageId: 'm-3' });
    const { notifier } = testNotifier(store, { email: { sender: new SesEmailSender(new SESClient({ region: 'eu-west-1' })), from: 'sundial@example.com' } });

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'succeeded' });

    // Assess
    expect(ses.commandCalls(SendEmailCommand)).toHaveLength(2);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'sent', attempts: 2 });
  });

  it('does not retry a rejected message, logs it and counts it as failed', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'ses-rejected';
    await putDefinition(store, name, [email('oncall@example.com', 'always')]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    ses.on(SendEmailCommand).rejects(sesError('MessageRejected', 400));
    const { notifier, logger } = testNotifier(store, { email: { sender: new SesEmailSender(new SESClient({ region: 'eu-west-1' })), from: 'sundial@example.com' } });
    const before = await store.stats.read();

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(ses.commandCalls(SendEmailCommand)).toHaveLength(1);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: expect.stringContaining('MessageRejected') });
    expect(logger.lines.some((l) => l.startsWith('error email notification failed'))).toBe(true);
    const after = await store.stats.read();
    expect((after.notifications_failed_email ?? 0) - (before.notifications_failed_email ?? 0)).toBe(1);
  });

  it('without a configured sender, sends nothing: logs the email as not deliverable and counts it, once', async () => {
    // Prepare
    const { store } = fixture;
    const name = 'ses-no-sender';
    await putDefinition(store, name, [email('oncall@example.com', 'always')]);
    const run = await seedFinishedRun(store, name, 'failed', 0);
    const { notifier, logger } = testNotifier(store, { email: undefined });
    const before = await store.stats.read();

    // Act
    const report = await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });
    await notifier.notify({ process_id: run.process_id, process_definition_name: name, status: 'failed' });

    // Assess
    expect(ses.commandCalls(SendEmailCommand)).toHaveLength(0);
    expect(report.deliveries[0]).toMatchObject({ outcome: 'undeliverable', error: expect.stringContaining('sundial:notificationSender') });
    expect(logger.lines.some((l) => l.startsWith('error email notification not deliverable'))).toBe(true);
    const after = await store.stats.read();
    expect((after.notifications_failed_email ?? 0) - (before.notifications_failed_email ?? 0)).toBe(1);
  });

  it('wraps an SES failure in a DeliveryError', async () => {
    // Prepare
    ses.on(SendEmailCommand).rejects(sesError('Throttling', 400));
    const sender = new SesEmailSender(new SESClient({ region: 'eu-west-1' }));

    // Act
    const sent = sender.send({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't', html: 'h', id: 'x', date: '2026-03-01T12:00:00.000Z' });

    // Assess
    await expect(sent).rejects.toThrow(DeliveryError);
    await expect(sent).rejects.toMatchObject({ retryable: true });
  });
});
