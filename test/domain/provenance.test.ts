/** A run's provenance (docs/TRIGGERS.md): the trigger written, a retry's, one derived for older runs, the caller. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retriedTrigger, runTrigger, scheduleCaller, triggerOf } from '../../lambdas/domain/provenance';
import { stableUuid } from '../../lambdas/domain/ids';
import { callerOf } from '../../lambdas/http/caller';
import fixture from '../fixtures/aws/apigw-v2-event.json';
import { httpEvent } from '../helpers/factories';

const START = '2026-12-03T10:00:05.000Z';

describe('triggerOf', () => {
  it('takes the run start as `at` and `at` as the logical time, unless given', () => {
    expect(triggerOf({ kind: 'manual', by: 'local' }, START)).toEqual({ kind: 'manual', by: 'local', at: START, scheduled_time: START });
    expect(triggerOf({ kind: 'schedule', by: scheduleCaller('nightly'), scheduled_time: '2026-12-03T10:00:00.000Z' }, START)).toEqual({
      kind: 'schedule',
      by: 'schedule:nightly',
      at: START,
      scheduled_time: '2026-12-03T10:00:00.000Z',
    });
  });
});

describe('retriedTrigger', () => {
  it('a retry keeps the logical time and the trigger it replaced; a second retry still keeps the one that started the run', () => {
    const started = triggerOf({ kind: 'schedule', by: 'schedule:nightly', scheduled_time: '2026-12-03T10:00:00.000Z' }, START);
    const once = retriedTrigger(started, 'arn:aws:iam::123456789012:user/ana', '2026-12-03T11:00:00.000Z');
    const twice = retriedTrigger(once, 'local', '2026-12-03T12:00:00.000Z');
    expect(once).toEqual({ kind: 'retry', by: 'arn:aws:iam::123456789012:user/ana', at: '2026-12-03T11:00:00.000Z', scheduled_time: '2026-12-03T10:00:00.000Z', previous: started });
    expect(twice).toEqual({ kind: 'retry', by: 'local', at: '2026-12-03T12:00:00.000Z', scheduled_time: '2026-12-03T10:00:00.000Z', previous: started });
  });
});

describe('runTrigger', () => {
  const item = { process_id: randomUUID(), process_definition_name: 'nightly', start_time: START };

  it('answers the trigger written', () => {
    const trigger = triggerOf({ kind: 'manual', by: 'local' }, START);
    expect(runTrigger({ ...item, trigger })).toBe(trigger);
  });

  it("derives one for a run stored before: a tick's name-based id is a schedule's, any other a manual run by unknown", () => {
    const tick = { ...item, process_id: stableUuid('nightly', 'tick', '2026-12-03T10:00:00.000Z') };
    expect(runTrigger(tick)).toEqual({ kind: 'schedule', by: 'schedule:nightly', at: START, scheduled_time: START, derived: true });
    expect(runTrigger(item)).toEqual({ kind: 'manual', by: 'unknown', at: START, scheduled_time: START, derived: true });
    expect(runTrigger({ ...tick, environment_variables: [{ variable_name: 'A', value: '1' }] }).kind).toBe('manual');
  });
});

describe('callerOf', () => {
  it("deployed: the IAM authorizer's principal ARN (payload 2.0 requestContext.authorizer.iam.userArn)", () => {
    const event = httpEvent();
    const userArn = 'arn:aws:sts::123456789012:assumed-role/Operators/ana';
    const iam = { accessKey: 'ASIA', accountId: '123456789012', callerId: 'AROA:ana', cognitoIdentity: null, principalOrgId: null, userArn, userId: 'AROA:ana' };
    expect(callerOf({ ...event, requestContext: { ...event.requestContext, authorizer: { iam } } } as never)).toBe(userArn);
  });

  it('locally (no authorizer) and with another kind of authorizer: local', () => {
    expect(callerOf(httpEvent())).toBe('local');
    expect(callerOf(fixture.event as never)).toBe('local'); // AWS's example: jwt and lambda authorizers, no iam
  });
});
