/**
 * A webhook's body for a run of 10,000 tasks (lambdas/notify/webhook-body.ts): at most WEBHOOK_TASKS_MAX
 * tasks, those that did not succeed first (as the email lists them: render.ts `tasksToTell`), the rest counted
 * in `tasks_omitted`. The body of a small run, every task in run order and no count, is in webhook.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS, type Process, type Task } from '../../lambdas/domain/models';
import { consoleRunLink } from '../../lambdas/notify/render';
import { WEBHOOK_TASKS_MAX, webhookSummary } from '../../lambdas/notify/webhook-body';

const at = (s: number) => new Date(Date.parse('2026-12-04T01:00:00.000Z') + s * 1000).toISOString();
const processId = '7c1f4f7e-0000-4000-8000-000000000018';

/** Task `i`'s name, as long as a name may be (the largest entry a body can hold). */
const nameOf = (i: number) => `task-${String(i).padStart(5, '0')}-`.padEnd(LIMITS.nameMaxLength, 'x');

function attempt(i: number, status: Task['status']): Task {
  return {
    task_id: `t-${i}`,
    process_id: processId,
    process_definition_name: 'huge',
    task_definition_name: nameOf(i),
    start_time: at(i),
    end_time: at(i + 1),
    previous_attempt_count: 0,
    status,
    log_entries: [],
    metadata_entries: [],
  };
}

describe('the webhook body of a run of 10,000 tasks', () => {
  // The failed tasks are the last ones run, past any first 1,000; two more tasks never ran (blocked).
  const failed = new Set([9_990, 9_993, 9_996, 9_999]);
  const run: Process = {
    process_id: processId,
    process_definition_name: 'huge',
    start_time: at(0),
    end_time: at(10_001),
    status: 'failed',
    trigger: { kind: 'manual', by: 'local', at: at(0), scheduled_time: at(0) },
    parameters: [],
    task: Array.from({ length: 10_000 }, (_, i) => attempt(i, failed.has(i) ? 'failed' : 'succeeded')),
  };
  const notRun = [10_000, 10_001].map((i) => ({ task_definition_name: nameOf(i), status: 'blocked' }));
  const body = webhookSummary(run, notRun, consoleRunLink('https://d111111abcdef8.cloudfront.net', processId));
  const bytes = Buffer.byteLength(JSON.stringify(body));

  it(`stays under 140 KB: ${WEBHOOK_TASKS_MAX} entries of at most ~130 bytes (names of ${LIMITS.nameMaxLength} characters) and the run's fields`, () => {
    console.log(`webhook body of a run of 10,002 tasks (names of ${LIMITS.nameMaxLength} characters): ${bytes} bytes, ${body.tasks.length} tasks listed`);
    expect(bytes).toBeLessThan(140 * 1024);
  });

  it(`lists ${WEBHOOK_TASKS_MAX} tasks, those that did not succeed first, each group in run order, and counts the rest`, () => {
    // Assess
    expect(body.tasks).toHaveLength(WEBHOOK_TASKS_MAX);
    expect(body.tasks.slice(0, 6)).toEqual([
      ...[...failed].map((i) => ({ task_definition_name: nameOf(i), status: 'failed', attempts: 1 })),
      ...[10_000, 10_001].map((i) => ({ task_definition_name: nameOf(i), status: 'blocked', attempts: 0 })),
    ]);
    expect(body.tasks.slice(6).map((t) => t.task_definition_name)).toEqual(Array.from({ length: WEBHOOK_TASKS_MAX - 6 }, (_, i) => nameOf(i)));
    expect(body.tasks_omitted).toBe(10_002 - WEBHOOK_TASKS_MAX);
    expect(body.run_url).toBe(`https://d111111abcdef8.cloudfront.net/#/run/${processId}`);
  });

  it(`lists every task of a run of ${WEBHOOK_TASKS_MAX}, in run order, with no count`, () => {
    // Act
    const small = webhookSummary({ ...run, task: run.task.slice(9_000) }, []);

    // Assess
    expect(small.tasks.map((t) => t.task_definition_name)).toEqual(run.task.slice(9_000).map((t) => t.task_definition_name));
    expect(small).not.toHaveProperty('tasks_omitted');
  });
});
