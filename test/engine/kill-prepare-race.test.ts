/**
 * A kill racing a `Prepare`: the Prepare read its run `running`, then the kill ended the run, stopped the
 * task's execution and settled its slot (finding no attempt written, it gave the claim back), then the
 * Prepare wrote its attempt `running`. Nothing ended that attempt: a killed run kept an attempt `running`
 * for ever (the running gauge too), and its callbacks were accepted. The interleaving is forced, not timed:
 * the store's write of the attempt runs the whole kill before it goes out. Both ways into an attempt:
 * a task's first, claimed by its start (`claim.claimed`), and a later one, claimed by Prepare from Record's
 * hint.
 */
import { describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../lambdas/store/runs';
import { bearer, metricValue, mintTaskToken, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const { api, define, trigger, current } = sundialPerFile();

type CreateTask = (task: TaskRecord, extra?: Record<string, unknown>) => Promise<void>;

/**
 * Runs `kill` (to its answer) just before the store writes attempt number `attempt` (its previous
 * attempts) of a run of definition `definition`, once; answers a promise of what the kill answered.
 */
function killBeforeAttemptWrite(definition: string, attempt: number, kill: (processId: string) => Promise<unknown>) {
  const runs = current().services.store.runs as unknown as { createTask: CreateTask };
  const original = runs.createTask;
  let killed: ((answer: unknown) => void) | undefined;
  const answer = new Promise<unknown>((resolve) => (killed = resolve));
  runs.createTask = async function (this: unknown, task, extra) {
    if (killed && task.process_definition_name === definition && task.previous_attempt_count === attempt) {
      const resolve = killed;
      killed = undefined;
      runs.createTask = original;
      resolve(await kill(task.process_id));
    }
    return original.call(this, task, extra);
  };
  return { answer, restore: () => void (runs.createTask = original) };
}

describe('kill racing Prepare', () => {
  it.each([
    ['the first attempt (claimed by the task start)', 0, 1],
    ['a second attempt (claimed by Prepare, after Record)', 1, 2],
  ] as const)('%s: no attempt stays running after the run was killed, and its callbacks are refused', async (label, attempt, maxAttempts) => {
    // Prepare: a task that fails its first attempt when it has another, and else runs until stopped.
    const name = `kill-prepare-${attempt}`;
    await define(name, [shellScript('a', `echo up; if [ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = "${attempt}" ]; then ${UNTIL_STOPPED}; fi; exit 1`, { max_attempts: maxAttempts })]);
    const race = killBeforeAttemptWrite(name, attempt, (id) => api('POST', `/api/processes/${id}/kill`));

    // Act
    let run: { process_id: string };
    try {
      run = await trigger(name);
    } finally {
      // A kill that never came would leave the hook for the next test.
      void race.answer.then(race.restore);
    }
    const killAnswer = (await race.answer) as { status: number; text: string };

    // Assess: the kill was accepted, and then the attempt written after it ended (failed, with the kill's reason).
    expect(killAnswer.status, killAnswer.text).toBe(201);
    const final = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.task.length === attempt + 1 && r.json.task.every((t: { status: string }) => t.status !== 'running'),
      10_000,
    );
    expect(final.json.status, label).toBe('failed');
    const raced = final.json.task.find((t: { previous_attempt_count: number }) => t.previous_attempt_count === attempt);
    expect(raced, JSON.stringify(final.json)).toMatchObject({ status: 'failed' });
    expect(raced.end_time).toBeDefined();
    // Nothing ran it: the kill had stopped its execution before the attempt was written.
    expect(raced.log_entries.map((e: { message: string }) => e.message)).not.toContain('up');
    // Its callbacks are refused like those of any ended attempt.
    const token = await mintTaskToken(current().services, raced.task_id, run.process_id);
    expect((await api('POST', `/api/tasks/${raced.task_id}/succeed`, undefined, bearer(token))).status).toBe(409);
    const metrics = await api('GET', '/_internal_/metrics');
    expect(metricValue(metrics.text, 'sundial_tasks{status="running"}')).toBe(0);
  }, 60_000);

  it('a kill and a retry of the run before the attempt is written: the attempt of the round before the retry ends, the retried run succeeds', async () => {
    // Prepare
    const name = 'kill-retry-prepare';
    await define(name, [shellScript('a', 'echo up')]);
    const race = killBeforeAttemptWrite(name, 0, async (id) => {
      const kill = await api('POST', `/api/processes/${id}/kill`);
      const retry = await api('POST', `/api/processes/${id}/retry`);
      return { kill: kill.status, retry: retry.status };
    });

    // Act
    const run = await trigger(name);
    expect(await race.answer).toEqual({ kill: 201, retry: 201 });

    // Assess: the retry's attempt ran; the one written behind the kill's back ended, and nothing ran it
    const final = await until(
      () => api('GET', `/api/processes/${run.process_id}`),
      (r) => r.json.status !== 'running' && r.json.task.length === 2 && r.json.task.every((t: { status: string }) => t.status !== 'running'),
      10_000,
    );
    expect(final.json.status).toBe('succeeded');
    const [stale, retried] = [...final.json.task].sort((x: { start_time: string }, y: { start_time: string }) => x.start_time.localeCompare(y.start_time));
    expect(stale).toMatchObject({ status: 'failed' });
    expect(stale.log_entries.map((e: { message: string }) => e.message)).toEqual(['attempt failed: the run was killed and retried before the attempt started']);
    expect(retried).toMatchObject({ status: 'succeeded' });
  }, 60_000);
});
