/**
 * Over HTTP in local mode: trigger, kill and retry of a large run (2,000 tasks, or up to the 10,000 a
 * definition may have) answer as they do for a small run — 201 with the run, 409 where a small run gets one — while the
 * engine function's steps (in the background locally, lambdas/engine/fan-out.ts) take each task where it
 * must go; every step delivered again afterwards changes nothing. One task runs until it is stopped and
 * every other depends on it, so that only one process runs.
 */
import { expect, it } from 'vitest';
import { LIMITS } from '../../lambdas/domain/models';
import type { FanOutEvent } from '../../lambdas/engine/fan-out';
import type { Slot } from '../../lambdas/store/slots';
import { shellScript, shellTask, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const { api, current } = sundialPerFile();

/**
 * 2,000 by default: twenty times past IN_REQUEST_TASKS_MAX and twenty of a step's pages, the same code as at
 * 10,000 in a fifth of the suite's time (6 min at load 8); test/engine/large-runs.test.ts runs the 10,000
 * in-process with `LARGE_RUNS_TASKS=10000`.
 * `LARGE_FAN_OUT_TASKS=10000` measures it over HTTP at the limit (docs/SCALE.md's figures).
 */
const TASKS = Math.min(Number(process.env.LARGE_FAN_OUT_TASKS ?? 2_000), LIMITS.taskDefinitionsPerProcess);
/** The engine function's steps over 10,000 tasks take minutes on a busy machine. */
const STEPS_MS = 600_000;

/** Every step the engine function is handed from now on, recorded as it runs. */
function recordSteps(): FanOutEvent[] {
  const steps = current().sundial.fanOutSteps;
  const step = steps.step.bind(steps);
  const events: FanOutEvent[] = [];
  steps.step = (event, deadline) => {
    events.push(event);
    return step(event, deadline);
  };
  return events;
}

const stateOf = (slots: Slot[]) => slots.map((s) => `${s.name} ${s.status} ${s.round} ${s.attempts} ${s.max_attempts} ${[...(s.deps_done ?? [])].join()}`).sort();
const count = (slots: Slot[], status: Slot['status']) => slots.filter((s) => s.status === status).length;
/** A request, its time logged (docs/SCALE.md quotes it; the HTTP API's limit is 30 s, the API function's 15 s), never asserted. */
const timed = async <T>(label: string, body: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await body();
  console.info(`${label}: ${Math.round(performance.now() - started)} ms`);
  return result;
};

it(`trigger, kill and retry of a run of ${TASKS} tasks answer as for a small run, and every task ends where it must`, async () => {
  // Prepare
  const tasks = [
    shellScript('root', UNTIL_STOPPED),
    ...Array.from({ length: TASKS - 1 }, (_, i) => shellTask(`t${i}`, { dependencies: [{ task_definition_name: 'root', success_required: true }] })),
  ];
  expect((await api('PUT', '/api/process_definitions/large', { process_definition_name: 'large', task_definitions: tasks })).status).toBe(201);
  const { store, engine } = current().services;
  const steps = recordSteps();
  const run = (id: string) => store.runs.getRunRecord(id);
  const slotsOf = (id: string) => store.slots.list(id);

  // Act: trigger, then the steps that write and start its tasks
  const triggered = await timed(`POST trigger of ${TASKS} tasks`, () => api('POST', '/api/process_definitions/large/trigger'));
  const triggerAnswered = performance.now();
  const id = triggered.json.process_id as string;
  await until(() => run(id), (r) => r?.starting === undefined, STEPS_MS);
  console.info(`trigger, its steps in the background: ${Math.round(performance.now() - triggerAnswered)} ms`);
  const rootRunning = await until(() => api('GET', `/api/processes/${id}`), (r) => r.json.task.some((a: { status: string }) => a.status === 'running'), STEPS_MS);

  // Assess: 201 with the running run; then every slot written, the one task without dependencies running
  expect(triggered.status).toBe(201);
  expect(triggered.json).toMatchObject({ process_id: id, process_definition_name: 'large', status: 'running', trigger: { kind: 'manual' } });
  expect(rootRunning.json.task.map((a: { task_definition_name: string }) => a.task_definition_name)).toEqual(['root']);
  let slots = await slotsOf(id);
  expect([slots.length, count(slots, 'running'), count(slots, 'waiting')]).toEqual([TASKS, 1, TASKS - 1]);

  // Act: kill; a second kill and a retry while its steps run
  const killed = await timed(`POST kill of ${TASKS} tasks`, () => api('POST', `/api/processes/${id}/kill`));
  const killAnswered = performance.now();
  const [again, early] = await Promise.all([api('POST', `/api/processes/${id}/kill`), api('POST', `/api/processes/${id}/retry`)]);
  await until(() => run(id), (r) => r?.killing === undefined, STEPS_MS);
  console.info(`kill, its steps in the background: ${Math.round(performance.now() - killAnswered)} ms`);
  const ended = await api('GET', `/api/processes/${id}`);

  // Assess: 201 with the failed run, 409 for both; then the running task stopped and failed, the others blocked
  expect([killed.status, killed.json.status, killed.json.reason]).toEqual([201, 'failed', 'killed by operator']);
  expect([again.status, early.status]).toEqual([409, 409]);
  expect(early.json.error.message).toMatch(/still being killed/);
  expect(ended.json.task.map((a: { status: string }) => a.status)).toEqual(['failed']);
  slots = await slotsOf(id);
  expect([count(slots, 'failed'), count(slots, 'blocked')]).toEqual([1, TASKS - 1]);

  // Act: every step so far delivered again
  const afterKill = stateOf(slots);
  for (const event of [...steps]) await current().sundial.fanOutSteps.step(event);

  // Assess
  expect(stateOf(await slotsOf(id))).toEqual(afterKill);

  // Act: retry, then the steps that reopen its tasks
  const retried = await timed(`POST retry of ${TASKS} tasks`, () => api('POST', `/api/processes/${id}/retry`));
  const retryAnswered = performance.now();
  await until(() => run(id), (r) => r?.reopening === undefined, STEPS_MS);
  console.info(`retry, its steps in the background: ${Math.round(performance.now() - retryAnswered)} ms`);
  const again2 = await until(() => api('GET', `/api/processes/${id}`), (r) => r.json.task.filter((a: { status: string }) => a.status === 'running').length === 1, STEPS_MS);

  // Assess: 201 with the running run; the failed task runs again (a second attempt), the others wait again
  expect([retried.status, retried.json.status, retried.json.trigger.kind]).toEqual([201, 'running', 'retry']);
  expect(again2.json.task.map((a: { status: string }) => a.status).sort()).toEqual(['failed', 'running']);
  slots = await slotsOf(id);
  expect([count(slots, 'running'), count(slots, 'waiting')]).toEqual([1, TASKS - 1]);

  // Act: every step delivered again
  const afterRetry = stateOf(slots);
  for (const event of [...steps]) await current().sundial.fanOutSteps.step(event);

  // Assess
  expect(stateOf(await slotsOf(id))).toEqual(afterRetry);
  expect((await api('GET', `/api/processes/${id}`)).json.task).toHaveLength(2);

  // The run ends before the server stops.
  expect((await api('POST', `/api/processes/${id}/kill`)).status).toBe(201);
  await until(() => run(id), (r) => r?.killing === undefined, STEPS_MS);
}, 4 * STEPS_MS);
