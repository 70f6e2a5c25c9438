/**
 * The attempts gauge against the attempts themselves, through kills and retries at random moments: once
 * every run has ended, `sundial_tasks{status}` has moved by exactly the attempts the runs show, by status,
 * and nothing counts as running. A task's first attempt is counted by the write that starts it and taken
 * back with the fence of its key when its claim is given back unwritten (docs/STORAGE.md "Counters"): a kill
 * landing between a start and its `Prepare`, or during one, is where a count could be lost or doubled. The
 * moments are drawn at random, many runs at once, and each `Prepare` starts 0–30 ms after its execution (as
 * Step Functions' own latency does deployed), so that the kills fall on every step of a task's life.
 */
import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../lambdas/domain/models';
import { metricValue, shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const { api, define, current } = sundialPerFile();

const RUNS = 24;

/** The gauge's counts by status. */
async function gauge(): Promise<Record<string, number>> {
  const res = await api('GET', '/_internal_/metrics');
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, metricValue(res.text, `sundial_tasks{status="${s}"}`) ?? Number.NaN]));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the attempts gauge through kills and retries at random moments', () => {
  it(`moves by exactly the attempts ${RUNS} runs show, by status, with none left running`, async () => {
    // Prepare: a → b, a → c, b and c → d; b fails its first attempt and has a second.
    await define('soak', [
      shellScript('a', 'true'),
      shellScript('b', '[ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 0 ] && exit 1; exit 0', { max_attempts: 2, dependencies: [{ task_definition_name: 'a' }] }),
      shellScript('c', 'true', { dependencies: [{ task_definition_name: 'a' }] }),
      shellScript('d', 'true', { dependencies: [{ task_definition_name: 'b' }, { task_definition_name: 'c' }] }),
    ]);
    const before = await gauge();
    const steps = current().sundial.preparation as unknown as { prepare: (state: unknown) => Promise<unknown> };
    const prepare = steps.prepare;
    steps.prepare = async function (this: unknown, state) {
      await pause(Math.random() * 30);
      return prepare.call(this, state);
    };

    // Act: every run at once, each killed after 0–150 ms, and half of the killed ones retried (and some
    // of those killed again) after 0–50 ms more.
    let ids: string[];
    try {
      ids = await Promise.all(
        Array.from({ length: RUNS }, async (_, i) => {
          const run = await api('POST', '/api/process_definitions/soak/trigger?force=true');
          expect(run.status, run.text).toBe(201);
          const id = run.json.process_id as string;
          await pause(Math.random() * 150);
          await api('POST', `/api/processes/${id}/kill`);
          if (i % 2 === 0) {
            await pause(Math.random() * 50);
            const retry = await api('POST', `/api/processes/${id}/retry`);
            if (retry.status === 201 && i % 4 === 0) {
              await pause(Math.random() * 50);
              await api('POST', `/api/processes/${id}/kill`);
            }
          }
          return id;
        }),
      );
    } finally {
      steps.prepare = prepare;
    }
    const runs = await Promise.all(
      ids.map((id) =>
        until(
          () => api('GET', `/api/processes/${id}`),
          (r) => r.json.status !== 'running' && r.json.task.every((t: { status: string }) => t.status !== 'running'),
          30_000,
        ),
      ),
    );
    const after = await gauge();

    // Assess
    const shown: Record<string, number> = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0]));
    for (const r of runs) for (const t of r.json.task as Array<{ status: string }>) shown[t.status] = (shown[t.status] ?? 0) + 1;
    const moved = Object.fromEntries(TASK_STATUSES.map((s) => [s, (after[s] ?? 0) - (before[s] ?? 0)]));
    expect(moved).toEqual(shown);
    expect(after.running).toBe(0);
  }, 120_000);
});
