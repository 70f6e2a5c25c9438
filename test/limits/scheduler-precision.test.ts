/**
 * EventBridge Scheduler fires with 60-second precision and its rate() counts whole minutes
 * (SCHEDULER_MIN_INTERVAL_SECONDS, lambdas/domain/aws-limits.ts): `npm start` refuses at PUT what the deployed
 * API refuses, a 400 naming the field. (The test harness lowers the minimum for the schedule tests only.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSundial, startLocal } from '../../local/server';
import { type Api, apiClient, processDefinition } from '../helpers/local';

let sundial: LocalSundial;
let api: Api;

beforeAll(async () => {
  sundial = await startLocal({ port: 0, log: () => undefined });
  api = apiClient(sundial.url);
});
afterAll(async () => {
  await sundial?.close();
});

const every = (duration: string) => ({ interval_schedule: { repeat: `R3/${new Date(Date.now() + 3_600_000).toISOString()}/${duration}` } });

describe("local schedules hold EventBridge Scheduler's precision", () => {
  it.each([
    ['PT10S', 400],
    ['PT59S', 400],
    ['PT90S', 400],
    ['PT1M', 201],
  ])('an interval of %s answers %d', async (duration, status) => {
    // Prepare
    const name = `every-${duration.toLowerCase()}`;

    // Act
    const res = await api('PUT', `/api/process_definitions/${name}`, processDefinition(name, { schedule: every(duration) }));

    // Assess
    expect(res.status, res.text).toBe(status);
    if (status === 400) expect(res.json.error.field).toBe('schedule.interval_schedule.repeat');
  });
});
