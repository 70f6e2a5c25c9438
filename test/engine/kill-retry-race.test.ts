/**
 * A kill and a retry of the same run sent milliseconds apart (issue 15): the retry must either wait
 * for the kill to finish or answer 409, and the run must always end. Before the fix, the retry reopened
 * the run while the kill was still stopping its tasks, and the kill then failed `a` without anyone
 * telling `b`: the run stayed `running` with nothing running.
 */
import { describe, expect, it } from 'vitest';
import { shellScript, shellTask, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const { api, current } = sundialPerFile();

const RACES = 16;

describe('kill racing retry', () => {
  it(`ends every run, and the retry answers 201 or 409 (${RACES} races, 0–20 ms apart)`, async () => {
    // Prepare: `a` runs until stopped on its first attempt only, so that a retried run ends quickly on its own,
    // well before the deadline below; a run still `running` then has nothing running.
    await Promise.all(
      Array.from({ length: RACES }, (_, i) =>
        api('PUT', `/api/process_definitions/race-${i}`, {
          process_definition_name: `race-${i}`,
          task_definitions: [
            shellScript('a', `if [ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = "0" ]; then echo up; ${UNTIL_STOPPED}; fi`),
            shellTask('b', { dependencies: [{ task_definition_name: 'a', success_required: true }] }),
          ],
        }).then((r) => expect(r.status, r.text).toBe(201)),
      ),
    );
    const runs = await Promise.all(
      Array.from({ length: RACES }, async (_, i) => {
        const run = (await api('POST', `/api/process_definitions/race-${i}/trigger`)).json;
        // `a` is running (its process printed): the kill has something to stop.
        await until(
          () => api('GET', `/api/processes/${run.process_id}`),
          (r) => r.json.task.some((t: { log_entries: Array<{ message: string }> }) => t.log_entries.some((e) => e.message === 'up')),
          15_000,
        );
        return run.process_id as string;
      }),
    );

    // Act: kill, then retry after 0–20 ms, every run at once.
    const answers = await Promise.all(
      runs.map(async (id, i) => {
        let killed = false;
        const kill = api('POST', `/api/processes/${id}/kill`).finally(() => {
          killed = true;
        });
        await new Promise((r) => setTimeout(r, i % 21));
        // Retries one after another while the kill is in flight (the window is a few milliseconds wide),
        // then one more after it answered, unless one was accepted already.
        const retries = [];
        for (;;) {
          const wasKilled = killed;
          const retry = await api('POST', `/api/processes/${id}/retry`);
          retries.push(retry);
          if (retry.status !== 409 || wasKilled) break;
        }
        return { id, kill: await kill, retries, retry: retries[retries.length - 1]! };
      }),
    );

    // Assess
    for (const { kill, retries } of answers) {
      expect(kill.status, kill.text).toBe(201);
      for (const retry of retries) {
        expect([201, 409], retry.text).toContain(retry.status);
        if (retry.status === 409) expect(retry.json.error.code).toBe('conflict');
      }
    }
    const finals = await Promise.all(
      answers.map(({ id }) => until(() => api('GET', `/api/processes/${id}`), (r) => r.json.status !== 'running', 15_000)),
    );
    for (const [i, final] of finals.entries()) {
      // A retry that was accepted ran `a` again (no sleep) and then `b`: the run succeeded.
      expect(final.json.status, JSON.stringify(final.json)).toBe(answers[i]?.retry.status === 201 ? 'succeeded' : 'failed');
    }
  }, 120_000);

  it('the reaper ends a run left running with nothing running (two sweeps in a row found it so)', async () => {
    // Prepare: the state the race left before the fix, made by hand: a killed run reopened behind the
    // kill's back (status running, `a` failed, `b` waiting on it), with no task running.
    await api('PUT', '/api/process_definitions/stalled', {
      process_definition_name: 'stalled',
      task_definitions: [
        shellScript('a', `echo up; ${UNTIL_STOPPED}`),
        shellTask('b', { dependencies: [{ task_definition_name: 'a', success_required: true }] }),
      ],
    });
    const id = (await api('POST', '/api/process_definitions/stalled/trigger')).json.process_id as string;
    await until(() => api('GET', `/api/processes/${id}`), (r) => r.json.task.some((t: { status: string }) => t.status === 'running'), 15_000);
    expect((await api('POST', `/api/processes/${id}/kill`)).status).toBe(201);
    const { store } = current().services;
    expect(await store.slots.transition(id, 'b', ['blocked'], 'waiting')).toBeDefined();
    expect(await store.runs.transitionRun(id, 'failed', 'running', {}, ['end_time', 'reason'])).toBeDefined();

    // Act
    await current().sundial.sweeper.sweep();
    const afterOne = (await api('GET', `/api/processes/${id}`)).json;
    await current().sundial.sweeper.sweep();

    // Assess: the first sweep only notes it (a run being retried looks the same for a moment)
    expect(afterOne.status).toBe('running');
    const final = (await api('GET', `/api/processes/${id}`)).json;
    expect(final.status).toBe('failed');
    expect(final.progress).toMatchObject({ failed: 2, waiting: 0, running: 0 }); // `b` blocked counts as failed
  }, 60_000);
});
