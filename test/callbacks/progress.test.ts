/**
 * POST /api/tasks/:id/progress over a real socket: what an attempt shows, that progress never moves
 * backwards (also under concurrent reports in random order), the entries rule after an attempt ends,
 * token checks and validation, and a real task reporting through its environment.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, test } from 'vitest';
import { LATE_ENTRY_GRACE_SECONDS } from '../../lambdas/domain/task-token';
import { bearer, isoAt, mintTaskToken, type SeededTask, seedRun, shellScript, sundialPerFile } from '../helpers/local';

const t = sundialPerFile();

let runsSeeded = 0;

/** A fresh run with running attempts of `names` (or of the seeds given), without progress. */
async function seeded(tasks: Parameters<typeof seedRun>[1]['tasks'] = [{ task_definition_name: 'a' }, { task_definition_name: 'b' }]) {
  const run = await seedRun(t.current().services, { process_definition_name: 'progress', start_time: isoAt(runsSeeded++), tasks });
  return { run, tasks: run.tasks as [SeededTask, SeededTask, ...SeededTask[]] };
}

const report = (task: SeededTask, body: unknown, headers = bearer(task.token)) => t.api('POST', `/api/tasks/${task.task_id}/progress`, body, headers);

/** The attempt as GET /api/processes/:id answers it. */
async function attempt(task: SeededTask): Promise<Record<string, any>> {
  const res = await t.api('GET', `/api/processes/${task.process_id}`);
  expect(res.status).toBe(200);
  return res.json.task.find((x: { task_id: string }) => x.task_id === task.task_id);
}

/** `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('POST /api/tasks/:task_id/progress', () => {
  it('stores the report (201, the progress as stored) and the attempt shows it in the run', async () => {
    // Prepare
    const { tasks: [a, b] } = await seeded();
    const before = Date.now();

    // Act
    const res = await report(a, { percent: 42.5, message: 'loading partition 3 of 8' });

    // Assess
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual({ task_id: a.task_id, progress: { percent: 42.5, message: 'loading partition 3 of 8', when: expect.any(String) }, applied: true });
    expect(Date.parse(res.json.progress.when)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(res.json.progress.when)).toBeLessThanOrEqual(Date.now() + 1000);
    expect((await attempt(a)).progress).toEqual(res.json.progress);
    expect((await attempt(b)).progress).toBeUndefined();
  });

  it('takes a report without a message, and 0 and 100 as they are', async () => {
    // Prepare
    const { tasks: [a] } = await seeded();

    // Act
    const zero = await report(a, { percent: 0 });
    const full = await report(a, { percent: 100, message: 'done' });

    // Assess
    expect(zero.json).toMatchObject({ progress: { percent: 0 }, applied: true });
    expect(zero.json.progress).not.toHaveProperty('message');
    expect(full.json).toMatchObject({ progress: { percent: 100, message: 'done' }, applied: true });
  });

  it('keeps a percent to six decimal places (a DynamoDB number cannot be 1e-200)', async () => {
    // Prepare
    const { tasks: [a, b] } = await seeded();

    // Act
    const tiny = await t.api('POST', `/api/tasks/${a.task_id}/progress`, '{"percent": 1e-200}', bearer(a.token));
    const third = await report(b, { percent: 100 / 3 });

    // Assess
    expect(tiny.status, tiny.text).toBe(201);
    expect(tiny.json.progress.percent).toBe(0);
    expect(third.json.progress.percent).toBe(33.333333);
    expect((await attempt(b)).progress.percent).toBe(33.333333);
  });

  it('accepts a lower percent (201) but keeps the higher one, and says so', async () => {
    // Prepare
    const { tasks: [a] } = await seeded();
    const high = (await report(a, { percent: 70, message: 'seventy' })).json.progress;

    // Act
    const res = await report(a, { percent: 30, message: 'a late thirty' });

    // Assess
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ task_id: a.task_id, progress: high, applied: false });
    expect((await attempt(a)).progress).toEqual(high);
  });

  it('replaces the message of an equal percent (the newer report of the same step)', async () => {
    // Prepare
    const { tasks: [a] } = await seeded();
    await report(a, { percent: 50, message: 'step 3: copying' });

    // Act
    const res = await report(a, { percent: 50, message: 'step 3: verifying' });

    // Assess
    expect(res.json).toMatchObject({ progress: { percent: 50, message: 'step 3: verifying' }, applied: true });
    expect((await attempt(a)).progress.message).toBe('step 3: verifying');
  });

  it('ends at the highest of many reports sent at once in a random order (8 rounds of 40)', async () => {
    for (let round = 0; round < 8; round++) {
      // Prepare
      const { tasks: [a] } = await seeded([{ task_definition_name: 'racer' }]);
      const percents = Array.from({ length: 40 }, (_, i) => i * 2.5);

      // Act
      const order = shuffled(percents);
      const answers = await Promise.all(order.map((percent) => report(a, { percent, message: `at ${percent}` })));

      // Assess
      expect(answers.map((r) => r.status)).toEqual(percents.map(() => 201));
      expect((await attempt(a)).progress, `round ${round}`).toMatchObject({ percent: 97.5, message: 'at 97.5' });
      // Each answer is its own report (applied) or a higher one that stays (kept), never a lower one.
      for (const [i, r] of answers.entries()) {
        if (r.json.applied) expect(r.json.progress).toMatchObject({ percent: order[i], message: `at ${order[i]}` });
        else expect(r.json.progress.percent).toBeGreaterThan(order[i]!);
      }
    }
  }, 60_000);

  it('keeps each attempt its own progress: a new attempt of the task starts without one', async () => {
    // Prepare
    const { tasks: [first, second] } = await seeded([
      { task_definition_name: 'flaky', status: 'failed', end_time: new Date(Date.now() - 1000).toISOString() },
      { task_definition_name: 'flaky', previous_attempt_count: 1 },
    ]);
    await report(first, { percent: 90, message: 'almost' });

    // Act
    const res = await report(second, { percent: 10 });

    // Assess
    expect(res.json.applied).toBe(true);
    expect((await attempt(first)).progress.percent).toBe(90);
    expect((await attempt(second)).progress.percent).toBe(10);
  });

  it('shows progress in the lists of attempts and of runs', async () => {
    // Prepare
    const { run, tasks: [a] } = await seeded([{ task_definition_name: 'listed' }]);
    const stored = (await report(a, { percent: 12, message: 'listed' })).json.progress;

    // Act
    const tasks = await t.api('GET', '/api/tasks?process_definition_name=progress&task_definition_name=listed&limit=1');
    const runs = await t.api('GET', '/api/processes?process_definition_name=progress&limit=1');

    // Assess
    expect(tasks.json[0]).toMatchObject({ task_id: a.task_id, progress: stored });
    expect(runs.json[0].process_id).toBe(run.process_id);
    expect(runs.json[0].task[0].progress).toEqual(stored);
  });
});

describe('after the attempt ended', () => {
  it(`takes a report within ${LATE_ENTRY_GRACE_SECONDS} s of the end, as log entries are`, async () => {
    // Prepare
    const { tasks: [a] } = await seeded([{ task_definition_name: 'late', status: 'succeeded', end_time: new Date(Date.now() - 10_000).toISOString() }]);

    // Act
    const res = await report(a, { percent: 100, message: 'flushed' });

    // Assess
    expect(res.status, res.text).toBe(201);
    expect((await attempt(a)).progress).toMatchObject({ percent: 100, message: 'flushed' });
  });

  it('refuses a report past the grace period with 409 and writes nothing', async () => {
    // Prepare
    const ended = new Date(Date.now() - (LATE_ENTRY_GRACE_SECONDS + 5) * 1000).toISOString();
    const { tasks: [a] } = await seeded([{ task_definition_name: 'too-late', status: 'failed', end_time: ended }]);

    // Act
    const res = await report(a, { percent: 100 });

    // Assess
    expect(res.status).toBe(409);
    expect(res.json.error.message).toContain(`${LATE_ENTRY_GRACE_SECONDS} s`);
    expect((await attempt(a)).progress).toBeUndefined();
  });
});

describe('refusals', () => {
  test.each([
    ['a percent below 0', { percent: -1 }, 'percent'],
    ['a percent above 100', { percent: 100.01 }, 'percent'],
    ['a percent that is a string', { percent: '50' }, 'percent'],
    ['no percent', { message: 'half way' }, 'percent'],
    ['a message longer than 1,000 characters', { percent: 1, message: 'x'.repeat(1001) }, 'message'],
    ['a message of more than one line', { percent: 1, message: 'one\ntwo' }, 'message'],
    ['a message with a terminal escape sequence', { percent: 1, message: '\u001b[2J' }, 'message'],
    ['a message with a lone surrogate', { percent: 1, message: 'a\ud800b' }, 'message'],
    ['a message that is not a string', { percent: 1, message: 7 }, 'message'],
    ['a field the report does not have', { percent: 1, when: isoAt(0) }, 'when'],
    ['a body that is not an object', [{ percent: 1 }], undefined],
  ])('refuses %s with 400 naming the field, and writes nothing', async (_case, body, field) => {
    // Prepare
    const { tasks: [a] } = await seeded();

    // Act
    const res = await report(a, body);

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.field).toBe(field);
    expect((await attempt(a)).progress).toBeUndefined();
  });

  it('takes a message of exactly 1,000 characters, with quotes and non-ASCII letters', async () => {
    // Prepare
    const { tasks: [a] } = await seeded();
    const message = `"é\\😀${'x'.repeat(995)}`;

    // Act
    const res = await report(a, { percent: 1, message });

    // Assess
    expect(message).toHaveLength(1000);
    expect(res.status, res.text).toBe(201);
    expect((await attempt(a)).progress.message).toBe(message);
  });

  test.each([
    ['no Authorization header', () => ({})],
    ['a malformed token', () => bearer('v1.not.valid')],
  ])('refuses %s with 401 and writes nothing', async (_case, headers) => {
    // Prepare
    const { tasks: [a] } = await seeded();

    // Act
    const res = await report(a, { percent: 5 }, headers());

    // Assess
    expect(res.status).toBe(401);
    expect((await attempt(a)).progress).toBeUndefined();
  });

  it("refuses the token of task A on task B with 401 and writes nothing to either", async () => {
    // Prepare
    const { tasks: [a, b] } = await seeded();

    // Act
    const res = await report(b, { percent: 5 }, bearer(a.token));

    // Assess
    expect(res.status).toBe(401);
    expect((await attempt(a)).progress).toBeUndefined();
    expect((await attempt(b)).progress).toBeUndefined();
  });

  it('checks the token before the body: no token and an invalid body is 401', async () => {
    // Prepare
    const { tasks: [a] } = await seeded();

    // Act
    const res = await report(a, { percent: 'lots' }, {});

    // Assess
    expect(res.status).toBe(401);
  });

  it('answers 404 for a valid token of an attempt that does not exist', async () => {
    // Prepare
    const taskId = randomUUID();
    const token = await mintTaskToken(t.current().services, taskId, randomUUID());

    // Act
    const res = await t.api('POST', `/api/tasks/${taskId}/progress`, { percent: 5 }, bearer(token));

    // Assess
    expect(res.status).toBe(404);
  });
});

describe('a real task', () => {
  it('reports through SUNDIAL_URL and its token, and its attempt keeps the highest report', async () => {
    // Prepare: a task reporting 60 %, then a late-arriving 20 %
    const post = (percent: number, message: string) =>
      `curl -sf -o /dev/null -X POST "$SUNDIAL_URL/api/tasks/$SUNDIAL_TASK_ID/progress" -H "Authorization: Bearer $SUNDIAL_TASK_TOKEN" -H 'content-type: application/json' -d '{"percent": ${percent}, "message": "${message}"}' || exit 9`;
    await t.define('progress-real', [shellScript('work', [post(60, 'three of five'), post(20, 'stale'), 'echo done'].join('\n'))]);

    // Act
    const run = await t.finished((await t.trigger('progress-real')).process_id);

    // Assess
    expect(run.status, JSON.stringify(run)).toBe('succeeded');
    expect(run.task[0].progress).toMatchObject({ percent: 60, message: 'three of five' });
  });
});
