/**
 * `npm run bench`: Sundial's speed and cost against its limits (docs/PERFORMANCE.md), printed as a
 * table and written to bench/results.json. Sections:
 *
 * 1. engine overhead per task: DAGs of no-op shell tasks in local mode (200 independent, a chain of 50,
 *    a 10×20 layered DAG), wall time minus the tasks' own time, per task: each layer's tasks run at once
 *    without the engine (through its task spawner), layer after layer;
 * 2. cost per task attempt deployed: state transitions, Lambda invocations, DynamoDB reads and writes per
 *    attempt (counted, and the writes by kind of item), and the dollars per 1,000 attempts at list prices;
 *    for the chain, the writes per attempt of tasks with one dependent and the store calls in a row per step;
 * 3. API latency vs history size: run and task listings with few and with many stored runs (ratio);
 * 4. cold start: each Lambda bundle's size and load time in a fresh Node process;
 * 5. trigger latency: trigger → first task running;
 * 6. memory: peak RSS, overhead and CPU per task of the local mode running the 1,000- and the 10,000-task
 *    DAGs (10 layers of 100 and of 1,000, each in its own process; their ratio), and of each Lambda bundle
 *    serving its heaviest requests in a process of its own (bench/lambdas.ts).
 *
 * Environment: BENCH_RUNS (runs per DAG, default 3), BENCH_SEED_SECONDS (time allowed to seed history,
 * default 90), BENCH_HISTORY_MAX (default 100000), BENCH_ONLY (comma-separated section names: bundles,
 * lambdas, memory, engine, history).
 * The machine is noisy: figures are medians, and what is compared across sizes is a ratio.
 */
import '../local/polyfills';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureBundles } from './bundles';
import { measureLambdas } from './lambdas';
import { seedHistory } from './seed';
import { type BenchSundial, noop, shellSpawnMs, startBench } from './local';
import { median, quantile, round, sleep, type TracedCall } from './stats';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SEED_SECONDS = Number(process.env.BENCH_SEED_SECONDS ?? 90);
const HISTORY_MAX = Number(process.env.BENCH_HISTORY_MAX ?? 100_000);
const ONLY = process.env.BENCH_ONLY?.split(',');
const want = (section: string) => !ONLY || ONLY.includes(section);

/** List prices, us-east-1 (check the pricing pages). */
export const PRICES = {
  sfnTransition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
};
/** Engine function memory (lib/engine.ts, default of SundialFunction). */
const ENGINE_MEMORY_GB = 0.5;

type Task = ReturnType<typeof noop>;

// ---- the DAGs --------------------------------------------------------------------------------------

/** A DAG of the bench: its tasks, `depth` layers of `width` tasks each that can run at once. */
interface Dag {
  tasks: Task[];
  depth: number;
  width: number;
}

function independent(n: number): Dag {
  return { tasks: Array.from({ length: n }, (_, i) => noop(`t${i}`)), depth: 1, width: n };
}

function chain(n: number): Dag {
  return { tasks: Array.from({ length: n }, (_, i) => noop(`t${i}`, i === 0 ? [] : [`t${i - 1}`])), depth: n, width: 1 };
}

/** `layers` layers of `width`; each task depends on `fanIn` neighbouring tasks of the layer above. */
function layered(layers: number, width: number, fanIn: number): Dag {
  const tasks: Task[] = [];
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) {
      const deps = l === 0 ? [] : [...new Set(Array.from({ length: fanIn }, (_, k) => `t${l - 1}-${(i + k - Math.floor(fanIn / 2) + width) % width}`))];
      tasks.push(noop(`t${l}-${i}`, deps));
    }
  }
  return { tasks, depth: layers, width };
}

/** A big DAG's figures (the memory section), with the store's work per task. */
type BigDagFigures = DagFigures & { dynamodb_writes_per_task?: number; dynamodb_write_units_per_task?: number; dynamodb_read_units_per_task?: number };

interface DagFigures {
  tasks: number;
  depth: number;
  runs: number;
  /** From `POST …/trigger` to the run's end: when the engine told its listeners (bench/local.ts `endedAt`; since 2026-12-05). */
  wall_ms_median: number;
  /**
   * From the run's end to the end of the schedules' listener's own work (a queued trigger's or catch-up run's
   * reads and writes): part of `wall_ms_median` until 2026-12-05.
   */
  listener_after_end_ms_median: number;
  /** The tasks' own time: each layer's tasks at once through the task spawner, times the depth. */
  task_own_ms: number;
  overhead_per_task_ms: number;
  overhead_per_task_ms_runs: number[];
  /**
   * The overhead as measured until 2026-12-05: only one task's own time per layer taken off, so that the
   * CPU of a wide layer's own processes (≈ 2.7 ms a task for 200 at once on 2 cores) counted as the engine's.
   */
  overhead_per_task_ms_one_task_per_layer: number;
  /** CPU of the local mode (this process's threads and the task spawner's) from trigger to settled, per task. */
  cpu_per_task_ms: number;
  cpu_per_task_ms_runs: number[];
  /** The machine's 1-minute load average at each run's start (2 cores here: above 2, others wait for a core). */
  load_average_runs: number[];
  /** The overhead of the unmeasured warm-up run of the same DAG, when there was one (runDag `warmUp`). */
  overhead_per_task_ms_warm_up?: number;
}

/**
 * One run of `name`, triggered, until it ends (bench/local.ts `endedAt`: when the engine told its listeners,
 * not when the schedules' listener has done its own work after it, `afterEnd`), then settled.
 */
async function timedRun(b: BenchSundial, name: string): Promise<{ wall: number; afterEnd: number }> {
  const t0 = performance.now();
  const run = await b.call('POST', `/api/process_definitions/${name}/trigger`);
  const status = await b.ended(run.process_id);
  const listenerDone = performance.now();
  const wall = (b.endedAt(run.process_id) ?? listenerDone) - t0;
  if (status !== 'succeeded') throw new Error(`${name} run ${run.process_id} ended ${status}`);
  await b.settled(run.process_id);
  return { wall, afterEnd: listenerDone - t0 - wall };
}

/** The tasks' own time of `dag`: each layer's tasks at once through the task spawner (one task's: `oneTask`), times the depth. */
async function tasksOwnMs(dag: Dag, oneTask: number): Promise<number> {
  // A wide layer's rounds: about 300 tasks in all, at least 3 rounds.
  return (dag.width === 1 ? oneTask : await shellSpawnMs(Math.max(3, Math.ceil(300 / dag.width)), dag.width)) * dag.depth;
}

/**
 * Runs `dag` `runs` times, measured. `warmUp`: one run of the same DAG first, not measured (its overhead is
 * reported apart): a DAG's shape has code paths of its own (a chain's one-write starts, a fan-in's counted
 * dependencies) that the JIT compiler has not optimized yet after other shapes ran. `beforeRuns`: called
 * after the definition's PUT and the warm-up, before the measured runs.
 */
async function runDag(b: BenchSundial, name: string, dag: Dag, runs: number, options: { warmUp?: boolean; beforeRuns?: () => void } = {}): Promise<DagFigures> {
  await b.call('PUT', `/api/process_definitions/${name}`, { process_definition_name: name, task_definitions: dag.tasks });
  let warmUp: number | undefined;
  if (options.warmUp) {
    const own = await tasksOwnMs(dag, await shellSpawnMs(15));
    const { wall } = await timedRun(b, name);
    warmUp = (wall - own) / dag.tasks.length;
    process.stderr.write(`bench:   ${name} warm-up run: ${Math.round(wall)} ms, tasks' own ${Math.round(own)} ms, ${round(warmUp)} ms/task (not measured)\n`);
  }
  options.beforeRuns?.();
  const walls: number[] = [];
  const overheads: number[] = [];
  const oneTaskOverheads: number[] = [];
  const cpus: number[] = [];
  const loads: number[] = [];
  const afterEnds: number[] = [];
  let own = 0;
  for (let r = 0; r < runs; r++) {
    const oneTask = await shellSpawnMs(15);
    own = await tasksOwnMs(dag, oneTask);
    loads.push(round(loadavg()[0] ?? 0, 1));
    const cpu0 = localCpuMs();
    const { wall, afterEnd } = await timedRun(b, name);
    afterEnds.push(afterEnd);
    cpus.push((localCpuMs() - cpu0) / dag.tasks.length);
    walls.push(wall);
    overheads.push((wall - own) / dag.tasks.length);
    oneTaskOverheads.push((wall - oneTask * dag.depth) / dag.tasks.length);
    process.stderr.write(
      `bench:   ${name} run ${r + 1}: ${Math.round(wall)} ms, tasks' own ${Math.round(own)} ms, ${round((wall - own) / dag.tasks.length)} ms/task (one task per layer off: ${round((wall - oneTask * dag.depth) / dag.tasks.length)}), CPU ${round(cpus[r] ?? 0)} ms/task (load ${loads[r]})\n`,
    );
  }
  return {
    tasks: dag.tasks.length,
    depth: dag.depth,
    runs,
    wall_ms_median: Math.round(median(walls)),
    listener_after_end_ms_median: round(median(afterEnds)),
    task_own_ms: Math.round(own),
    overhead_per_task_ms: round(median(overheads)),
    overhead_per_task_ms_runs: overheads.map((x) => round(x)),
    overhead_per_task_ms_one_task_per_layer: round(median(oneTaskOverheads)),
    cpu_per_task_ms: round(median(cpus)),
    cpu_per_task_ms_runs: cpus.map((x) => round(x)),
    load_average_runs: loads,
    ...(warmUp === undefined ? {} : { overhead_per_task_ms_warm_up: round(warmUp) }),
  };
}

// ---- sections ----------------------------------------------------------------------------------------

async function engineSection(results: Record<string, unknown>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const b = await startBench(dataDir);
  try {
    const overhead: Record<string, DagFigures> = {};
    // A warm-up run: the first execution pays for loading and JIT.
    await runDag(b, 'warmup', independent(20), 1);
    // Each DAG after a warm-up run of its own (runDag `warmUp`; since 2026-12-05).
    overhead['200 independent'] = await runDag(b, 'independent', independent(200), RUNS, { warmUp: true });
    // The chain's store calls are counted and traced: each task has one dependent, and each step of the
    // chain (a task's Record to its dependent's Prepare) waits on the calls in its path.
    overhead['chain of 50'] = await runDag(b, 'chain', chain(50), RUNS, {
      warmUp: true,
      beforeRuns: () => {
        b.resetCounts();
        b.dynamo.trace(true);
      },
    });
    results.chain_store_work = chainStoreWork(b, 50 * RUNS, b.dynamo.trace(false));
    overhead['10×20 layered (fan-in 3)'] = await runDag(b, 'layered', layered(10, 20, 3), RUNS, { warmUp: true, beforeRuns: () => b.resetCounts() });
    results.engine_overhead = overhead;

    // Cost per attempt, counted over the layered runs (trigger's writes included, amortized).
    const attempts = 200 * RUNS;
    const counts = b.dynamo.read();
    const invocations = b.steps.prepare.length + b.steps.record.length;
    const stepMs = median([...b.steps.prepare, ...b.steps.record]);
    const perAttempt = {
      state_transitions: round(b.sundial.orchestrator.stateTransitions / attempts),
      lambda_invocations: round(invocations / attempts),
      lambda_step_ms_median_local: round(stepMs, 1),
      dynamodb_calls: round(Object.values(counts.calls).reduce((a, c) => a + c, 0) / attempts),
      dynamodb_reads: round(counts.reads / attempts),
      dynamodb_writes: round(counts.writes / attempts),
      dynamodb_read_units: round(counts.readUnits / attempts),
      dynamodb_write_units: round(counts.writeUnits / attempts),
      calls_by_command: Object.fromEntries(Object.entries(counts.calls).map(([k, v]) => [k, round(v / attempts)])),
      writes_by_kind: perEach(counts.writesByKind, attempts),
    };
    const dollars = {
      step_functions: perAttempt.state_transitions * PRICES.sfnTransition * 1000,
      lambda:
        perAttempt.lambda_invocations * (PRICES.lambdaRequest + (Math.max(stepMs, 1) / 1000) * ENGINE_MEMORY_GB * PRICES.lambdaGbSecondArm) * 1000,
      dynamodb: (perAttempt.dynamodb_write_units * PRICES.dynamoWriteUnit + perAttempt.dynamodb_read_units * PRICES.dynamoReadUnit) * 1000,
    };
    results.cost_per_attempt = {
      ...perAttempt,
      usd_per_1000_attempts: {
        step_functions: round(dollars.step_functions, 5),
        lambda: round(dollars.lambda, 5),
        dynamodb: round(dollars.dynamodb, 5),
        total: round(dollars.step_functions + dollars.lambda + dollars.dynamodb, 5),
      },
    };

    // Trigger → first task running: the task writes the time it started (ns since the epoch).
    const marks = mkdtempSync(join(tmpdir(), 'sundial-bench-marks-'));
    await b.call('PUT', '/api/process_definitions/one', {
      process_definition_name: 'one',
      task_definitions: [noop('only', [], `date +%s%N > ${marks}/$SUNDIAL_PROCESS_ID`)],
    });
    const latencies: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.timeOrigin + performance.now();
      const run = await b.call('POST', '/api/process_definitions/one/trigger');
      await b.ended(run.process_id);
      const started = Number(BigInt(readFileSync(join(marks, run.process_id), 'utf8').trim()) / 1000n) / 1000;
      if (i > 0) latencies.push(started - t0); // the first is a warm-up
    }
    rmSync(marks, { recursive: true, force: true });
    results.trigger_latency = { runs: latencies.length, median_ms: round(median(latencies), 1), p90_ms: round(quantile(latencies, 0.9), 1) };
  } finally {
    await b.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The writes an attempt makes itself, in its Prepare and Record (labels of `DynamoCounts.writesByKind`);
 * the rest are its run's, amortized: the trigger's slots and done shards (`:create`), the run item and its
 * counters, the schedule state, and the expiry set when the run ends (`:expiry`).
 */
const ATTEMPT_WRITES = new Set(['SLOT', 'TASK', 'TASKID', 'DONE', 'STATS:tasks', 'ENTRY']);

/** Each count divided by `n`, largest first. */
const perEach = (counts: Record<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, round(v / n)]));

/**
 * The chain's store work: writes per attempt (each attempt has one dependent; the trigger's and the run
 * end's writes amortized), by kind of item, and the store calls *in a row* per step of the chain, from
 * the Record of task k to the end of the Prepare that launches task k+1: the calls in that window,
 * grouped so that calls in flight together count once (the groups are the round trips the step waits on).
 */
function chainStoreWork(b: BenchSundial, attempts: number, calls: TracedCall[]) {
  const counts = b.dynamo.read();
  const inARow: number[] = [];
  const stepMs: number[] = [];
  const storeMs: number[] = [];
  const paths = new Map<string, number>();
  const byRun = new Map<string, typeof b.stepLog>();
  for (const s of b.stepLog) byRun.set(s.process_id, [...(byRun.get(s.process_id) ?? []), s]);
  for (const steps of byRun.values()) {
    const record = new Map(steps.filter((s) => s.step === 'record').map((s) => [s.task_definition_name, s]));
    const launch = new Map(steps.filter((s) => s.step === 'prepare' && !s.skip).map((s) => [s.task_definition_name, s]));
    for (let k = 0; record.has(`t${k}`) && launch.has(`t${k + 1}`); k++) {
      const from = record.get(`t${k}`)!.start;
      const to = launch.get(`t${k + 1}`)!.end;
      const within = calls.filter((c) => c.end > from && c.start < to).sort((x, y) => x.start - y.start);
      const groups: TracedCall[][] = [];
      let groupEnd = -Infinity;
      let inStore = 0;
      for (const c of within) {
        if (c.start < groupEnd) groups.at(-1)!.push(c);
        else groups.push([c]);
        inStore += Math.max(0, c.end - Math.max(c.start, groupEnd));
        groupEnd = Math.max(groupEnd, c.end);
      }
      inARow.push(groups.length);
      stepMs.push(to - from);
      storeMs.push(inStore);
      const path = groups.map((g) => [...new Set(g.map((c) => c.kind))].sort().join('+')).join(' → ');
      paths.set(path, (paths.get(path) ?? 0) + 1);
    }
  }
  const [commonPath] = [...paths].sort(([, a], [, b]) => b - a);
  const attemptWrites = Object.entries(counts.writesByKind)
    .filter(([label]) => ATTEMPT_WRITES.has(label))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    attempts,
    attempt_writes_per_attempt: round(attemptWrites / attempts),
    dynamodb_writes_per_attempt: round(counts.writes / attempts),
    dynamodb_reads_per_attempt: round(counts.reads / attempts),
    dynamodb_write_units_per_attempt: round(counts.writeUnits / attempts),
    writes_by_kind: perEach(counts.writesByKind, attempts),
    steps: inARow.length,
    store_calls_in_a_row_median: median(inARow),
    store_calls_in_a_row_max: Math.max(...inARow),
    step_ms_median: round(median(stepMs), 1),
    /** Of a step, the time some store call was in flight (calls in flight together counted once). */
    step_store_ms_median: round(median(storeMs), 1),
    commonest_path: commonPath ? { calls: commonPath[0], steps: commonPath[1] } : undefined,
  };
}

async function latencyOf(b: BenchSundial, path: string, n: number): Promise<number> {
  for (let i = 0; i < 10; i++) await b.call('GET', path);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await b.call('GET', path);
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function historySection(results: Record<string, unknown>) {
  // In memory: the same dynalite and indexes, without LevelDB's disk writes slowing the seeding.
  const b = await startBench();
  const routes = {
    'GET processes (X, 50)': '/api/processes/?process_definition_name=hist-0&max_records=50',
    'GET tasks': '/api/tasks/',
  };
  try {
    const small = 1000;
    let t0 = performance.now();
    await seedHistory(b.sundial.services.store.db, 0, small);
    const before: Record<string, number> = {};
    for (const [label, path] of Object.entries(routes)) before[label] = await latencyOf(b, path, 40);
    // Up to HISTORY_MAX runs, in chunks, while the seeding budget lasts.
    t0 = performance.now();
    let target = small;
    while (target < HISTORY_MAX && performance.now() - t0 < SEED_SECONDS * 1000) {
      const chunk = Math.min(5000, HISTORY_MAX - target);
      await seedHistory(b.sundial.services.store.db, target, chunk);
      target += chunk;
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    const after: Record<string, number> = {};
    for (const [label, path] of Object.entries(routes)) after[label] = await latencyOf(b, path, 40);
    results.api_vs_history = {
      small_runs: small,
      large_runs: target,
      seed_runs_per_s: Math.round((target - small) / seedSeconds),
      routes: Object.fromEntries(
        Object.keys(routes).map((label) => [
          label,
          { median_ms_small: round(before[label] ?? 0), median_ms_large: round(after[label] ?? 0), ratio: round((after[label] ?? 0) / (before[label] ?? 1)) },
        ]),
      ),
    };
  } finally {
    await b.close();
  }
}

/** Each function's memory under its heaviest requests (bench/lambdas.ts), from the bundles of the bundles section. */
async function lambdasSection(results: Record<string, unknown>) {
  if (!results.bundles) await measureBundles(1);
  const b = await startBench();
  try {
    results.lambdas = await measureLambdas(b);
  } finally {
    await b.close();
  }
}

/**
 * The big DAGs, 10 layers of 100 and of 1,000 tasks, each in a process of its own so that its peak RSS is
 * the local mode's alone, and how the overhead per task grows from 1,000 tasks to 10,000.
 */
async function memorySection(results: Record<string, unknown>) {
  for (const tasks of [1000, 10_000]) {
    const child = spawn(process.execPath, [...process.execArgv, '--import', 'tsx', join(import.meta.dirname, 'run.ts'), `--dag${tasks}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`the ${tasks.toLocaleString('en')}-task DAG process exited ${code}`);
    results[`memory_${tasks}_tasks`] = JSON.parse(out.trim().split('\n').pop() ?? '{}');
  }
  const [small, large] = [results.memory_1000_tasks, results.memory_10000_tasks] as BigDagFigures[];
  results.scale_10000_over_1000 = {
    overhead_per_task: round((large?.overhead_per_task_ms ?? 0) / (small?.overhead_per_task_ms ?? 1)),
    cpu_per_task: round((large?.cpu_per_task_ms ?? 0) / (small?.cpu_per_task_ms ?? 1)),
    dynamodb_write_units_per_task: round((large?.dynamodb_write_units_per_task ?? 0) / (small?.dynamodb_write_units_per_task ?? 1)),
  };
}

/** Pids found by childPid, per parent and marker. */
const childPids = new Map<string, number>();
/** A child of `parent` whose command line includes `marker`, found in /proc (and remembered); undefined if none. */
function childPid(parent: number | undefined, marker: string): number | undefined {
  if (parent === undefined) return undefined;
  const key = `${parent} ${marker}`;
  const cached = childPids.get(key);
  if (cached !== undefined && existsSync(`/proc/${cached}`)) return cached;
  childPids.delete(key);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(parent) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) {
        childPids.set(key, Number(entry));
        return Number(entry);
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

/** This process's task spawner and the spawner's fork server (when python3 starts the tasks). */
const spawnerPids = (): (number | undefined)[] => {
  const spawner = childPid(process.pid, 'spawner-process.mjs');
  return [spawner, childPid(spawner, 'fork-server.py')];
};

/** RSS of the task spawner and its fork server, from /proc; 0 if none. */
function spawnerRssBytes(): number {
  let bytes = 0;
  for (const pid of spawnerPids()) {
    try {
      const kb = pid === undefined ? undefined : /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      bytes += kb ? Number(kb) * 1024 : 0;
    } catch {
      /* gone meanwhile */
    }
  }
  return bytes;
}

/**
 * CPU time (user + system, ms) of the local mode so far: every thread of this process (the server's, the
 * store's worker, GC and libuv threads), its task spawner and the spawner's fork server; not the tasks' own
 * processes.
 */
function localCpuMs(): number {
  const { user, system } = process.cpuUsage();
  let spawner = 0;
  for (const pid of spawnerPids()) {
    try {
      // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
      const fields = pid === undefined ? [] : (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []);
      spawner += ((Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 1000) / 100;
    } catch {
      /* gone meanwhile */
    }
  }
  return (user + system) / 1000 + spawner;
}

/** A layered DAG of 10 × `width` tasks (fan-in 1) run once: its figures, peak RSS and CPU per task, as JSON on stdout. */
async function bigDag(width: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const b = await startBench(dataDir);
  const status = () => readFileSync('/proc/self/status', 'utf8');
  const kb = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  let peak = process.memoryUsage().rss;
  // The local mode is this process and its task spawner (local/engine/spawner.ts): their RSS together.
  let spawnerPeak = 0;
  // At the peak: this process's RSS in anonymous memory and in mapped files (LevelDB maps its tables).
  let atPeak = { anon: 0, file: 0, heapTotal: 0, executions: 0 };
  let executionsPeak = 0;
  const sampler = setInterval(() => {
    const spawner = spawnerRssBytes();
    spawnerPeak = Math.max(spawnerPeak, spawner);
    executionsPeak = Math.max(executionsPeak, b.sundial.orchestrator.active);
    const rss = process.memoryUsage.rss() + spawner;
    if (rss > peak) {
      const s = status();
      peak = rss;
      atPeak = { anon: kb(s, 'RssAnon') * 1024, file: kb(s, 'RssFile') * 1024, heapTotal: process.memoryUsage().heapTotal, executions: b.sundial.orchestrator.active };
    }
  }, 50);
  // The store's work per task from the trigger on (the definition's PUT left out): what each task costs in
  // DynamoDB, which must not grow with the run (a done shard's size is billed on every task's end).
  const run = await runDag(b, 'big', layered(10, width, 1), 1, { beforeRuns: () => b.resetCounts() });
  const counts = b.dynamo.read();
  const figures = {
    ...run,
    dynamodb_writes_per_task: round(counts.writes / run.tasks),
    dynamodb_write_units_per_task: round(counts.writeUnits / run.tasks),
    dynamodb_read_units_per_task: round(counts.readUnits / run.tasks),
  };
  clearInterval(sampler);
  const heapUsed = process.memoryUsage().heapUsed;
  await b.close();
  rmSync(dataDir, { recursive: true, force: true });
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  console.log(
    JSON.stringify({
      ...figures,
      peak_rss_mb: mb(peak),
      peak_rss_server_alone_mb: mb(process.resourceUsage().maxRSS * 1024),
      peak_rss_spawner_mb: mb(spawnerPeak),
      at_peak: { server_anon_mb: mb(atPeak.anon), server_file_mb: mb(atPeak.file), heap_total_mb: mb(atPeak.heapTotal), executions_running: atPeak.executions },
      executions_running_peak: executionsPeak,
      heap_used_at_end_mb: mb(heapUsed),
    }),
  );
}

// ---- table -------------------------------------------------------------------------------------------

function summary(r: Record<string, any>): Array<{ metric: string; value: string; target: string; ok: string }> {
  const rows: Array<{ metric: string; value: string; target: string; ok: string }> = [];
  const row = (metric: string, value: string, target: string, ok?: boolean) => rows.push({ metric, value, target, ok: ok === undefined ? '' : ok ? 'yes' : 'NO' });
  for (const [name, f] of Object.entries((r.engine_overhead ?? {}) as Record<string, DagFigures>)) {
    // Issue 18's targets: < 10 ms per step of a chain (one task a step), < 5 ms per task elsewhere.
    const target = f.depth === f.tasks ? 10 : 5;
    row(`engine overhead/task: ${name}`, `${f.overhead_per_task_ms} ms (wall ${f.wall_ms_median} ms, tasks' own ${f.task_own_ms} ms; one task per layer off: ${f.overhead_per_task_ms_one_task_per_layer} ms${f.overhead_per_task_ms_warm_up === undefined ? '' : `; its warm-up run ${f.overhead_per_task_ms_warm_up} ms`})`, `< ${target} ms`, f.overhead_per_task_ms < target);
  }
  const c = r.cost_per_attempt;
  if (c) {
    row('state transitions / attempt', String(c.state_transitions), '6 (Batch, 1 attempt)');
    row('Lambda invocations / attempt', String(c.lambda_invocations), '2');
    row('DynamoDB reads / writes per attempt', `${c.dynamodb_reads} / ${c.dynamodb_writes} (RRU ${c.dynamodb_read_units}, WRU ${c.dynamodb_write_units})`, 'falling');
  }
  const w = r.chain_store_work;
  if (w) {
    row('DynamoDB writes / attempt, chain (1 dependent): its own (with its run\'s)', `${w.attempt_writes_per_attempt} (${w.dynamodb_writes_per_attempt})`, '≤ 7', w.attempt_writes_per_attempt <= 7);
    row('store calls in a row / chain step', `${w.store_calls_in_a_row_median} (step ${w.step_ms_median} ms, in the store ${w.step_store_ms_median} ms)`, '≤ 4', w.store_calls_in_a_row_median <= 4);
  }
  if (c) {
    row('$ per 1,000 attempts (SFN+Lambda+DDB)', `$${c.usd_per_1000_attempts.total}`, 'falling');
  }
  const h = r.api_vs_history;
  if (h) {
    for (const [label, f] of Object.entries(h.routes as Record<string, { median_ms_small: number; median_ms_large: number; ratio: number }>)) {
      row(`${label}: ${h.small_runs} → ${h.large_runs} runs`, `${f.median_ms_small} → ${f.median_ms_large} ms (×${f.ratio})`, '≈ ×1', f.ratio < 1.5);
    }
  }
  for (const [name, f] of Object.entries((r.bundles ?? {}) as Record<string, { kb: number; load_ms_median: number; rss_after_load_mb: number }>)) {
    row(`bundle ${name}`, `${f.kb} KB, load ${f.load_ms_median} ms, RSS ${f.rss_after_load_mb} MB`, '< 300 KB, < 100 ms', f.kb < 300 && f.load_ms_median < 100);
  }
  for (const [name, f] of Object.entries((r.lambdas ?? {}) as Record<string, { memory_mb: number; peak_rss_mb: number; routes: Record<string, { median_cpu_ms: number }> }>)) {
    const heaviest = Math.max(...Object.values(f.routes).map((x) => x.median_cpu_ms));
    row(`function ${name}: peak RSS / memory`, `${f.peak_rss_mb} MB / ${f.memory_mb} MB (heaviest request ${heaviest} ms CPU)`, 'peak < ½ memory', f.peak_rss_mb < f.memory_mb / 2);
  }
  if (r.trigger_latency) row('trigger → first task running', `${r.trigger_latency.median_ms} ms (p90 ${r.trigger_latency.p90_ms})`, 'median of 20');
  for (const [tasks, rssTarget] of [['1,000', 500], ['10,000', 1024]] as const) {
    const m = r[`memory_${tasks.replace(',', '')}_tasks`];
    if (!m) continue;
    row(`${tasks}-task DAG: peak RSS`, `${m.peak_rss_mb} MB (mapped files ${m.at_peak?.server_file_mb} MB)`, `< ${rssTarget} MB`, m.peak_rss_mb < rssTarget);
    row(`${tasks}-task DAG: overhead/task`, `${m.overhead_per_task_ms} ms (wall ${m.wall_ms_median} ms, tasks' own ${m.task_own_ms} ms, CPU ${m.cpu_per_task_ms} ms/task; one task per layer off: ${m.overhead_per_task_ms_one_task_per_layer} ms)`, '< 5 ms', m.overhead_per_task_ms < 5);
    if (m.dynamodb_write_units_per_task !== undefined) row(`${tasks}-task DAG: DynamoDB per task`, `${m.dynamodb_writes_per_task} writes, ${m.dynamodb_write_units_per_task} WRU, ${m.dynamodb_read_units_per_task} RRU`, 'falling');
  }
  const scale = r.scale_10000_over_1000;
  if (scale) row('overhead/task at 10,000 ÷ at 1,000 tasks', `×${scale.overhead_per_task} (CPU/task ×${scale.cpu_per_task})`, '≤ 1.3', scale.overhead_per_task <= 1.3);
  if (scale?.dynamodb_write_units_per_task) row('WRU/task at 10,000 ÷ at 1,000 tasks', `×${scale.dynamodb_write_units_per_task}`, '≤ 1.3', scale.dynamodb_write_units_per_task <= 1.3);
  return rows;
}

async function main() {
  if (process.argv.includes('--dag1000')) return bigDag(100);
  if (process.argv.includes('--dag10000')) return bigDag(1000);
  const started = performance.now();
  const results: Record<string, unknown> = { node: process.version, cpus: cpus().length, when: new Date().toISOString(), runs_per_dag: RUNS };
  const timings: Record<string, number> = {};
  const section = async (name: string, fn: (r: Record<string, unknown>) => Promise<void>) => {
    if (!want(name)) return;
    const t0 = performance.now();
    try {
      await fn(results);
    } catch (err) {
      // One broken section must not lose the others' figures.
      results[`${name}_error`] = String((err as Error).stack ?? err);
      process.stderr.write(`bench: ${name} failed: ${(err as Error).message}\n`);
    }
    timings[name] = Math.round((performance.now() - t0) / 1000);
    process.stderr.write(`bench: ${name} done in ${timings[name]} s\n`);
  };
  await section('bundles', async (r) => {
    r.bundles = await measureBundles(5);
  });
  await section('lambdas', lambdasSection);
  await section('memory', memorySection);
  await section('engine', engineSection);
  await section('history', historySection);
  results.section_seconds = timings;
  results.total_seconds = Math.round((performance.now() - started) / 1000);
  const file = join(import.meta.dirname, ONLY ? 'results.partial.json' : 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.table(summary(results));
  console.log(`written to ${file} in ${results.total_seconds} s`);
  await sleep(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
