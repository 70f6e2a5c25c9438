/** GET /_internal_/metrics: Prometheus text of the counters the store keeps, over a real socket. */
import { describe, expect, it } from 'vitest';
import { PROCESS_STATUSES, TASK_STATUSES } from '../../lambdas/domain/models';
import { metricValue, processDefinition, seedRun, shellScript, sundialPerFile, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

const sundial = sundialPerFile();
const { api, define, trigger, finished } = sundial;

const SAMPLES = [
  'sundial_process_definitions',
  ...PROCESS_STATUSES.map((s) => `sundial_processes{status="${s}"}`),
  ...TASK_STATUSES.map((s) => `sundial_tasks{status="${s}"}`),
];

/** Every sample of the exposition, by name. */
async function metrics(): Promise<Record<string, number>> {
  const res = await api('GET', '/_internal_/metrics');
  expect(res.status).toBe(200);
  return Object.fromEntries(SAMPLES.map((s) => [s, metricValue(res.text, s) ?? Number.NaN]));
}

/** `after - before` per sample, leaving out the zeros. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(SAMPLES.map((s) => [s, (after[s] ?? 0) - (before[s] ?? 0)]).filter(([, d]) => d !== 0));
}

describe('GET /_internal_/metrics', () => {
  it('answers Prometheus text with every gauge, at zero on a fresh store', async () => {
    // Act
    const res = await api('GET', '/_internal_/metrics');

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.text.endsWith('\n')).toBe(true);
    for (const gauge of ['sundial_process_definitions', 'sundial_processes', 'sundial_tasks']) {
      expect(res.text).toContain(`# HELP ${gauge} `);
      expect(res.text).toContain(`# TYPE ${gauge} gauge`);
    }
    for (const sample of SAMPLES) expect(metricValue(res.text, sample)).toBe(0);
  });

  it('counts definitions: +1 per create, 0 per replace or refused PUT, -1 per delete', async () => {
    // Prepare
    const before = await metrics();

    // Act
    await api('PUT', '/api/process_definitions/m-one', processDefinition('m-one'));
    await api('PUT', '/api/process_definitions/m-two', processDefinition('m-two'));
    await api('PUT', '/api/process_definitions/m-two', processDefinition('m-two', { process_description: 'replaced' }));
    await api('PUT', '/api/process_definitions/m-three', { process_definition_name: 'm-three' });
    const afterCreates = await metrics();
    await api('DELETE', '/api/process_definitions/m-one');
    await api('DELETE', '/api/process_definitions/m-one');
    const afterDelete = await metrics();

    // Assess
    expect(delta(before, afterCreates)).toEqual({ sundial_process_definitions: 2 });
    expect(delta(before, afterDelete)).toEqual({ sundial_process_definitions: 1 });
  });

  it('counts runs and task attempts by status as they are written', async () => {
    // Prepare
    const before = await metrics();

    // Act
    await seedRun(sundial.current().services, {
      process_definition_name: 'm-one',
      status: 'running',
      tasks: [
        { task_definition_name: 'a', status: 'succeeded' },
        { task_definition_name: 'b', status: 'running' },
        { task_definition_name: 'c', status: 'pending' },
      ],
    });
    await seedRun(sundial.current().services, { process_definition_name: 'm-one', status: 'failed', tasks: [{ task_definition_name: 'a', status: 'failed' }] });
    const after = await metrics();

    // Assess
    expect(delta(before, after)).toEqual({
      'sundial_processes{status="running"}': 1,
      'sundial_processes{status="failed"}': 1,
      'sundial_tasks{status="succeeded"}': 1,
      'sundial_tasks{status="running"}': 1,
      'sundial_tasks{status="pending"}': 1,
      'sundial_tasks{status="failed"}': 1,
    });
  });

  it('moves a count from one status to another on a transition', async () => {
    // Prepare
    const run = await seedRun(sundial.current().services, { process_definition_name: 'm-two', status: 'running', tasks: [{ task_definition_name: 'a', status: 'running' }] });
    const before = await metrics();
    const [task] = run.tasks;

    // Act
    await sundial.current().services.store.runs.transitionTask(run.process_id, task?.task_id ?? '', ['running'], 'succeeded');
    await sundial.current().services.store.runs.transitionRun(run.process_id, 'running', 'succeeded');
    const after = await metrics();

    // Assess
    expect(delta(before, after)).toEqual({
      'sundial_processes{status="running"}': -1,
      'sundial_processes{status="succeeded"}': 1,
      'sundial_tasks{status="running"}': -1,
      'sundial_tasks{status="succeeded"}': 1,
    });
  });

  it('counts the attempts a run makes as its engine writes them: a chain, a fan-in, a retry, a failure over an optional edge, a kill', async () => {
    // Prepare: a → b (fails its first attempt, has two), a → c, b and c → d, d → e over an optional
    // edge with e failing; and a run killed while its first task runs, its dependent waiting.
    const once = '[ "$SUNDIAL_TASK_PREVIOUS_ATTEMPTS" = 0 ] && exit 1; exit 0';
    await define('m-dag', [
      shellScript('a', 'true'),
      shellScript('b', once, { max_attempts: 2, dependencies: [{ task_definition_name: 'a' }] }),
      shellScript('c', 'true', { dependencies: [{ task_definition_name: 'a' }] }),
      shellScript('d', 'exit 1', { dependencies: [{ task_definition_name: 'b' }, { task_definition_name: 'c' }] }),
      shellScript('e', 'true', { dependencies: [{ task_definition_name: 'd', success_required: false }] }),
    ]);
    await define('m-kill', [shellScript('long', UNTIL_STOPPED), shellScript('next', 'true', { dependencies: [{ task_definition_name: 'long' }] })]);
    const before = await metrics();

    // Act
    const dag = await finished((await trigger('m-dag')).process_id);
    const killed = await trigger('m-kill');
    await until(
      () => api('GET', `/api/processes/${killed.process_id}`),
      (r) => r.json.task.some((t: { status: string }) => t.status === 'running'),
      10_000,
    );
    expect((await api('POST', `/api/processes/${killed.process_id}/kill`)).status).toBe(201);
    await finished(killed.process_id);
    const after = await metrics();

    // Assess: one count per attempt written, by its last status; nothing left running
    expect(dag.status).toBe('failed');
    expect(dag.task.map((t: { task_definition_name: string; status: string }) => `${t.task_definition_name}:${t.status}`).sort()).toEqual(['a:succeeded', 'b:failed', 'b:succeeded', 'c:succeeded', 'd:failed', 'e:succeeded']);
    expect(delta(before, after)).toEqual({
      'sundial_processes{status="failed"}': 2,
      'sundial_tasks{status="succeeded"}': 4,
      'sundial_tasks{status="failed"}': 3,
    });
  }, 60_000);

  it('answers without authentication and refuses other methods', async () => {
    // Act
    const post = await api('POST', '/_internal_/metrics', {});

    // Assess
    expect(post.status).toBe(405);
  });
});
