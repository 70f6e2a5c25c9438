/** The PagerDuty events built from a run (lambdas/notify/pagerduty-event.ts), within the Events API's limits. */
import { describe, expect, it } from 'vitest';
import type { Process } from '../../lambdas/domain/models';
import { FAILED_TASKS_MAX_BYTES, triggerEvent } from '../../lambdas/notify/pagerduty-event';

/** A failed run whose `count` tasks (names of 64 characters, the longest a name may be) all failed. */
function failedRun(count: number): Process {
  const at = '2026-12-03T10:00:00.000Z';
  return {
    process_id: '7c1f4f7e-0000-4000-8000-000000000001',
    process_definition_name: 'wide',
    start_time: at,
    end_time: at,
    status: 'failed',
    trigger: { kind: 'manual', by: 'local', at, scheduled_time: at },
    parameters: [],
    task: Array.from({ length: count }, (_, i) => ({
      task_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      process_id: '7c1f4f7e-0000-4000-8000-000000000001',
      process_definition_name: 'wide',
      task_definition_name: `task-${String(i).padStart(59, '0')}`,
      start_time: at,
      end_time: at,
      status: 'failed',
      log_entries: [],
      metadata_entries: [],
    })) as unknown as Process['task'],
  };
}

describe('a trigger event', () => {
  it('names every failed task when they fit', () => {
    const event = triggerEvent('key', failedRun(3), 1);

    expect(event.payload?.custom_details?.failed_tasks).toHaveLength(3);
    expect(event.payload?.custom_details).not.toHaveProperty('failed_tasks_total');
  });

  it('of a run of 10,000 failed tasks stays under the Events API’s 512 KB, and says how many failed', () => {
    const event = triggerEvent('key', failedRun(10_000), 1, 'https://console.example.com/runs/1');

    const details = event.payload!.custom_details!;
    const listed = details.failed_tasks as string[];
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(512 * 1024);
    expect(Buffer.byteLength(JSON.stringify(listed))).toBeLessThanOrEqual(FAILED_TASKS_MAX_BYTES);
    expect(listed.length).toBeGreaterThan(3_000);
    expect(listed).toEqual(failedRun(10_000).task.slice(0, listed.length).map((t) => t.task_definition_name));
    expect(details.failed_tasks_total).toBe(10_000);
    expect(event.payload!.summary.length).toBeLessThanOrEqual(1024);
  });
});
