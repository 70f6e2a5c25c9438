/**
 * The notifier: told that a run ended, it reads the run and its definition's recent history, decides
 * each of the definition's notifications (lambdas/domain/notification-policy.ts), renders the email
 * and delivers — one email per run ending to every recipient that decided to hear of it, one PagerDuty
 * event per PagerDuty notification, one POST per webhook — each with retries and backoff. What could
 * not be delivered is logged and counted (`sundial_notifications_failed{channel}`); nothing here ever
 * changes a run.
 *
 * Deployed it runs in the notify Lambda (lambdas/functions/notify.ts), invoked asynchronously by the
 * functions that end runs; locally in-process (local/notifier.ts).
 */
import type { RunListener } from '../engine/ports';
import type { Notification, Process } from '../domain/models';
import { decideNotification, historyNeeded, type NotificationDecision, type RunOutcome } from '../domain/notification-policy';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { NotificationChannel } from '../store/stats';
import { outcomesBefore, succeededSince } from './history';
import { resolveEvent, triggerEvent } from './pagerduty-event';
import type { EmailSender, PagerDutySender, WebhookSender } from './ports';
import { attemptsWithLogLines, renderRunEmail } from './render';
import { deliverWithRetry, type RetryOptions } from './retry';
import { maskSecret, maskUrl } from '../domain/notification-secrets';
import { webhookSummary } from './webhook-body';
import { signatureHeaders } from './webhook-signature';

/** What the engine says when a run ends (the payload of the notify Lambda). */
export interface RunEnded {
  process_id: string;
  process_definition_name: string;
  status: RunOutcome;
}

export interface NotifierDeps {
  store: Store;
  /**
   * Where emails go and who they are from. Undefined when no sender is configured: email
   * notifications are then logged as not deliverable and counted as failed.
   */
  email?: { sender: EmailSender; from: string };
  pagerduty: PagerDutySender;
  webhook: WebhookSender;
  /**
   * Link to a run's page in the web console, for emails, PagerDuty incidents and webhooks. Absent when no console
   * is deployed: the operator API is SigV4-signed, so a link to it would open nothing in a browser;
   * emails then name the run's API path as text, and incidents carry no link.
   */
  runUrl?: (processId: string) => string;
  logger: Logger;
  /** Retries of each delivery. @default 4 attempts, 1 s base backoff with full jitter */
  retry?: RetryOptions;
  now?: () => Date;
}

/** How one channel of one run ending went. */
export interface DeliveryReport {
  channel: NotificationChannel;
  /** Email recipients, the PagerDuty notification's masked service key and API URL, or the webhook's masked URL. */
  target: string;
  action: 'email' | 'trigger' | 'resolve' | 'post';
  outcome: 'sent' | 'failed' | 'undeliverable' | 'already done' | 'stale';
  attempts: number;
  error?: string;
}

/** What a notification of a run ending came to. */
export interface NotifyReport {
  process_id: string;
  /** Why nothing was looked at (run missing or running again, definition deleted, no notifications). */
  skipped?: string;
  decisions: NotificationDecision[];
  deliveries: DeliveryReport[];
}

export class Notifier implements RunListener {
  private readonly now: () => Date;
  /** The tasks that never ran, by the run read for one notification (its channels share one listing). */
  private readonly notRunOf = new WeakMap<Process, Promise<Array<{ task_definition_name: string; status: string }>>>();

  constructor(private readonly d: NotifierDeps) {
    this.now = d.now ?? (() => new Date());
  }

  /** RunListener: notifies, never throws for a delivery (only when the store cannot be read). */
  async runEnded(run: RunEnded): Promise<void> {
    await this.notify(run);
  }

  /** Decides and delivers the notifications of a run that ended. Safe to repeat for the same ending. */
  async notify(ended: RunEnded): Promise<NotifyReport> {
    const report: NotifyReport = { process_id: ended.process_id, decisions: [], deliveries: [] };
    const skip = (why: string) => {
      this.d.logger.info('no notification', { process_id: ended.process_id, why });
      return { ...report, skipped: why };
    };
    // The run item and the definition first: most definitions notify no one, and a run of 10,000 tasks is
    // not read whole for nothing.
    const record = await this.d.store.runs.getRunRecord(ended.process_id);
    if (!record) return skip('the run does not exist');
    // A retry reopened it: its next ending is the one to tell (and will be told).
    if (record.status === 'running') return skip('the run is running again (retried)');
    const stored = await this.d.store.definitions.get(record.process_definition_name);
    if (!stored) return skip('the process definition was deleted');
    const notifications: Notification[] = stored.definition.notifications ?? [];
    if (notifications.length === 0) return skip('the definition has no notifications');
    // Every attempt, not an API answer's share: the email, incidents and webhooks summarise every task. Of
    // the entries, those the email shows: the last attempt of each failed task, however old it is.
    const run = await this.d.store.runs.getRun(ended.process_id, { everyAttempt: true, entriesOf: attemptsWithLogLines });
    if (!run) return skip('the run does not exist');
    if (run.status === 'running') return skip('the run is running again (retried)');

    const outcome = run.status;
    const history = await outcomesBefore(this.d.store, run, historyNeeded(notifications));
    const decisions = notifications.map((n) => decideNotification(n, { outcome, history }));
    report.decisions = decisions;
    const endTime = run.end_time ?? run.start_time;

    const deliveries: Array<Promise<DeliveryReport>> = [];
    const recipients = [
      ...new Set(notifications.flatMap((n, i) => (n.email && decisions[i]?.channel === 'email' && decisions[i].send ? [n.email.email] : []))),
    ];
    if (recipients.length > 0) {
      const why = decisions.find((x) => x.channel === 'email' && x.send)?.reason;
      deliveries.push(this.deliverEmail(run, endTime, recipients, why));
    }
    notifications.forEach((n, i) => {
      const decision = decisions[i];
      if (n.pagerduty && decision?.channel === 'pagerduty' && decision.action !== 'none') {
        deliveries.push(this.deliverPagerDuty(run, endTime, i, n.pagerduty, decision.action, decision.consecutive_failures));
      }
      if (n.webhook && decision?.channel === 'webhook' && decision.send) deliveries.push(this.deliverWebhook(run, endTime, i, n.webhook));
    });
    this.d.logger.info('notifications decided', {
      process_id: run.process_id,
      process_definition_name: run.process_definition_name,
      outcome,
      previous: history[0] ?? null,
      decisions: decisions.map((x, i) => ({ target: describeTarget(notifications[i]), ...x })),
    });
    report.deliveries = await Promise.all(deliveries);
    return report;
  }

  private async deliverEmail(run: Process, endTime: string, to: string[], why: string | undefined): Promise<DeliveryReport> {
    const channel = 'email';
    const base = { channel, target: to.join(', '), action: 'email' } as const;
    if ((await this.d.store.deliveries.get(run.process_id, endTime, channel)) !== undefined) return { ...base, outcome: 'already done', attempts: 0 };
    if (!this.d.email) {
      const error = 'no email sender is configured (cdk context sundial:notificationSender)';
      this.d.logger.error('email notification not deliverable', { process_id: run.process_id, to, error });
      await this.settle(run.process_id, endTime, channel, 'undeliverable');
      return { ...base, outcome: 'undeliverable', attempts: 0, error };
    }
    const { sender, from } = this.d.email;
    const rendered = renderRunEmail({
      run,
      not_run: await this.notRun(run),
      ...(this.d.runUrl ? { run_url: this.d.runUrl(run.process_id) } : {}),
      why,
    });
    const message = { ...rendered, from, to, id: `${endTime.replace(/[^0-9]/g, '')}-${run.process_id}`, date: endTime };
    const result = await deliverWithRetry(() => sender.send(message), this.d.retry);
    const outcome = result.ok ? 'sent' : 'failed';
    if (result.ok) this.d.logger.info('email sent', { process_id: run.process_id, to, subject: message.subject, attempts: result.attempts });
    else this.d.logger.error('email notification failed', { process_id: run.process_id, to, attempts: result.attempts, error: result.error });
    await this.settle(run.process_id, endTime, channel, outcome);
    return { ...base, outcome, attempts: result.attempts, ...(result.ok ? {} : { error: result.error }) };
  }

  private async deliverPagerDuty(
    run: Process,
    endTime: string,
    index: number,
    pd: NonNullable<Notification['pagerduty']>,
    action: 'trigger' | 'resolve',
    consecutiveFailures: number,
  ): Promise<DeliveryReport> {
    const channel = `pagerduty#${index}`;
    // The routing key is a secret: logs and reports carry its mask only.
    const target = `${maskSecret(pd.service_key)} at ${pd.api_url}`;
    const base = { channel: 'pagerduty', target, action } as const;
    if ((await this.d.store.deliveries.get(run.process_id, endTime, channel)) !== undefined) return { ...base, outcome: 'already done', attempts: 0 };
    const event =
      action === 'trigger'
        ? triggerEvent(pd.service_key, run, consecutiveFailures, this.d.runUrl?.(run.process_id))
        : resolveEvent(pd.service_key, run.process_definition_name);
    let stale = false;
    const result = await deliverWithRetry(async () => {
      // A trigger retried past a later success would reopen the incident that success resolved.
      if (action === 'trigger' && (await succeededSince(this.d.store, run))) {
        stale = true;
        return;
      }
      await this.d.pagerduty.send(pd.api_url, event);
    }, this.d.retry);
    const outcome = stale ? 'stale' : result.ok ? 'sent' : 'failed';
    const extra = { process_id: run.process_id, action, target, dedup_key: event.dedup_key, attempts: result.attempts };
    if (outcome === 'failed') this.d.logger.error('PagerDuty notification failed', { ...extra, error: result.ok ? undefined : result.error });
    else this.d.logger.info(stale ? 'PagerDuty trigger dropped: a later run succeeded' : 'PagerDuty event sent', extra);
    await this.settle(run.process_id, endTime, channel, outcome === 'stale' ? 'sent' : outcome, 'pagerduty', outcome !== 'stale');
    return { ...base, outcome, attempts: result.attempts, ...(result.ok ? {} : { error: result.error }) };
  }

  private async deliverWebhook(run: Process, endTime: string, index: number, hook: NonNullable<Notification['webhook']>): Promise<DeliveryReport> {
    const channel = `webhook#${index}`;
    // The URL may carry a token (Slack's and Teams' do): logs and reports carry its mask only.
    const target = maskUrl(hook.url);
    const base = { channel: 'webhook', target, action: 'post' } as const;
    if ((await this.d.store.deliveries.get(run.process_id, endTime, channel)) !== undefined) return { ...base, outcome: 'already done', attempts: 0 };
    const body = JSON.stringify(webhookSummary(run, await this.notRun(run), this.d.runUrl?.(run.process_id)));
    // Signed at each attempt, with the time it is sent: a receiver's replay window counts from then.
    const result = await deliverWithRetry(
      () => this.d.webhook.send({ url: hook.url, body, headers: signatureHeaders(hook.secret, body, this.now()) }),
      this.d.retry,
    );
    const extra = { process_id: run.process_id, target, signed: hook.secret !== undefined, attempts: result.attempts };
    if (result.ok) this.d.logger.info('webhook notification sent', extra);
    else this.d.logger.error('webhook notification failed', { ...extra, error: result.error });
    await this.settle(run.process_id, endTime, channel, result.ok ? 'sent' : 'failed', 'webhook');
    return { ...base, outcome: result.ok ? 'sent' : 'failed', attempts: result.attempts, ...(result.ok ? {} : { error: result.error }) };
  }

  /**
   * The run's tasks that never got an attempt: blocked by a failed dependency, or not started when it was
   * killed. Of the slots, their names and statuses only: whole, with their definitions, a run of 10,000
   * tasks is ~8 MB for the notify function to take in, for each channel that lists its tasks.
   */
  private notRun(run: Process): Promise<Array<{ task_definition_name: string; status: string }>> {
    // Once per ended run however many channels list its tasks (a listing of 10,000 slots is billed ~2,500
    // read units whatever it projects).
    let listed = this.notRunOf.get(run);
    if (!listed) this.notRunOf.set(run, (listed = this.listNotRun(run)));
    return listed;
  }

  private async listNotRun(run: Process): Promise<Array<{ task_definition_name: string; status: string }>> {
    const slots = await this.d.store.slots.listStates(run.process_id);
    const ran = new Set(run.task.map((t) => t.task_definition_name));
    return slots.filter((s) => !ran.has(s.name)).map((s) => ({ task_definition_name: s.name, status: s.status === 'blocked' ? 'blocked' : 'not run' }));
  }

  /**
   * Marks the channel done for this ending and counts the outcome (once: a replay that finds the mark
   * counts nothing). Counting is best effort: the metric must not turn a delivered notification into
   * a failed invocation that Lambda would run again.
   */
  private async settle(
    processId: string,
    endTime: string,
    channel: string,
    outcome: 'sent' | 'failed' | 'undeliverable',
    counter: NotificationChannel = 'email',
    count = true,
  ): Promise<void> {
    const first = await this.d.store.deliveries.mark(processId, endTime, channel, outcome, this.now().toISOString());
    if (!first || !count) return;
    try {
      await this.d.store.stats.add(outcome === 'sent' ? { [`notifications_sent_${counter}`]: 1 } : { [`notifications_failed_${counter}`]: 1 });
    } catch (err) {
      this.d.logger.warn('could not count a notification', { process_id: processId, channel, error: err as Error });
    }
  }
}

/** A notification as logs may show it: the address, the masked service key, or the masked webhook URL. */
function describeTarget(n: Notification | undefined): string {
  if (n?.email) return `email ${n.email.email}`;
  if (n?.pagerduty) return `pagerduty ${maskSecret(n.pagerduty.service_key)}`;
  if (n?.webhook) return `webhook ${maskUrl(n.webhook.url)}`;
  return 'unknown';
}
