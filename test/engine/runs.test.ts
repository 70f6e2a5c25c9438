/**
 * The engine end to end in local mode: the synthesized task state machine run by the local
 * interpreter, shell tasks as real child processes that call back with curl and their token.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bearer, dependsOn, shellScript, shellTask, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api, define, trigger, finished } = sundial;

/** curl call from inside a task, using the callback environment Sundial gives it. */
const callback = (route: string, body?: string) =>
  `curl -sf -X POST -H "Authorization: Bearer $SUNDIAL_TASK_TOKEN" -H 'content-type: application/json' ${body ? `-d '${body}' ` : ''}"$SUNDIAL_URL/api/tasks/$SUNDIAL_TASK_ID/${route}"`;

/** Waits until a run's first attempt has printed `started`. */
const untilStarted = (processId: string) =>
  until(() => api('GET', `/api/processes/${processId}`), (r) => r.json.task[0]?.log_entries.some((e: any) => e.message === 'started'));

const attemptsOf = (run: any, name: string) =>
  run.task.filter((x: any) => x.task_definition_name === name).sort((a: any, b: any) => a.previous_attempt_count - b.previous_attempt_count);

const started = (x: any) => Date.parse(x.start_time);
const ended = (x: any) => Date.parse(x.end_time);

describe('runs', () => {
  it('runs a diamond in dependency order and succeeds', async () => {
    // Prepare
    await define('diamond', [
      shellTask('a', { executable: { shell_script_command: { script: 'echo a; sleep 0.2' } } }),
      shellTask('b', { dependencies: [dependsOn('a')] }),
      shellTask('c', { dependencies: [dependsOn('a')] }),
      shellTask('d', { dependencies: [dependsOn('b'), dependsOn('c')] }),
    ]);
    // Act
    const created = await trigger('diamond');
    const run = await finished(created.process_id);
    // Assess
    expect(created.status).toBe('running');
    expect(created.progress.total).toBe(4);
    expect(run.status).toBe('succeeded');
    expect(run.end_time).toBeDefined();
    expect(run.progress).toEqual({ total: 4, succeeded: 4, failed: 0, running: 0, waiting: 0 });
    const [a] = attemptsOf(run, 'a');
    const [b] = attemptsOf(run, 'b');
    const [c] = attemptsOf(run, 'c');
    const [d] = attemptsOf(run, 'd');
    expect(started(b)).toBeGreaterThanOrEqual(ended(a));
    expect(started(c)).toBeGreaterThanOrEqual(ended(a));
    expect(started(d)).toBeGreaterThanOrEqual(Math.max(ended(b), ended(c)));
    expect(a.log_entries.map((e: any) => [e.source, e.message])).toEqual([['stdout', 'a']]);
  });

  it('retries a failing task with backoff, then succeeds', async () => {
    // Prepare: fails on its first two attempts
    await define('flaky', [
      shellTask('flaky', {
        executable: { shell_script_command: { script: 'test "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" -ge 2' } },
        max_attempts: 3,
        backoff_base_seconds: 1,
        backoff_exponent: 1,
      }),
    ]);
    // Act
    const run = await finished((await trigger('flaky')).process_id);
    // Assess
    expect(run.status).toBe('succeeded');
    const attempts = attemptsOf(run, 'flaky');
    expect(attempts.map((x: any) => [x.previous_attempt_count, x.status])).toEqual([
      [0, 'failed'],
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    expect(attempts[0].log_entries.at(-1).message).toMatch(/exited with code 1/);
    // 1 s of backoff before each retry (an attempt starts after its backoff: test/engine/attempt-timing.test.ts)
    expect(started(attempts[1]) - ended(attempts[0])).toBeGreaterThanOrEqual(1000);
    expect(started(attempts[2]) - ended(attempts[1])).toBeGreaterThanOrEqual(1000);
  });

  it('fails an attempt that overruns max_runtime_seconds', async () => {
    await define('slow', [
      shellScript('slow', UNTIL_STOPPED, { max_runtime_seconds: 1 }),
    ]);
    const run = await finished((await trigger('slow')).process_id);
    expect(run.status).toBe('failed');
    const [attempt] = attemptsOf(run, 'slow');
    expect(attempt.status).toBe('failed');
    expect(attempt.log_entries.at(-1).message).toMatch(/max_runtime_seconds/);
    expect(ended(attempt) - started(attempt)).toBeLessThan(10_000);
  });

  it('require_explicit_success: exit 0 alone fails; /succeed then exit 0 succeeds', async () => {
    await define('explicit', [
      shellTask('silent', { require_explicit_success: true }),
      shellTask('reports', { require_explicit_success: true, executable: { shell_script_command: { script: callback('succeed') } } }),
    ]);
    const run = await finished((await trigger('explicit')).process_id);
    expect(attemptsOf(run, 'silent')[0].status).toBe('failed');
    expect(attemptsOf(run, 'silent')[0].log_entries.at(-1).message).toMatch(/without calling \/succeed/);
    expect(attemptsOf(run, 'reports')[0].status).toBe('succeeded');
    expect(run.status).toBe('failed');
  });

  it('/fail fails the attempt even if the process exits 0; a non-zero exit fails despite /succeed', async () => {
    await define('reports', [
      shellTask('fails', { executable: { shell_script_command: { script: callback('fail') } } }),
      shellTask('lies', { executable: { shell_script_command: { script: `${callback('succeed')}; exit 3` } } }),
    ]);
    const run = await finished((await trigger('reports')).process_id);
    expect(attemptsOf(run, 'fails')[0].status).toBe('failed');
    expect(attemptsOf(run, 'lies')[0].status).toBe('failed');
    expect(attemptsOf(run, 'lies')[0].log_entries.at(-1).message).toMatch(/exited with code 3/);
  });

  it('posts log and metadata entries from inside the task with its token', async () => {
    const entry = '[{"log_entry_id":"6b1f2c55-7a43-4d0e-9b59-1f1e0c0a0001","when":"2026-11-23T10:00:00Z","source":"app","message":"from the task"}]';
    const meta = '[{"metadata_entry_id":"6b1f2c55-7a43-4d0e-9b59-1f1e0c0a0002","when":"2026-11-23T10:00:00Z","key":"rows","value":"42"}]';
    await define('talker', [
      shellTask('talk', { executable: { shell_script_command: { script: `${callback('log_entries', entry)} && ${callback('metadata', meta)}` } } }),
    ]);
    const run = await finished((await trigger('talker')).process_id);
    const [talk] = attemptsOf(run, 'talk');
    expect(run.status).toBe('succeeded');
    expect(talk.log_entries.map((e: any) => e.message)).toContain('from the task');
    expect(talk.metadata_entries).toEqual([
      { metadata_entry_id: '6b1f2c55-7a43-4d0e-9b59-1f1e0c0a0002', when: '2026-11-23T10:00:00Z', key: 'rows', value: '42' },
    ]);
  });

  it('an optional dependency that failed lets its dependent run; a required one blocks it', async () => {
    await define('deps', [
      shellTask('broken', { executable: { shell_script_command: { script: 'exit 1' } } }),
      shellTask('optional', { dependencies: [dependsOn('broken', false)] }),
      shellTask('required', { dependencies: [dependsOn('broken', true)] }),
      shellTask('after-required', { dependencies: [dependsOn('required', false)] }),
    ]);
    const run = await finished((await trigger('deps')).process_id);
    expect(run.status).toBe('failed');
    expect(attemptsOf(run, 'optional').map((x: any) => x.status)).toEqual(['succeeded']);
    expect(attemptsOf(run, 'required')).toEqual([]);
    // blocked counts as complete-and-failed for its own dependents: an optional edge still runs them
    expect(attemptsOf(run, 'after-required').map((x: any) => x.status)).toEqual(['succeeded']);
    expect(run.progress).toMatchObject({ total: 4, succeeded: 2, failed: 2, running: 0, waiting: 0 });
  });

  it('runs a single task with ?task_definition_name and overrides environment variables from the body', async () => {
    await define('single', [
      shellTask('first', { executable: { shell_script_command: { script: 'echo "first $GREETING"' } } }),
      shellTask('second', {
        dependencies: [dependsOn('first')],
        executable: { shell_script_command: { script: 'echo "second $GREETING"', environment_variables: [{ variable_name: 'GREETING', value: 'hello' }] } },
      }),
    ]);
    const run = await finished(
      (await trigger('single', { environment_variables: [{ variable_name: 'GREETING', value: 'bonjour' }] }, '?task_definition_name=second')).process_id,
    );
    expect(run.status).toBe('succeeded');
    expect(attemptsOf(run, 'first')).toEqual([]);
    expect(attemptsOf(run, 'second')[0].log_entries[0].message).toBe('second bonjour');
    const unknown = await api('POST', '/api/process_definitions/single/trigger?task_definition_name=nope');
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.field).toBe('task_definition_name');
    expect((await api('POST', '/api/process_definitions/absent/trigger')).status).toBe(404);
  });

  it('kill stops the running process and ends the run failed, saying it was killed; the killed attempt can no longer report', async () => {
    // Prepare: the attempt leaves its callback token where the test can read it, as its own process would use it
    const tokenFile = `${sundial.current().dataDir}/killed-token`;
    await define('long', [
      shellScript('sleeper', `printf %s "$SUNDIAL_TASK_TOKEN" > ${tokenFile}; echo started; ${UNTIL_STOPPED}`, { max_attempts: 3 }),
      shellTask('never', { dependencies: [dependsOn('sleeper')] }),
    ]);
    const created = await trigger('long');
    await untilStarted(created.process_id);

    // Act
    const killed = await api('POST', `/api/processes/${created.process_id}/kill`);
    const run = await finished(created.process_id);
    const [attempt] = attemptsOf(run, 'sleeper');
    const token = readFileSync(tokenFile, 'utf8');
    const reports = await Promise.all(['succeed', 'fail'].map((route) => api('POST', `/api/tasks/${attempt.task_id}/${route}`, undefined, bearer(token))));

    // Assess
    expect(killed.status).toBe(201);
    expect(killed.json.status).toBe('failed');
    expect(killed.json.reason).toMatch(/killed/);
    expect(attemptsOf(run, 'sleeper').map((x: any) => x.status)).toEqual(['failed']); // no retry after a kill
    expect(attemptsOf(run, 'never')).toEqual([]);
    expect((await api('POST', `/api/processes/${created.process_id}/kill`)).status).toBe(409);
    // the killed attempt's token still proves who it is (not 401), but its reports are refused and change nothing
    expect(reports.map((r) => [r.status, r.json?.error?.code])).toEqual([
      [409, 'conflict'],
      [409, 'conflict'],
    ]);
    const after = (await api('GET', `/api/processes/${created.process_id}`)).json;
    expect({ status: after.status, end_time: after.end_time }).toEqual({ status: 'failed', end_time: run.end_time });
    expect(attemptsOf(after, 'sleeper').map((x: any) => [x.status, x.end_time])).toEqual([['failed', attempt.end_time]]);
    expect((await sundial.current().services.store.runs.getTaskRecord(created.process_id, attempt.task_id))?.reported).toBeUndefined();
  });

  it('retry of a failed run gives each failed task one more attempt, then runs what it blocked', async () => {
    // fails until a marker file exists; the retry creates it first
    const marker = `${sundial.current().dataDir}/retry-marker`;
    await define('retryable', [
      shellTask('gate', { executable: { shell_script_command: { script: `test -f ${marker}` } }, max_attempts: 2, backoff_base_seconds: 0 }),
      shellTask('after', { dependencies: [dependsOn('gate')] }),
    ]);
    const created = await trigger('retryable');
    const failedRun = await finished(created.process_id);
    expect(failedRun.status).toBe('failed');
    expect(attemptsOf(failedRun, 'gate').length).toBe(2);
    writeFileSync(marker, '');
    const retried = await api('POST', `/api/processes/${created.process_id}/retry`);
    expect(retried.status).toBe(201);
    expect(retried.json.status).toBe('running');
    const run = await finished(created.process_id);
    expect(run.status).toBe('succeeded');
    expect(attemptsOf(run, 'gate').map((x: any) => x.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(attemptsOf(run, 'after').map((x: any) => x.status)).toEqual(['succeeded']);
    expect((await api('POST', `/api/processes/${created.process_id}/retry`)).status).toBe(409);
  });

  it('retry of a killed run runs what the kill stopped and blocked, and clears the reasons the kill left', async () => {
    const marker = `${sundial.current().dataDir}/killed-once`;
    await define('killed-then-retried', [
      shellScript('slow', `if [ -f ${marker} ]; then exit 0; fi; touch ${marker}; echo started; ${UNTIL_STOPPED}`),
      shellTask('next', { dependencies: [dependsOn('slow')] }),
    ]);
    const created = await trigger('killed-then-retried');
    await untilStarted(created.process_id);
    expect((await api('POST', `/api/processes/${created.process_id}/kill`)).status).toBe(201);
    const slotsAfterKill = await sundial.current().services.store.slots.list(created.process_id);
    expect(slotsAfterKill.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['next', 'blocked', 'killed by operator'],
      ['slow', 'failed', 'killed by operator'],
    ]);

    expect((await api('POST', `/api/processes/${created.process_id}/retry`)).status).toBe(201);
    const run = await finished(created.process_id);

    expect(run.status).toBe('succeeded');
    expect(attemptsOf(run, 'next').map((x: any) => x.status)).toEqual(['succeeded']);
    const slots = await sundial.current().services.store.slots.list(created.process_id);
    expect(slots.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['next', 'succeeded', undefined],
      ['slow', 'succeeded', undefined],
    ]);
  });
});
