/**
 * The attempts' counters (`tasks_<status>`, docs/STORAGE.md "Counters") stay exact now that the engine
 * sends their writes beside the writes they count instead of after them: a new attempt's `+1` goes out
 * with its put and is taken back when the put does not go through (a replayed Prepare finds the attempt
 * there), and an attempt's end moves them once, whoever replays it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConditionFailed } from '../../lambdas/store/client';
import type { TaskRecord } from '../../lambdas/store/runs';
import { startTestSundial, type TestSundial } from '../helpers/local';

describe('attempt counters beside the writes they count', () => {
  let t: TestSundial;
  beforeAll(async () => {
    t = await startTestSundial();
  });
  afterAll(() => t.close());

  const counts = async () => {
    const c = await t.services.store.stats.read();
    return { running: c.tasks_running ?? 0, succeeded: c.tasks_succeeded ?? 0 };
  };

  it('a replayed create counts the attempt once, and a replayed end moves it once', async () => {
    // Prepare
    const before = await counts();
    const task: TaskRecord = {
      task_id: '20000000-0000-4000-8000-000000000001',
      process_id: '20000000-0000-4000-8000-0000000000aa',
      process_definition_name: 'counted',
      task_definition_name: 'a',
      start_time: new Date().toISOString(),
      previous_attempt_count: 0,
      status: 'running',
    };

    // Act
    await t.services.store.runs.createTask(task);
    const replay = await t.services.store.runs.createTask(task).catch((err: unknown) => err);
    const afterCreate = await counts();
    const ended = await t.services.store.runs.transitionTask(task.process_id, task.task_id, ['running'], 'succeeded');
    const endedAgain = await t.services.store.runs.transitionTask(task.process_id, task.task_id, ['running'], 'succeeded');
    const afterEnd = await counts();

    // Assess
    expect(isConditionFailed(replay)).toBe(true);
    expect(afterCreate).toEqual({ running: before.running + 1, succeeded: before.succeeded });
    expect([ended, endedAgain]).toEqual(['running', undefined]);
    expect(afterEnd).toEqual({ running: before.running, succeeded: before.succeeded + 1 });
  });
});
