/**
 * A cancel racing the start of a backfill's next occurrence (lambdas/engine/backfills.ts): the start has
 * read the backfill and is about to reserve the occurrence when the cancel is written. The start reads the
 * backfill again once reserved and stands down, so the occurrence the cancel answered `cancelled` never
 * runs. The interleaving is forced: the start's reservation waits until the cancel has answered.
 */
import { expect, it } from 'vitest';
import { cronSchedule, shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api } = sundial;

/** Hourly on January 1st only: no tick while the test runs. */
const JAN_1_HOURLY = cronSchedule({ hours: '*', day_of_month: '1', month: 'JAN' });

it("a cancel written between a start's read of the backfill and its reservation: the occurrence answered cancelled never runs", async () => {
  // Prepare: the second occurrence's reservation (after the first run ends) waits for a cancel to answer
  const name = 'bf-cancel-race';
  await sundial.define(name, { schedule: JAN_1_HOURLY, task_definitions: [shellScript('a', 'true')] });
  const { store } = sundial.current().services;
  const reserve = store.schedules.reserve.bind(store.schedules);
  let cancel: Promise<{ status: number; json: { occurrences: Array<{ process_id: string; state: string }> } }> | undefined;
  let reservations = 0;
  store.schedules.reserve = async (definition, entry) => {
    if (definition === name && ++reservations === 2) {
      cancel = api('DELETE', `/api/process_definitions/${name}/backfill`);
      await cancel;
    }
    return reserve(definition, entry);
  };

  // Act
  const queued = await api('POST', `/api/process_definitions/${name}/backfill`, { start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T02:00:00Z' });
  const [first, second, third] = (queued.json.occurrences as Array<{ process_id: string }>).map((o) => o.process_id);
  await sundial.finished(first!);
  const answered = await (await until(async () => cancel, (c) => c !== undefined));
  await sundial.settled(first!);
  store.schedules.reserve = reserve;

  // Assess
  expect(answered?.status).toBe(200);
  expect(answered?.json.occurrences.map((o) => o.state)).toEqual(['started', 'cancelled', 'cancelled']);
  expect((await api('GET', `/api/processes/${second}`)).status).toBe(404);
  expect((await api('GET', `/api/processes/${third}`)).status).toBe(404);
  expect((await sundial.current().services.store.schedules.get(name)).active).toEqual([]);
}, 60_000);
