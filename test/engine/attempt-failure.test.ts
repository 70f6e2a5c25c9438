/**
 * The local executor answers what AWS's `.sync` steps answer (the fixtures in test/fixtures/aws/, written
 * from AWS's documentation), and a failed attempt reads as a reason a user understands, through the local
 * mode's API: `exited with code 3`, `exceeded max_runtime_seconds (N s)` — never a Step Functions name.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptFailure } from '../../lambdas/domain/attempt-failure';
import type { TaskDefinition } from '../../lambdas/domain/models';
import type { BatchJobRequest, EcsTaskRequest } from '../../lambdas/engine/contract';
import { loadTaskDefinition } from '../../local/engine/asl';
import { LocalExecutor } from '../../local/engine/executor';
import { type SyncCase, syncFixture } from '../fixtures/aws/sync';
import { type JsonObject, shellTask, startTestSundial, type TestSundial, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

let t: TestSundial;
let executor: LocalExecutor;

beforeAll(async () => {
  t = await startTestSundial();
  executor = new LocalExecutor({ store: t.services.store, log: () => undefined });
});
afterAll(async () => {
  executor.stopAll('the test ended');
  await executor.close();
  await t.close();
  rmSync(markers, { recursive: true, force: true });
});

/** Every key path of a JSON value with its type (array items merged), e.g. `Attempts[].Container.ExitCode: number`. */
function shape(value: unknown, path = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    out.add(`${path}: array`);
    for (const item of value) shape(item, `${path}[]`, out);
  } else if (value !== null && typeof value === 'object') {
    out.add(`${path}: object`);
    for (const [k, v] of Object.entries(value)) shape(v, path ? `${path}.${k}` : k, out);
  } else {
    out.add(`${path}: ${value === null ? 'null' : typeof value}`);
  }
  return out;
}

/** Asserts that the local answer has only fields AWS's answer has, each of the same type. */
function expectSameShape(local: unknown, aws: unknown): void {
  const documented = shape(aws);
  expect([...shape(local)].filter((p) => !documented.has(p))).toEqual([]);
}

let seq = 0;
/** Plans an attempt of `script` (a task definition the executor knows without reading the store). */
async function planned(script: string, extra: Partial<TaskDefinition> = {}): Promise<{ batch: BatchJobRequest; ecs: EcsTaskRequest }> {
  const taskId = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
  const def = { ...shellTask('t', { executable: { shell_script_command: { script } } }), ...extra } as unknown as TaskDefinition;
  const env = { SUNDIAL_TASK_ID: taskId, SUNDIAL_PROCESS_ID: '00000000-0000-4000-8000-0000000000ff' };
  const plan = await executor.plan({ process_id: env.SUNDIAL_PROCESS_ID, process_definition_name: 'p', task_definition: def, task_id: taskId, environment: env });
  const Environment = Object.entries(env).map(([Name, Value]) => ({ Name, Value }));
  return {
    batch: plan.batch as BatchJobRequest,
    ecs: { TaskDefinition: 'local', StartedBy: taskId, Overrides: { ContainerOverrides: [{ Name: 'task', Environment }] } },
  };
}

/** The error a step threw, as the interpreter hands it to the Catch: `{Error: name, Cause: message}`. */
async function caught(step: Promise<unknown>): Promise<{ Error: string; Cause: string }> {
  const err = await step.then(
    () => undefined,
    (e: Error) => e,
  );
  if (!err) throw new Error('the step succeeded');
  return { Error: err.name, Cause: err.message };
}

const markers = mkdtempSync(join(tmpdir(), 'sundial-running-'));
/** A script that marks itself running (a file named after its task), then runs until it is stopped. */
const marksRunning = (): string => `touch "${markers}/$SUNDIAL_TASK_ID"; ${UNTIL_STOPPED}`;

/** Waits until the attempt's process runs (its marker file exists). */
const untilRunning = (taskId: string) => until(async () => existsSync(join(markers, taskId)), Boolean);

/** Stops attempt `taskId` of `step` once it runs, as a kill does; answers how the step failed. */
async function stoppedWhileRunning(step: Promise<unknown>, taskId: string): Promise<{ Error: string; Cause: string }> {
  const failed = caught(step);
  await untilRunning(taskId);
  await executor.stop({ task_id: taskId }, 'killed by operator');
  return failed;
}

/** Checks a failed step against its fixture: same error name, same shape of cause, same kind of reason. */
function expectFailure(local: { Error: string; Cause: string }, name: SyncCase, timeoutSeconds: number, reason: string): void {
  const aws = syncFixture(name);
  expect(local.Error).toBe(aws.error?.Error);
  expectSameShape(JSON.parse(local.Cause), aws.described);
  expect(attemptFailure({ error: local, timeoutSeconds })).toEqual({ ok: false, reason });
}

const dockerAnswers = spawnSync('docker', ['info'], { timeout: 5000, stdio: 'ignore' }).status === 0;

describe('the local executor answers as AWS does', () => {
  it('RunBatchJob, succeeded: the DescribeJobs job', async () => {
    // Prepare
    const { batch } = await planned('echo hi');
    // Act
    const job = await executor.runBatchJob(batch);
    // Assess
    expectSameShape(job, syncFixture('batch-succeeded').output);
    expect(job).toMatchObject({ Status: 'SUCCEEDED', JobId: expect.any(String), Container: { ExitCode: 0 } });
  });

  it('RunBatchJob, exit 3: States.TaskFailed with the job as Cause', async () => {
    const { batch } = await planned('exit 3');
    expectFailure(await caught(executor.runBatchJob(batch)), 'batch-exit-code', 600, 'exited with code 3');
  });

  it('RunBatchJob, attempt timeout: "Job attempt duration exceeded timeout"', async () => {
    const { batch } = await planned(UNTIL_STOPPED, { max_runtime_seconds: 1 });
    const local = await caught(executor.runBatchJob(batch));
    expect(JSON.parse(local.Cause).StatusReason).toBe('Job attempt duration exceeded timeout');
    expectFailure(local, 'batch-timeout', 1, 'exceeded max_runtime_seconds (1 s)');
  });

  it('RunBatchJob, terminated: the reason given to the stop', async () => {
    const { batch } = await planned(marksRunning());
    expectFailure(await stoppedWhileRunning(executor.runBatchJob(batch), batch.JobName), 'batch-terminated', 600, 'stopped: killed by operator');
  });

  it.runIf(!dockerAnswers)('RunBatchJob, an image without a Docker engine: the container could not start', async () => {
    const { batch } = await planned('unused', {
      executable: { batch_image_command: { image: 'docker.io/library/python', tag: '3.13', command: ['true'], environment_variables: [] } },
    } as unknown as Partial<TaskDefinition>);
    const local = await caught(executor.runBatchJob(batch));
    expectFailure(local, 'batch-cannot-pull', 600, expect.stringMatching(/^could not start the container: no Docker engine answers/) as unknown as string);
  });

  it('EcsAttempt, the deadline won: the error and cause of the synthesized EcsTimedOut state', async () => {
    // Prepare
    const definition = (await loadTaskDefinition()) as any;
    const timedOut = definition.States.EcsAttempt.Branches[1].States.EcsTimedOut;
    // Assess
    expect({ Error: timedOut.Error, Cause: timedOut.Cause }).toEqual(syncFixture('ecs-deadline').error);
  });

  it('RunEcsTask, every container exited 0: the DescribeTasks task', async () => {
    const { ecs } = await planned('echo hi');
    const task = await executor.runEcsTask(ecs);
    expectSameShape(task, syncFixture('ecs-succeeded').output);
    expect(task).toMatchObject({ StopCode: 'EssentialContainerExited', Containers: [{ Name: 'task', ExitCode: 0 }] });
  });

  it('RunEcsTask, exit 3: States.TaskFailed with the task as Cause', async () => {
    const { ecs } = await planned('exit 3');
    expectFailure(await caught(executor.runEcsTask(ecs)), 'ecs-exit-code', 600, 'exited with code 3');
  });

  it('RunEcsTask, stopped: StopCode UserInitiated and the reason given to StopTask', async () => {
    const { ecs } = await planned(marksRunning());
    expectFailure(await stoppedWhileRunning(executor.runEcsTask(ecs), ecs.StartedBy), 'ecs-stopped', 600, 'stopped: killed by operator');
  });
});

describe('a failed attempt reads as a reason (local mode, through the API)', () => {
  async function runOf(name: string, task: JsonObject): Promise<any> {
    await t.define(name, [task]);
    return t.finished((await t.trigger(name)).process_id);
  }

  it.each([
    ['exits 3', { executable: { shell_script_command: { script: 'exit 3' } } }, 'attempt failed: exited with code 3'],
    ['overruns', { executable: { shell_script_command: { script: UNTIL_STOPPED } }, max_runtime_seconds: 1 }, 'attempt failed: exceeded max_runtime_seconds (1 s)'],
  ])('a task that %s', async (_, overrides, message) => {
    // Act
    const run = await runOf(`reason-${seq++}`, shellTask('t', overrides));
    // Assess
    const [attempt] = run.task;
    expect(attempt.status).toBe('failed');
    const sundial = attempt.log_entries.filter((e: any) => e.source === 'sundial').map((e: any) => e.message);
    expect(sundial).toEqual([message]);
    expect(JSON.stringify(run)).not.toMatch(/\b(States|Sundial)\.[A-Za-z]+/);
  });
});
