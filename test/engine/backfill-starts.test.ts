/**
 * Two starts of one backfill occurrence at once (the request's own start and a run end's, both reading the
 * clock in the same millisecond): they hold the same reservation, and both trigger the occurrence's run; the
 * second's trigger finds it created and answers it (engine.ts `trigger`; it failed, a 500, before). The clock is
 * fixed so that the two read the same millisecond every time.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Backfills } from '../../lambdas/engine/backfills';
import { cronSchedule, shellScript, startTestSundial, type TestSundial } from '../helpers/local';

const FIXED = new Date('2026-06-01T00:00:00.000Z');
let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial(undefined, { now: () => FIXED });
});
afterAll(() => t.close());

it('two starts of one backfill occurrence in the same millisecond start its run once, and neither fails', async () => {
  // Prepare: a backfill of one occurrence, queued (not started: its request's own start is left out)
  await t.define('bf-race', { schedule: cronSchedule({ hours: '*', day_of_month: '1', month: 'JAN' }), task_definitions: [shellScript('a', 'true')] });
  const backfills = Reflect.get(t.services.schedules, 'backfills') as Backfills;
  const { occurrences } = await backfills.request('bf-race', { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T00:30:00Z' }, 'tester');

  // Act
  const starts = await Promise.allSettled([backfills.startNext('bf-race'), backfills.startNext('bf-race')]);

  // Assess
  expect(starts.map((s) => (s.status === 'rejected' ? String(s.reason) : s.status))).toEqual(['fulfilled', 'fulfilled']);
  expect(occurrences).toHaveLength(1);
  const run = await t.finished(occurrences[0]!.process_id);
  expect(run).toMatchObject({ status: 'succeeded', trigger: { kind: 'backfill', scheduled_time: '2026-01-01T00:00:00.000Z' } });
  expect((await t.api('GET', '/api/processes?process_definition_name=bf-race')).json.map((r: { process_id: string }) => r.process_id)).toEqual([occurrences[0]!.process_id]);
  expect((await backfills.status('bf-race')).occurrences.map((o) => o.state)).toEqual(['started']);
});
