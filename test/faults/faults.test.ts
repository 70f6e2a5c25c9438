/**
 * Faults in local mode, each ending in a defined state: a task process that dies without calling back,
 * callbacks that arrive twice or late, tokens used where they do not belong, two ticks at once with
 * overlap `wait`, and racing writes that DynamoDB's conditions must settle. Plus: the one open route
 * (metrics) tells nothing but counts.
 */
import { describe, expect, it } from 'vitest';
import { LATE_ENTRY_GRACE_SECONDS, signTaskToken } from '../../lambdas/domain/task-token';
import { bearer, cronSchedule, isoAt, logEntry, metadataEntry, seedRun, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';
import { snapshot } from '../fuzz/support';

const sundial = sundialPerFile();
const { api, define, finished } = sundial;
const services = () => sundial.current().services;

describe('a task process that dies without calling back', () => {
  it('fails each attempt with the signal as reason, retries up to max_attempts, and ends the run failed', async () => {
    // Prepare
    await define('dies', { task_definitions: [shellScript('victim', 'echo up; kill -9 $$', { max_attempts: 2, require_explicit_success: true })] });

    // Act
    const run = await finished((await api('POST', '/api/process_definitions/dies/trigger')).json.process_id);

    // Assess
    expect(run.status).toBe('failed');
    expect(run.task.map((a: { status: string }) => a.status)).toEqual(['failed', 'failed']);
    for (const attempt of run.task) {
      expect(attempt.log_entries.map((e: { message: string }) => e.message).join('\n')).toMatch(/killed by signal SIGKILL/);
    }
  });

  it('fails an attempt that exits 0 without the /succeed that require_explicit_success asks for', async () => {
    // Prepare
    await define('silent', { task_definitions: [shellScript('quiet', 'exit 0', { require_explicit_success: true })] });

    // Act
    const run = await finished((await api('POST', '/api/process_definitions/silent/trigger')).json.process_id);

    // Assess
    expect(run.status).toBe('failed');
    expect(run.task[0].log_entries.map((e: { message: string }) => e.message).join('\n')).toMatch(/without calling \/succeed/);
  });
});

describe('callbacks twice, late, or with the wrong token', () => {
  it('takes /succeed twice, refuses a contradicting /fail, and stores a repeated entry once', async () => {
    // Prepare
    const run = await seedRun(services(), { process_definition_name: 'twice', start_time: isoAt(0) });
    const [a] = run.tasks;
    const entry = logEntry();

    // Act
    const first = await api('POST', `/api/tasks/${a?.task_id}/succeed`, undefined, bearer(a?.token ?? ''));
    const second = await api('POST', `/api/tasks/${a?.task_id}/succeed`, undefined, bearer(a?.token ?? ''));
    const contradiction = await api('POST', `/api/tasks/${a?.task_id}/fail`, undefined, bearer(a?.token ?? ''));
    const log1 = await api('POST', `/api/tasks/${a?.task_id}/log_entries`, [entry], bearer(a?.token ?? ''));
    const log2 = await api('POST', `/api/tasks/${a?.task_id}/log_entries`, [entry, entry], bearer(a?.token ?? ''));

    // Assess
    expect([first.status, second.status, contradiction.status]).toEqual([201, 201, 409]);
    expect(log1.json).toEqual({ written: 1, received: 1 });
    expect(log2.json).toEqual({ written: 0, received: 2 });
    const stored = (await api('GET', `/api/processes/${run.process_id}`)).json.task[0];
    expect(stored.log_entries).toEqual([entry]);
  });

  it(`keeps a finished attempt's late lines for ${LATE_ENTRY_GRACE_SECONDS} s, then refuses every callback of its token and writes nothing`, async () => {
    // Prepare: one attempt that ended a moment ago, one that ended long before the grace period
    const run = await seedRun(services(), {
      process_definition_name: 'late',
      status: 'failed',
      start_time: isoAt(0),
      end_time: new Date().toISOString(),
      tasks: [
        { task_definition_name: 'recent', status: 'failed', end_time: new Date(Date.now() - 10_000).toISOString() },
        { task_definition_name: 'old', status: 'succeeded', end_time: new Date(Date.now() - (LATE_ENTRY_GRACE_SECONDS + 5) * 1000).toISOString() },
      ],
    });
    const [recent, old] = run.tasks;
    const before = await snapshot(services());

    // Act
    const refused = await Promise.all([
      api('POST', `/api/tasks/${old?.task_id}/log_entries`, [logEntry()], bearer(old?.token ?? '')),
      api('POST', `/api/tasks/${old?.task_id}/metadata`, [metadataEntry()], bearer(old?.token ?? '')),
      api('POST', `/api/tasks/${old?.task_id}/succeed`, undefined, bearer(old?.token ?? '')),
      api('POST', `/api/tasks/${recent?.task_id}/fail`, undefined, bearer(recent?.token ?? '')),
    ]);
    const unchanged = await snapshot(services());
    const lateLine = await api('POST', `/api/tasks/${recent?.task_id}/log_entries`, [logEntry({ message: 'last words' })], bearer(recent?.token ?? ''));

    // Assess
    expect(refused.map((r) => r.status)).toEqual([409, 409, 409, 409]);
    expect(refused[0]?.json.error.message).toMatch(/entries are accepted for 120 s after an attempt ends/);
    expect(unchanged).toBe(before);
    expect(lateLine.status).toBe(201);
  });

  it('refuses task A\'s token on task B, a forged token and a token of another key with 401, and writes nothing', async () => {
    // Prepare
    const run = await seedRun(services(), { process_definition_name: 'tokens', start_time: isoAt(1), tasks: [{ task_definition_name: 'a' }, { task_definition_name: 'b' }] });
    const [a, b] = run.tasks;
    if (!a || !b) throw new Error('two tasks expected');
    const [version, payload, signature] = a.token.split('.');
    const claimsOfB = Buffer.from(JSON.stringify({ tid: b.task_id, pid: run.process_id })).toString('base64url');
    const tokens = [
      a.token, // A's token on B's routes
      `${version}.${claimsOfB}.${signature}`, // B's claims under A's signature
      signTaskToken(Buffer.from('someone else\'s key'), { tid: b.task_id, pid: run.process_id }),
      `v2.${payload}.${signature}`,
      '',
    ];
    const before = await snapshot(services());

    // Act
    const answers = [];
    for (const token of tokens) {
      for (const route of ['log_entries', 'metadata', 'succeed', 'fail']) {
        const body = route === 'log_entries' ? [logEntry()] : route === 'metadata' ? [metadataEntry()] : undefined;
        answers.push((await api('POST', `/api/tasks/${b.task_id}/${route}`, body, bearer(token))).status);
      }
    }

    // Assess
    expect(new Set(answers)).toEqual(new Set([401]));
    expect(await snapshot(services())).toBe(before);
  });
});

describe('two ticks at once with overlap wait', () => {
  it('starts one run, defers the other to one catch-up run after it, and ignores a duplicate delivery', async () => {
    // Prepare
    await define('overlap', { overlap_action: 'wait', schedule: cronSchedule(), task_definitions: [shellScript('slow', 'sleep 1')] });

    // Act: two different ticks and a duplicate of the first, all at once
    const outcomes = await Promise.all([
      services().schedules.tick('overlap', '2027-01-01T03:00:00.000Z'),
      services().schedules.tick('overlap', '2027-01-02T03:00:00.000Z'),
      services().schedules.tick('overlap', '2027-01-01T03:00:00.000Z'),
    ]);
    const runs = await until(
      async () => (await api('GET', '/api/processes?process_definition_name=overlap')).json as Array<{ process_id: string; status: string; start_time: string; end_time?: string }>,
      (rs) => rs.length >= 2 && rs.every((r) => r.status !== 'running'),
    );
    await sundial.settled(runs[0]!.process_id); // the catch-up's end is complete: whatever it would start has started

    // Assess
    expect(outcomes.filter((o) => o === 'started').length + outcomes.filter((o) => o === 'deferred').length).toBe(2);
    expect(outcomes).toContain('duplicate');
    expect((await api('GET', '/api/processes?process_definition_name=overlap')).json).toHaveLength(2);
    expect(await services().store.schedules.get('overlap')).toMatchObject({ active: [], pending: undefined });
    const [newer, older] = runs;
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(Date.parse(newer?.start_time ?? '')).toBeGreaterThanOrEqual(Date.parse(older?.end_time ?? ''));
  });
});

describe('conditional-write conflicts', () => {
  it('ten kills at once: one ends the run, nine answer 409, the run is failed once', async () => {
    // Prepare
    await define('race-kill', { task_definitions: [shellScript('long', UNTIL_STOPPED), shellScript('other', UNTIL_STOPPED)] });
    const run = (await api('POST', '/api/process_definitions/race-kill/trigger')).json;
    await until(() => api('GET', `/api/processes/${run.process_id}`), (r) => r.json.task.length === 2);

    // Act
    const answers = await Promise.all(Array.from({ length: 10 }, () => api('POST', `/api/processes/${run.process_id}/kill`)));

    // Assess
    expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    const after = await finished(run.process_id);
    expect(after.status).toBe('failed');
    expect(after.task.map((a: { status: string }) => a.status)).toEqual(['failed', 'failed']);
  });

  it('/succeed and /fail racing on one attempt: one report wins, the other is 409, never both', async () => {
    // Prepare
    const run = await seedRun(services(), { process_definition_name: 'race-report', start_time: isoAt(2) });
    const [a] = run.tasks;

    // Act
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => api('POST', `/api/tasks/${a?.task_id}/${i % 2 ? 'succeed' : 'fail'}`, undefined, bearer(a?.token ?? ''))),
    );

    // Assess
    const won = answers.filter((r) => r.status === 201).map((r) => r.json.reported);
    expect(new Set(won).size).toBe(1);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(10 - won.length);
    const stored = await services().store.runs.getTaskRecord(run.process_id, a?.task_id ?? '');
    expect(stored?.reported).toBe(won[0]);
  });

  it('five retries at once of a failed run: one reopens it, the others answer 409, one more attempt runs', async () => {
    // Prepare
    await define('race-retry', { task_definitions: [shellScript('flaky', 'exit 3')] });
    const run = await finished((await api('POST', '/api/process_definitions/race-retry/trigger')).json.process_id);

    // Act
    const answers = await Promise.all(Array.from({ length: 5 }, () => api('POST', `/api/processes/${run.process_id}/retry`)));
    const after = await finished(run.process_id);

    // Assess
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(after.task).toHaveLength(2);
    expect(after.status).toBe('failed');
  });
});

describe('GET /_internal_/metrics', () => {
  it('answers counts only: no id, name, token or key', async () => {
    // Prepare
    const run = await seedRun(services(), { process_definition_name: 'secretive-definition', start_time: isoAt(3) });
    const key = (await services().tokenKey()).toString('base64');

    // Act
    const res = await api('GET', '/_internal_/metrics');

    // Assess
    expect(res.status).toBe(200);
    for (const line of res.text.trim().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) sundial_[a-z_]+ .*|sundial_[a-z_]+(\{[a-z_]+="[a-z_]+"\})? \d+)$/);
    }
    for (const secret of [run.process_id, run.tasks[0]?.task_id ?? '-', run.tasks[0]?.token ?? '-', key, 'secretive-definition']) {
      expect(res.text).not.toContain(secret);
    }
  });
});
