/**
 * How the reaper reads which task executions still run (lambdas/engine/reaper.ts): one listing of the
 * running executions per sweep, paged through `nextToken` and paced by its token bucket; a running slot
 * whose execution is not listed on two sweeps in a row is lost. Runs the real engine in local mode; the
 * listing is a stand-in for ListExecutions that lists the real running executions a page at a time,
 * leaving out the ones a test says are gone.
 */
import { describe, expect, it } from 'vitest';
import { type ReaperDeps, Reaper } from '../../lambdas/engine/reaper';
import type { Clock } from '../../lambdas/engine/pace';
import type { RunningExecutionsPage } from '../../lambdas/engine/ports';
import type { Slot } from '../../lambdas/store/slots';
import { shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();

/** A clock whose sleeps pass at once and are recorded (the listing's pace). */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
}

/** Three tasks running until stopped, each in its own execution; answers their running slots. */
async function threeRunning(name: string): Promise<{ processId: string; slots: Slot[] }> {
  await sundial.define(name, ['a', 'b', 'c'].map((t) => shellScript(t, UNTIL_STOPPED)));
  const processId = (await sundial.trigger(name)).process_id as string;
  const { orchestrator } = sundial.current().sundial;
  const slots = await until(
    () => sundial.current().services.store.slots.list(processId),
    (all) => all.length === 3 && all.every((s) => s.status === 'running' && s.execution_name !== undefined && orchestrator.has(s.execution_name)),
  );
  return { processId, slots };
}

/**
 * A listing of the running executions one name a page, without `hidden`; records the tokens it was
 * asked for. `failing` makes the next listing fail (as a throttled or denied call would).
 */
function lister(hidden: Set<string>) {
  const asked: Array<string | undefined> = [];
  const state = { failing: false };
  const list = async (nextToken?: string): Promise<RunningExecutionsPage> => {
    asked.push(nextToken);
    if (state.failing) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const names = running.filter((n) => !hidden.has(n)).sort();
    const at = nextToken === undefined ? 0 : Number(nextToken);
    return { names: names.slice(at, at + 1), ...(at + 1 < names.length ? { nextToken: String(at + 1) } : {}) };
  };
  return { list, asked, state };
}

/** Names of the executions running in the local orchestrator, read through its own listing (a handful of calls). */
let running: string[] = [];
async function refreshRunning(): Promise<void> {
  const out = await sundial.current().sundial.orchestrator.listExecutions({ statusFilter: 'RUNNING', maxResults: 1000 });
  running = out.executions.map((e) => e.name);
}

function reaper(list: ReaperDeps['listRunningExecutions'], extra: Partial<ReaperDeps> = {}): Reaper {
  const { store, engine, logger } = sundial.current().services;
  return new Reaper({ store, engine, now: () => new Date(), logger, listRunningExecutions: list, ...extra });
}

describe('the reaper reads running executions from one paged listing per sweep', () => {
  it('pages through nextToken at its pace, and reaps the task whose execution is not listed on two sweeps in a row', async () => {
    // Prepare: three running tasks; the listing leaves out c's execution
    const { processId, slots } = await threeRunning('listing-paged');
    await refreshRunning();
    const c = slots.find((s) => s.name === 'c')!;
    const { list, asked } = lister(new Set([c.execution_name!]));
    const clock = fakeClock();
    const sweeps = reaper(list, { listPace: { burst: 1, perSecond: 1 }, clock });

    // Act
    const first = await sweeps.reap();
    const second = await sweeps.reap();

    // Assess: one listing a sweep, page after page (every running execution of the other runs too)
    const pages = running.length - 1;
    expect(asked).toHaveLength(2 * pages);
    expect(asked.slice(0, pages)).toEqual([undefined, ...Array.from({ length: pages - 1 }, (_, i) => String(i + 1))]);
    // Paced: one token at once, then a second's wait for each further page
    expect(clock.slept.length).toBeGreaterThanOrEqual(2 * pages - 1);
    for (const ms of clock.slept) expect(ms).toBeGreaterThan(900);
    expect(first).toEqual([]);
    expect(second).toEqual([expect.objectContaining({ process_id: processId, task_definition_name: 'c', reason: expect.stringMatching(/its execution ended/) })]);
    for (const s of slots.filter((x) => x.name !== 'c')) expect(sundial.current().sundial.orchestrator.has(s.execution_name!)).toBe(true);
  });

  it('judges no execution gone when the listing fails or needs more pages than a sweep may take, and keeps its suspects for the next full listing', async () => {
    // Prepare: three running tasks; the listing leaves out b's execution
    const { processId, slots } = await threeRunning('listing-partial');
    await refreshRunning();
    const b = slots.find((s) => s.name === 'b')!;
    const hidden = new Set([b.execution_name!]);
    const { list, state } = lister(hidden);
    const capped = reaper(list, { maxListPages: 1, clock: fakeClock() });
    const full = reaper(list, { clock: fakeClock() });

    // Act: a capped reaper never lists all running executions; a full one suspects b, cannot list, lists again
    const cappedSweeps = [await capped.reap(), await capped.reap()];
    const suspected = await full.reap();
    state.failing = true;
    const failed = await full.reap();
    state.failing = false;
    const decided = await full.reap();

    // Assess
    expect(cappedSweeps.flat().filter((r) => r.process_id === processId)).toEqual([]);
    expect([suspected, failed].flat().filter((r) => r.process_id === processId)).toEqual([]);
    expect(decided.filter((r) => r.process_id === processId)).toEqual([expect.objectContaining({ task_definition_name: 'b' })]);
  });
});
