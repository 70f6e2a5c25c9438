/**
 * Where a chain step's time goes, local mode (`npm run bench:chain`): a chain of `CHAIN_TASKS` (40) `true`
 * tasks run `CHAIN_RUNS` (4) times in the bench's instrumented local Sundial (bench/local.ts, a data dir on
 * disk), and per task (the first and the last left out) the medians of: `Prepare`, from its end to the
 * spawner's request, the task's start and end through the spawner, from its end to `Record`, `Record`, and
 * from `Record`'s end to the dependent's `Prepare` (negative: it starts before `Record` returns). Run 1
 * warms up. docs/PERFORMANCE.md, "Where a chain step's time goes now".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spawner } from '../local/engine/spawner';
import { noop, startBench } from './local';
import { median } from './stats';

const N = Number(process.env.CHAIN_TASKS ?? 40);
const RUNS = Number(process.env.CHAIN_RUNS ?? 4);
const dataDir = mkdtempSync(join(tmpdir(), 'sundial-chain-'));
const b = await startBench(dataDir);
const spawns: Array<{ requested: number; ended: number }> = [];
const spawn = Spawner.prototype.spawn;
Spawner.prototype.spawn = function (this: Spawner, ...args: Parameters<Spawner['spawn']>) {
  const task = spawn.apply(this, args);
  const timing = { requested: performance.now(), ended: 0 };
  spawns.push(timing);
  void task.ended.then(() => (timing.ended = performance.now()));
  return task;
};
try {
  const tasks = Array.from({ length: N }, (_, i) => noop(`t${i}`, i === 0 ? [] : [`t${i - 1}`]));
  await b.call('PUT', '/api/process_definitions/chain', { process_definition_name: 'chain', task_definitions: tasks });
  for (let r = 1; r <= RUNS; r++) {
    b.resetCounts();
    spawns.length = 0;
    const t0 = performance.now();
    const run = await b.call('POST', '/api/process_definitions/chain/trigger');
    await b.ended(run.process_id);
    const wall = (b.endedAt(run.process_id) ?? performance.now()) - t0;
    await b.settled(run.process_id);
    const step = (kind: 'prepare' | 'record', i: number) => b.stepLog.find((s) => s.step === kind && !s.skip && s.task_definition_name === `t${i}`)!;
    const gaps: Record<string, number[]> = { prepare: [], to_spawn: [], spawn: [], to_record: [], record: [], to_next_prepare: [] };
    for (let i = 1; i < N - 1; i++) {
      const prepare = step('prepare', i);
      const record = step('record', i);
      const task = spawns.find((s) => s.requested >= prepare.end)!;
      gaps.prepare!.push(prepare.end - prepare.start);
      gaps.to_spawn!.push(task.requested - prepare.end);
      gaps.spawn!.push(task.ended - task.requested);
      gaps.to_record!.push(record.start - task.ended);
      gaps.record!.push(record.end - record.start);
      gaps.to_next_prepare!.push(step('prepare', i + 1).start - record.end);
    }
    const figures = Object.entries(gaps).map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(', ');
    console.log(`run ${r}${r === 1 ? ' (warm-up)' : ''}: ${(wall / N).toFixed(1)} ms per task; medians (ms): ${figures}`);
  }
} finally {
  await b.close();
  rmSync(dataDir, { recursive: true, force: true });
}
