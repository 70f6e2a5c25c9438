/**
 * Who hears of a run: every notify_when against every (previous, outcome) pair, PagerDuty's
 * trigger/resolve against streaks and thresholds, and how much history the decisions need.
 */
import { describe, expect, test } from 'vitest';
import type { Notification, NotificationOption } from '../../lambdas/domain/models';
import {
  consecutiveFailures,
  decideNotification,
  HISTORY_LIMIT,
  historyNeeded,
  pagerDutyAction,
  type RunOutcome,
  shouldEmail,
} from '../../lambdas/domain/notification-policy';

const S: RunOutcome = 'succeeded';
const F: RunOutcome = 'failed';
const FIRST = undefined;

describe('email: notify_when × previous finished run × this run', () => {
  // notify_when, previous (undefined: first run), outcome, send
  const table: Array<[NotificationOption, RunOutcome | undefined, RunOutcome, boolean]> = [
    ['always', FIRST, S, true],
    ['always', FIRST, F, true],
    ['always', S, S, true],
    ['always', S, F, true],
    ['always', F, S, true],
    ['always', F, F, true],

    ['on_failure', FIRST, S, false],
    ['on_failure', FIRST, F, true],
    ['on_failure', S, S, false],
    ['on_failure', S, F, true],
    ['on_failure', F, S, false],
    ['on_failure', F, F, true],

    ['on_state_change', FIRST, S, false],
    ['on_state_change', FIRST, F, true],
    ['on_state_change', S, S, false],
    ['on_state_change', S, F, true],
    ['on_state_change', F, S, true],
    ['on_state_change', F, F, false],

    ['on_state_change_and_failures', FIRST, S, false],
    ['on_state_change_and_failures', FIRST, F, true],
    ['on_state_change_and_failures', S, S, false],
    ['on_state_change_and_failures', S, F, true],
    ['on_state_change_and_failures', F, S, true],
    ['on_state_change_and_failures', F, F, true],

    ['never', FIRST, S, false],
    ['never', FIRST, F, false],
    ['never', S, S, false],
    ['never', S, F, false],
    ['never', F, S, false],
    ['never', F, F, false],
  ];

  test.each(table)('%s, previous %s, this run %s → send %s', (notifyWhen, previous, outcome, send) => {
    // Prepare
    const history = previous === undefined ? [] : [previous, F, S];

    // Act
    const decision = shouldEmail(notifyWhen, { outcome, history });

    // Assess
    expect(decision).toEqual({ channel: 'email', send, reason: expect.any(String) });
  });

  test('looks at the previous run only, not older ones', () => {
    // Act
    const decision = shouldEmail('on_state_change', { outcome: S, history: [S, F, F, F] });

    // Assess
    expect(decision.send).toBe(false);
  });
});

describe('PagerDuty: num_consecutive_failures × history × this run', () => {
  // threshold, this run, history newest first, action, consecutive failures
  const table: Array<[number, RunOutcome, RunOutcome[], 'trigger' | 'resolve' | 'none', number]> = [
    [1, F, [], 'trigger', 1],
    [1, F, [S], 'trigger', 1],
    [1, F, [F], 'trigger', 2], // again: PagerDuty folds it into the same incident
    [1, S, [], 'none', 0],
    [1, S, [S], 'none', 0],
    [1, S, [F], 'resolve', 0],
    [1, S, [S, F], 'none', 0], // resolved by the success before
    [2, F, [], 'none', 1],
    [2, F, [S], 'none', 1],
    [2, F, [F], 'trigger', 2],
    [2, F, [F, S], 'trigger', 2],
    [2, F, [S, F], 'none', 1],
    [2, F, [F, F, F], 'trigger', 4],
    [2, S, [F, F], 'resolve', 0],
    [2, S, [F], 'resolve', 0], // below the threshold: a no-op for PagerDuty, and safe if the threshold was lowered since
    [3, F, [F, S, F], 'none', 2],
    [3, F, [F, F], 'trigger', 3],
    [3, F, [F, F, S, F, F], 'trigger', 3],
    [1_000_000, F, Array<RunOutcome>(HISTORY_LIMIT - 1).fill(F), 'trigger', HISTORY_LIMIT], // capped at HISTORY_LIMIT
    [1_000_000, F, Array<RunOutcome>(HISTORY_LIMIT - 2).fill(F), 'none', HISTORY_LIMIT - 1],
  ];

  test.each(table)('threshold %i, this run %s after %j → %s (%i in a row)', (threshold, outcome, history, action, streak) => {
    // Act
    const decision = pagerDutyAction(threshold, { outcome, history });

    // Assess
    expect(decision).toEqual({ channel: 'pagerduty', action, consecutive_failures: streak, reason: expect.any(String) });
  });
});

describe('decideNotification', () => {
  test.each<[string, Notification, RunOutcome, RunOutcome[], object]>([
    ['email with its notify_when', { email: { name: 'Ops', email: 'ops@example.com', notify_when: 'on_failure' } }, F, [F], { channel: 'email', send: true }],
    ['email never', { email: { name: 'Ops', email: 'ops@example.com', notify_when: 'never' } }, F, [S], { channel: 'email', send: false }],
    ['pagerduty with its threshold', { pagerduty: { service_key: 'k', num_consecutive_failures: 2, api_url: 'https://events.pagerduty.com' } }, F, [F], { channel: 'pagerduty', action: 'trigger' }],
    ['pagerduty resolve', { pagerduty: { service_key: 'k', num_consecutive_failures: 2, api_url: 'https://events.pagerduty.com' } }, S, [F, F], { channel: 'pagerduty', action: 'resolve' }],
  ])('%s', (_case, notification, outcome, history, expected) => {
    // Act
    const decision = decideNotification(notification, { outcome, history });

    // Assess
    expect(decision).toMatchObject(expected);
  });
});

describe('history', () => {
  test.each<[string, Notification[], number]>([
    ['none', [], 0],
    ['always and never need no history', [{ email: { name: 'a', email: 'a@x.io', notify_when: 'always' } }, { email: { name: 'b', email: 'b@x.io', notify_when: 'never' } }], 0],
    ['state changes need the previous run', [{ email: { name: 'a', email: 'a@x.io', notify_when: 'on_state_change' } }], 1],
    ['a threshold of 1 needs the previous run (resolve)', [{ pagerduty: { service_key: 'k', num_consecutive_failures: 1, api_url: 'https://x.io' } }], 1],
    ['a threshold of 5 needs 4 earlier runs', [{ pagerduty: { service_key: 'k', num_consecutive_failures: 5, api_url: 'https://x.io' } }], 4],
    ['the largest need wins, capped', [{ pagerduty: { service_key: 'k', num_consecutive_failures: 10_000, api_url: 'https://x.io' } }, { email: { name: 'a', email: 'a@x.io', notify_when: 'on_failure' } }], HISTORY_LIMIT - 1],
  ])('%s', (_case, notifications, needed) => {
    // Act / Assess
    expect(historyNeeded(notifications)).toBe(needed);
  });

  test.each<[RunOutcome, RunOutcome[], number]>([
    [S, [F, F], 0],
    [F, [], 1],
    [F, [F, F, S, F], 3],
    [F, [F, F], 3],
  ])('this run %s after %j: %i failures in a row', (outcome, history, streak) => {
    // Act / Assess
    expect(consecutiveFailures({ outcome, history })).toBe(streak);
  });
});
