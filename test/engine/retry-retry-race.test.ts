/**
 * Two retries of the same failed run at once. A retry's writes to the run's slots, its done shards and its
 * run item are not conditional on the run: a second retry that wrote them after the first had reopened the
 * run (its transition then refused: 409) erased the ends that the first one's tasks had counted since, and
 * the run never ended. Now a retry claims the run (`retrying`, lambdas/engine/fan-out.ts `reopen`) before it
 * writes anything, and the second is refused there. The interleaving is forced, not timed: the first
 * retry's rewrite of the done shards waits until the second has reached the same point (before the fix) or
 * has been answered (with it), and the second's waits until a task of the first has ended and been counted.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const { api, define, trigger, finished, current } = sundialPerFile();
const dir = mkdtempSync(join(tmpdir(), 'retry-race-'));
/** The write end this test holds of the FIFO that lets y go. */
let release: number | undefined;
afterAll(() => {
  if (release !== undefined) closeSync(release);
  rmSync(dir, { recursive: true, force: true });
});

type Fn = (...args: any[]) => Promise<any>;

describe('two retries of a run at once', () => {
  it('one reopens the run and the other is refused (409) before it writes anything: the run then ends', async () => {
    // Prepare: x and y fail their first attempts; on the retry x succeeds at once, y once it is let go: it
    // reads a line from a FIFO that this test holds open (read and write: neither side's open blocks, and
    // what is written waits in the pipe until y reads it), an event rather than a poll.
    const go = join(dir, 'go');
    execFileSync('mkfifo', [go]);
    release = openSync(go, 'r+');
    await define('retry-twice', [
      shellScript('x', '[ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 0 ] && exit 1; exit 0'),
      shellScript('y', `[ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 0 ] && exit 1; read -r line < ${go}`),
    ]);
    const run = await trigger('retry-twice');
    expect((await finished(run.process_id)).status).toBe('failed');
    const { store } = current().services;
    const slots = store.slots as unknown as Record<'runTasksReopened', Fn>;
    const original = slots.runTasksReopened;
    let calls = 0;
    let secondArrived!: () => void;
    const second = new Promise<void>((resolve) => (secondArrived = resolve));
    slots.runTasksReopened = async function (this: unknown, processId: string, ...rest: unknown[]) {
      if (processId !== run.process_id) return original.call(this, processId, ...rest);
      calls++;
      if (calls === 1) {
        await second;
      } else {
        secondArrived();
        await until(
          () => store.slots.get(run.process_id, 'x'),
          (s) => s?.status === 'succeeded',
          10_000,
        );
      }
      return original.call(this, processId, ...rest);
    };

    // Act
    let answers: Array<{ status: number; text: string }>;
    try {
      answers = await Promise.all(
        [0, 1].map((i) =>
          api('POST', `/api/processes/${run.process_id}/retry`).then((r) => {
            if (r.status === 409) secondArrived();
            return r;
          }),
        ),
      );
    } finally {
      slots.runTasksReopened = original;
    }
    // The run is the definition's run in progress again (the refused retry registered and undid nothing).
    expect((await store.schedules.get('retry-twice')).active.some((e: string) => e.endsWith(run.process_id))).toBe(true);
    writeSync(release, 'go\n');

    // Assess: one accepted, one refused, the refused one wrote no done shard; the run ends with both tasks
    expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.text))).toEqual([201, 409]);
    expect(answers.find((a) => a.status === 409)?.text).toMatch(/being retried by another request/);
    expect(calls).toBe(1);
    const ended = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status !== 'running',
      15_000,
    );
    expect(ended.json.status).toBe('succeeded');
    expect(ended.json.task.map((t: { task_definition_name: string; status: string }) => `${t.task_definition_name}:${t.status}`).sort()).toEqual(['x:failed', 'x:succeeded', 'y:failed', 'y:succeeded']);
  }, 60_000);
});
