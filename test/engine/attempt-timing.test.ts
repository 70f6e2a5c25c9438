/**
 * An attempt's start_time is when it starts executing, after its backoff: its duration is its own,
 * not the wait before it. Over HTTP through the local mode, whose interpreter honours the Wait state.
 */
import { describe, expect, it } from 'vitest';
import { shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const { api } = sundialPerFile();
const BACKOFF_SECONDS = 2;

describe('attempt timing', () => {
  it('a retried attempt starts after its backoff, and its duration leaves the backoff out', async () => {
    // Prepare: fails at once on its first attempt, succeeds on its second, 2 s of backoff between them
    await api('PUT', '/api/process_definitions/flaky', {
      process_definition_name: 'flaky',
      task_definitions: [
        shellScript('flaky', '[ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 1 ] || exit 3', {
          max_attempts: 2,
          backoff_base_seconds: BACKOFF_SECONDS,
          backoff_exponent: 1,
        }),
      ],
    });

    // Act
    const run = (await api('POST', '/api/process_definitions/flaky/trigger')).json;
    const done = await until(() => api('GET', `/api/processes/${run.process_id}`), (r) => r.json.status !== 'running', 60_000);
    const attempts = (await api('GET', `/api/tasks?process_definition_name=flaky`)).json as Array<{ previous_attempt_count: number; start_time: string; end_time: string; status: string }>;

    // Assess
    expect(done.json.status).toBe('succeeded');
    const [first, second] = [...attempts].sort((a, b) => a.previous_attempt_count - b.previous_attempt_count);
    expect([first?.status, second?.status]).toEqual(['failed', 'succeeded']);
    const at = (iso: string | undefined) => Date.parse(iso ?? '');
    expect(at(second?.start_time)).toBeGreaterThanOrEqual(at(first?.end_time) + BACKOFF_SECONDS * 1000);
    const duration = at(second?.end_time) - at(second?.start_time);
    expect(duration).toBeGreaterThanOrEqual(0);
    expect(duration).toBeLessThan(BACKOFF_SECONDS * 1000);
  }, 90_000);

  it('an attempt killed during its backoff never executed: it ends where it starts, never before', async () => {
    // Prepare: the first attempt fails at once, the second waits a long backoff
    await api('PUT', '/api/process_definitions/waiting', {
      process_definition_name: 'waiting',
      task_definitions: [shellScript('waiting', 'exit 3', { max_attempts: 2, backoff_base_seconds: 600, backoff_exponent: 1 })],
    });
    const run = (await api('POST', '/api/process_definitions/waiting/trigger')).json;
    await until(
      () => api('GET', `/api/tasks?process_definition_name=waiting`),
      (r) => (r.json as Array<{ previous_attempt_count: number; status: string }>).some((a) => a.previous_attempt_count === 1 && a.status === 'running'),
      60_000,
    );

    // Act
    expect((await api('POST', `/api/processes/${run.process_id}/kill`)).status).toBe(201);
    const killed = await until(() => api('GET', `/api/processes/${run.process_id}`), (r) => r.json.status === 'failed', 60_000);

    // Assess
    const second = (killed.json.task as Array<{ previous_attempt_count: number; start_time: string; end_time?: string }>).find((a) => a.previous_attempt_count === 1);
    expect(second?.end_time).toBeDefined();
    expect(Date.parse(second?.end_time ?? '')).toBeGreaterThanOrEqual(Date.parse(second?.start_time ?? ''));
  }, 90_000);
});
