/**
 * `npx tsx bench/output.ts`: how fast the local executor stores a task's captured output. A task
 * prints `seq 1 N` (BENCH_OUTPUT_LINES, default 20,000); the time is from the trigger until the run
 * ended, when the executor has stored every line (it stores the last ones before the attempt ends),
 * and the lines are then read back through `/output` to check that all N are there (`out_of_order`:
 * how many read back at another place than they were written).
 * Median of BENCH_RUNS (default 3) runs; prints lines per second (docs/PERFORMANCE.md).
 */
import '../local/polyfills';
import { startBench } from './local';
import { median, round } from './stats';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const LINES = Number(process.env.BENCH_OUTPUT_LINES ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** Output lines stored per second: median of the runs, with each run's seconds. */
export async function measureOutput(lines = LINES, runs = RUNS): Promise<{ lines: number; seconds: number[]; lines_per_second: number; out_of_order: number }> {
  const b = await startBench();
  try {
    await b.call('PUT', '/api/process_definitions/output', {
      process_definition_name: 'output',
      task_definitions: [
        {
          task_definition_name: 'print',
          dependencies: [],
          executable: { shell_script_command: { script: `seq 1 ${lines}` } },
          max_attempts: 1,
          backoff_base_seconds: 0,
          require_explicit_success: false,
        },
      ],
    });
    const seconds: number[] = [];
    let out_of_order = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const run = await b.call('POST', '/api/process_definitions/output/trigger');
      const status = await b.ended(run.process_id);
      seconds.push((performance.now() - t0) / 1000);
      if (status !== 'succeeded') throw new Error(`run ${run.process_id} ended ${status}`);
      const taskId = (await b.call('GET', `/api/processes/${run.process_id}`)).task[0].task_id as string;
      let read = 0;
      let misplaced = 0;
      let next: string | undefined;
      do {
        const page = await b.call('GET', `/api/tasks/${taskId}/output?limit=1000${next ? `&next=${encodeURIComponent(next)}` : ''}`);
        for (const line of page.lines) if (line.message !== String(++read)) misplaced++;
        next = page.lines.length > 0 ? page.next : undefined;
      } while (next);
      if (read !== lines) throw new Error(`read ${read} of ${lines} lines`);
      out_of_order = Math.max(out_of_order, misplaced);
    }
    return { lines, seconds: seconds.map((s) => round(s, 2)), lines_per_second: Math.round(lines / median(seconds)), out_of_order };
  } finally {
    await b.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureOutput();
  console.log(JSON.stringify(r));
  process.exit(0);
}
