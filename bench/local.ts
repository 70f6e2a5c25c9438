/**
 * A local Sundial instrumented for the benchmarks: DynamoDB calls counted, engine steps (the Lambda
 * invocations deployed) counted and timed, and a promise per run that settles when the run ends (a
 * run listener, so that waiting reads nothing from the store).
 */
import '../local/polyfills';
import { retentionDaysFromEnv } from '../lambdas/functions/environment';
import { Spawner } from '../local/engine/spawner';
import { type LocalSundial, startLocal } from '../local/server';
import { countDynamo, median } from './stats';

export interface BenchSundial {
  sundial: LocalSundial;
  call: (method: string, path: string, body?: unknown) => Promise<any>;
  dynamo: ReturnType<typeof countDynamo>;
  /** Engine steps (Prepare, Record) since the last reset, with their durations in ms. */
  steps: { prepare: number[]; record: number[] };
  /** Each engine step since the last reset: which task of which run, when it began and ended (`performance.now()`). */
  stepLog: StepCall[];
  resetCounts: () => void;
  /** Settles with the run's final status when it ends, once the run listeners' first (the schedules') is done. */
  ended: (processId: string) => Promise<string>;
  /**
   * When the run ended (`performance.now()`): when the engine told its listeners, right after the write that
   * ended it, before the schedules' listener's own reads and writes (a queued trigger, a catch-up run).
   */
  endedAt: (processId: string) => number | undefined;
  /**
   * Settles once an ended run's last writes are done: its expiry (after the listeners; none when
   * retention is 0), so that they are counted with it and do not overlap the next run.
   */
  settled: (processId: string) => Promise<void>;
  close: () => Promise<void>;
}

/** One engine step (a Lambda invocation deployed) as the bench saw it. */
export interface StepCall {
  step: 'prepare' | 'record';
  process_id: string;
  task_definition_name: string;
  start: number;
  end: number;
  /** Prepare answered a skip (nothing launched). */
  skip?: boolean;
}

export async function startBench(dataDir?: string): Promise<BenchSundial> {
  const sundial = await startLocal({ port: 0, dataDir, log: () => undefined });
  const { engine, schedules, store } = sundial.services;
  const dynamo = countDynamo(store.db);
  const steps = { prepare: [] as number[], record: [] as number[] };
  const stepLog: StepCall[] = [];
  // Prepare is built beside the engine (prepare.ts `preparationFor`); the local state machine calls it there.
  const stepOwners = { prepare: sundial.preparation, record: engine } as const;
  for (const step of ['prepare', 'record'] as const) {
    const owner = stepOwners[step] as unknown as Record<string, (x: never) => Promise<unknown>>;
    const original = owner[step]!.bind(owner);
    owner[step] = async (input: never) => {
      const t0 = performance.now();
      let answer: unknown;
      try {
        answer = await original(input);
        return answer;
      } finally {
        const end = performance.now();
        steps[step].push(end - t0);
        const state = (step === 'prepare' ? input : (input as { state: unknown }).state) as { process_id: string; task_definition_name: string };
        const skip = step === 'prepare' ? Boolean((answer as { skip?: boolean } | undefined)?.skip) : undefined;
        stepLog.push({ step, process_id: state.process_id, task_definition_name: state.task_definition_name, start: t0, end, ...(skip === undefined ? {} : { skip }) });
      }
    };
  }
  const waiting = new Map<string, (status: string) => void>();
  const finished = new Map<string, string>();
  const runEnded = schedules.runEnded.bind(schedules);
  const endedAt = new Map<string, number>();
  schedules.runEnded = async (run) => {
    endedAt.set(run.process_id, performance.now());
    try {
      return await runEnded(run);
    } finally {
      // After the listener's own writes, so that closing the server never cuts them off.
      finished.set(run.process_id, run.status);
      waiting.get(run.process_id)?.(run.status);
    }
  };
  const expired = new Map<string, Promise<unknown>>();
  const expiryWaiters = new Map<string, () => void>();
  const setRunExpiry = store.runs.setRunExpiry.bind(store.runs);
  store.runs.setRunExpiry = (processId, expiresAt) => {
    const done = setRunExpiry(processId, expiresAt);
    if (expiresAt !== undefined) {
      expired.set(processId, done);
      expiryWaiters.get(processId)?.();
    }
    return done;
  };
  const keepsHistory = retentionDaysFromEnv() > 0;
  const call = apiCaller(sundial.url);
  return {
    sundial,
    call,
    dynamo,
    steps,
    stepLog,
    resetCounts: () => {
      dynamo.reset();
      steps.prepare.length = 0;
      steps.record.length = 0;
      stepLog.length = 0;
      sundial.orchestrator.stateTransitions = 0;
    },
    ended: (processId) => {
      const done = finished.get(processId);
      if (done) return Promise.resolve(done);
      return new Promise((resolve) => waiting.set(processId, resolve));
    },
    endedAt: (processId) => endedAt.get(processId),
    settled: async (processId) => {
      if (!keepsHistory) return;
      if (!expired.has(processId)) await new Promise<void>((resolve) => expiryWaiters.set(processId, resolve));
      expiryWaiters.delete(processId);
      await expired.get(processId)?.catch(() => undefined);
    },
    close: () => sundial.close(),
  };
}

/** Calls the API at `baseUrl`: the parsed JSON (or text) of a 2xx answer; anything else throws. */
export function apiCaller(baseUrl: string): (method: string, path: string, body?: unknown) => Promise<any> {
  return async (method, path, body) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  };
}

/** A no-op shell task, as the engine benchmarks run it. */
export const noop = (name: string, deps: string[] = [], script = 'true') => ({
  task_definition_name: name,
  dependencies: deps.map((d) => ({ task_definition_name: d })),
  executable: { shell_script_command: { script } },
  max_attempts: 1,
  backoff_base_seconds: 0,
  require_explicit_success: false,
});

/**
 * The tasks' own time: `width` no-op `/bin/sh -c true` started at once as the local executor starts a task
 * (through the task spawner, local/engine/spawner.ts), from the spawn requests to the last one's end;
 * median of n rounds. It includes the spawner's IPC round trip and the fork server (a millisecond or two a
 * task), so the overhead figures leave that out. One task (`width` 1) is a chain's step; a layer of a DAG
 * is as many as run at once, and then the tasks' own processes share the cores: 200 of them take ≈ 2.7 ms
 * each of the machine's time on 2 cores, where one alone takes ≈ 4–5 ms from request to end.
 */
export async function shellSpawnMs(n = 20, width = 1): Promise<number> {
  const spawner = new Spawner(() => undefined);
  try {
    await spawner.spawn('/bin/true', [], {}).ended; // starts the spawner itself
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const ends = await Promise.all(Array.from({ length: width }, () => spawner.spawn('/bin/sh', ['-c', 'true'], { PATH: process.env.PATH }).ended));
      const failed = ends.find((end) => end.code !== 0);
      if (failed) throw new Error(`/bin/sh -c true exited ${failed.code}`);
      times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    await spawner.close();
  }
}
