/**
 * Who hears of a run that ended, without I/O (DESIGN.md "Semantics": notifications).
 *
 * The input is this run's outcome and the outcomes of the finished runs of the same definition that
 * ended before it, newest first: `history[0]` is the *previous finished run*. A killed run is `failed`.
 * Outcomes are compared as the enum values they are (Sundial compared a string with an enum, so every
 * repeated outcome was silent and `never` was noisy).
 */
import type { Notification, NotificationOption } from './models';

/** How a finished run ended; a killed run counts as failed. */
export type RunOutcome = 'succeeded' | 'failed';

/** What the policy looks at. */
export interface RunOutcomes {
  /** This run's outcome. */
  outcome: RunOutcome;
  /**
   * Outcomes of the finished runs of the same definition that ended before this one, newest first
   * (`history[0]` is the previous finished run; empty for the first run). It may be cut to the most
   * recent {@link HISTORY_LIMIT}.
   */
  history: readonly RunOutcome[];
}

/** At most this many earlier runs are read; `num_consecutive_failures` above it counts as this. */
export const HISTORY_LIMIT = 100;

/** Email: send or not, and why (logged with the decision). */
export interface EmailDecision {
  channel: 'email';
  send: boolean;
  reason: string;
}

/** PagerDuty: open (or update) the definition's incident, resolve it, or nothing. */
export interface PagerDutyDecision {
  channel: 'pagerduty';
  action: 'trigger' | 'resolve' | 'none';
  reason: string;
  /** Failed runs in a row, this one included (0 when this run succeeded). */
  consecutive_failures: number;
}

/** Webhook: POST the run's summary or not (the same rule as an email's `notify_when`), and why. */
export interface WebhookDecision {
  channel: 'webhook';
  send: boolean;
  reason: string;
}

export type NotificationDecision = EmailDecision | PagerDutyDecision | WebhookDecision;

/** The previous finished run's outcome, or undefined for the first run of a definition. */
export function previousOutcome(runs: RunOutcomes): RunOutcome | undefined {
  return runs.history[0];
}

/** Failed runs in a row ending with this one (0 when this one succeeded), within the history read. */
export function consecutiveFailures(runs: RunOutcomes): number {
  if (runs.outcome !== 'failed') return 0;
  const before = runs.history.findIndex((o) => o !== 'failed');
  return 1 + (before === -1 ? runs.history.length : before);
}

/**
 * Whether an email with `notify_when` goes out. A definition's first run has no previous run: it
 * counts as coming from success (a new definition is presumed healthy), so a first failure is a
 * state change and a first success is not.
 */
export function shouldEmail(notifyWhen: NotificationOption, runs: RunOutcomes): EmailDecision {
  const previous = previousOutcome(runs) ?? 'succeeded';
  const failed = runs.outcome === 'failed';
  const changed = runs.outcome !== previous;
  const decide = (send: boolean, reason: string): EmailDecision => ({ channel: 'email', send, reason });
  switch (notifyWhen) {
    case 'always':
      return decide(true, 'notify_when always');
    case 'on_failure':
      return decide(failed, failed ? 'the run failed' : 'the run succeeded (on_failure)');
    case 'on_state_change':
      return decide(changed, changed ? `${previous} -> ${runs.outcome}` : `still ${runs.outcome} (on_state_change)`);
    case 'on_state_change_and_failures':
      return decide(
        failed || changed,
        failed ? 'the run failed' : changed ? `${previous} -> ${runs.outcome}` : 'still succeeded (on_state_change_and_failures)',
      );
    case 'never':
      return decide(false, 'notify_when never');
  }
}

/**
 * PagerDuty: trigger when the last `num_consecutive_failures` finished runs (this one included) all
 * failed — every further failure triggers again and PagerDuty folds it into the same incident (one
 * `dedup_key` per definition). Resolve on a success that follows a failure: a resolve for a key with no
 * open incident is a no-op for PagerDuty, and resolving on any failed → succeeded edge (not only after
 * `num_consecutive_failures` of them) closes an incident opened before the threshold was raised.
 */
export function pagerDutyAction(numConsecutiveFailures: number, runs: RunOutcomes): PagerDutyDecision {
  const threshold = Math.min(Math.max(1, numConsecutiveFailures), HISTORY_LIMIT);
  const streak = consecutiveFailures(runs);
  const decide = (action: PagerDutyDecision['action'], reason: string): PagerDutyDecision => ({
    channel: 'pagerduty',
    action,
    reason,
    consecutive_failures: streak,
  });
  if (runs.outcome === 'failed') {
    return streak >= threshold
      ? decide('trigger', `${streak} failed run(s) in a row (threshold ${threshold})`)
      : decide('none', `${streak} failed run(s) in a row, below the threshold ${threshold}`);
  }
  return previousOutcome(runs) === 'failed'
    ? decide('resolve', 'succeeded after a failure')
    : decide('none', 'succeeded, and the previous run did not fail');
}

/** The decision for one notification of a definition. */
export function decideNotification(notification: Notification, runs: RunOutcomes): NotificationDecision {
  if (notification.email) return shouldEmail(notification.email.notify_when, runs);
  if (notification.pagerduty) return pagerDutyAction(notification.pagerduty.num_consecutive_failures, runs);
  if (notification.webhook) return { ...shouldEmail(notification.webhook.notify_when, runs), channel: 'webhook' };
  throw new Error('a notification must have email, pagerduty or webhook');
}

/** How many earlier runs the decisions about `notifications` need to read (0: none). */
export function historyNeeded(notifications: readonly Notification[]): number {
  let needed = 0;
  for (const n of notifications) {
    // Email and webhooks look at the previous run; PagerDuty at the runs that make up the threshold before this one.
    const notifyWhen = n.email?.notify_when ?? n.webhook?.notify_when;
    if (notifyWhen) needed = Math.max(needed, notifyWhen === 'always' || notifyWhen === 'never' ? 0 : 1);
    if (n.pagerduty) needed = Math.max(needed, Math.max(1, Math.min(n.pagerduty.num_consecutive_failures, HISTORY_LIMIT) - 1));
  }
  return needed;
}
