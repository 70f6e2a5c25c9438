/**
 * AWS's limits on the executor request of an attempt (lambdas/domain/aws-limits.ts): ECS RunTask's overrides
 * (8,192 characters, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html) and Batch
 * SubmitJob's job payload (30 KiB, https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html).
 * A definition or a trigger that would pass them is refused before anything runs; a request that reaches the
 * local executor anyway fails as the `.sync` step would deployed (test/fixtures/aws/*-too-*.json), with a
 * reason a user reads.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchJobRequest, ecsTaskRequest } from '../../lambdas/engine/launch-requests';
import { attemptFailure } from '../../lambdas/domain/attempt-failure';
import { BATCH_JOB_PAYLOAD_MAX_BYTES, ECS_OVERRIDES_MAX_CHARACTERS, SFN_PAYLOAD_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { attemptEnvironment } from '../../lambdas/domain/engine';
import { processDefinition as definitionSchema, type TaskDefinition, taskDefinition } from '../../lambdas/domain/models';
import { batchJobPayloadBytes, ecsOverridesLength, worstCaseEnvironment } from '../../lambdas/engine/request-limits';
import { signTaskToken } from '../../lambdas/domain/task-token';
import type { BatchJobRequest, EcsTaskRequest } from '../../lambdas/engine/contract';
import { LocalExecutor } from '../../local/engine/executor';
import { syncFixture } from '../fixtures/aws/sync';
import { dockerTask, type JsonObject, processDefinition, shellScript, sundialPerFile } from '../helpers/local';

const sundial = sundialPerFile();
/** A second executor over the same store: requests straight to RunEcsTask / RunBatchJob, as the state machine passes them. */
let executor: LocalExecutor;
beforeAll(() => {
  executor = new LocalExecutor({ store: sundial.current().services.store, log: () => undefined });
});
afterAll(async () => {
  await executor.close();
});

/** Environment variables holding `chars` characters of values in all (each value at most 4,000: the schema's 4,096). */
function environmentOf(chars: number): JsonObject[] {
  const vars: JsonObject[] = [];
  for (let i = 0; chars > 0; i++, chars -= 4000) vars.push({ variable_name: `V${i}`, value: 'v'.repeat(Math.min(chars, 4000)) });
  return vars;
}

const dockerWithEnv = (chars: number) =>
  dockerTask('big', { max_attempts: 1, backoff_base_seconds: 0, executable: { docker_image_command: { image: 'alpine', command: ['true'], environment_variables: environmentOf(chars) } } });
const parsed = (task: JsonObject): TaskDefinition => taskDefinition.parse(task);

/** The worst-case ECS overrides of a docker task whose environment holds `chars` characters. */
const worstEcs = (chars: number) => {
  const task = parsed(dockerWithEnv(chars));
  return ecsOverridesLength(ecsTaskRequest({ task_definition: task, task_id: 'x', environment: worstCaseEnvironment(task) }, 'x'));
};

/** Characters of environment that bring a docker task's worst-case overrides to exactly the limit. */
function charsAtEcsLimit(): number {
  const chars = 8000 - (worstEcs(8000) - ECS_OVERRIDES_MAX_CHARACTERS);
  expect(worstEcs(chars)).toBe(ECS_OVERRIDES_MAX_CHARACTERS);
  return chars;
}

const put = (name: string, tasks: JsonObject[]) => sundial.api('PUT', `/api/process_definitions/${name}`, processDefinition(name, { task_definitions: tasks }));

describe('a definition whose requests would pass an AWS limit is refused at PUT', () => {
  it('a docker_image_command whose ECS overrides would be 9 KB: 400 naming its environment_variables', async () => {
    // Prepare
    const tasks = [shellScript('first', 'true'), dockerWithEnv(9000)];
    // Act
    const res = await put('ecs-9k', tasks);
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'exceeds_aws_limit', field: 'task_definitions.1.executable.docker_image_command.environment_variables' });
    expect(res.json.error.message).toMatch(/ECS RunTask overrides of task "big" would be 9,\d{3} characters.*ECS's limit of 8,192/);
    expect((await sundial.api('GET', '/api/process_definitions/ecs-9k')).status).toBe(404);
  });

  it('at exactly 8,192 characters: 201; one more: 400', async () => {
    // Prepare
    const chars = charsAtEcsLimit();
    // Act
    const atLimit = await put('ecs-at-limit', [dockerWithEnv(chars)]);
    const over = await put('ecs-over-limit', [dockerWithEnv(chars + 1)]);
    // Assess
    expect(atLimit.status, atLimit.text).toBe(201);
    expect(over.status, over.text).toBe(400);
    expect(over.json.error.message).toContain('would be 8,193 characters');
  });

  it('a shell_script_command whose Batch job would pass 30 KiB: 400 naming its script', async () => {
    // Prepare: the script travels in the job's command (sh -c <script>)
    const script = `: '${'s'.repeat(BATCH_JOB_PAYLOAD_MAX_BYTES)}'`;
    // Act
    const res = await put('batch-31k', [shellScript('long', script)]);
    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'exceeds_aws_limit', field: 'task_definitions.0.executable.shell_script_command.script' });
    expect(res.json.error.message).toMatch(/Batch SubmitJob request of task "long" would be 3\d,\d{3} bytes.*Batch's limit of 30,720/);
  });
});

describe('a trigger whose environment would push a task over an AWS limit is refused', () => {
  it('400 naming environment_variables, and no run is created', async () => {
    // Prepare: a definition 100 characters under the limit
    const name = 'ecs-trigger';
    expect((await put(name, [dockerWithEnv(charsAtEcsLimit() - 100)])).status).toBe(201);
    // Act
    const refused = await sundial.api('POST', `/api/process_definitions/${name}/trigger`, { environment_variables: [{ variable_name: 'EXTRA', value: 'e'.repeat(200) }] });
    const runs = await sundial.api('GET', `/api/processes?process_definition_name=${name}`);
    const accepted = await sundial.api('POST', `/api/process_definitions/${name}/trigger`, { environment_variables: [{ variable_name: 'EXTRA', value: 'e' }] });
    // Assess
    expect(refused.status, refused.text).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'exceeds_aws_limit', field: 'environment_variables' });
    expect(refused.json.error.message).toMatch(/task "big" would be 8,\d{3} characters with the trigger's environment_variables/);
    expect(runs.json).toEqual([]);
    expect(accepted.status, accepted.text).toBe(201);
    await sundial.api('POST', `/api/processes/${accepted.json.process_id}/kill`);
  });
});

describe('the worst case bounds a real attempt', () => {
  it('the SUNDIAL_* placeholders are at least as long as a real attempt\'s (token, ids, URL)', async () => {
    // Prepare: a real attempt's environment, as Prepare builds it
    const task = parsed(dockerWithEnv(100));
    const [taskId, processId] = [randomUUID(), randomUUID()];
    const real = attemptEnvironment(task.executable, [], {
      url: sundial.current().url,
      taskId,
      processId,
      token: signTaskToken(await sundial.current().services.tokenKey(), { tid: taskId, pid: processId }),
      previousAttempts: 499,
      scheduledTime: new Date().toISOString(),
    });
    const worst = worstCaseEnvironment(task);
    // Act
    const realLength = ecsOverridesLength(ecsTaskRequest({ task_definition: task, task_id: taskId, environment: real }, 'x'));
    const worstLength = ecsOverridesLength(ecsTaskRequest({ task_definition: task, task_id: taskId, environment: worst }, 'x'));
    // Assess
    expect(Object.keys(worst).sort()).toEqual(Object.keys(real).sort());
    for (const key of Object.keys(real)) expect(worst[key]!.length, key).toBeGreaterThanOrEqual(real[key]!.length);
    expect(worstLength).toBeGreaterThanOrEqual(realLength);
  });

  it("a Batch request at 30 KiB leaves the state Record reads under Step Functions' 256 KB", () => {
    // Prepare: a script of quotes, the heaviest character (\" in the request, \\\" again in the Cause), filling the job to the limit
    const task = parsed(shellScript('s', 'x'));
    const withScript = (quotes: number): BatchJobRequest => {
      const request = batchJobRequest({ task_definition: task, task_id: randomUUID(), environment: worstCaseEnvironment(task) }, { jobQueue: 'q', jobDefinition: 'd' });
      return { ...request, ContainerOverrides: { ...request.ContainerOverrides, Command: ['sh', '-c', '"'.repeat(quotes)] } };
    };
    const request = withScript(Math.floor((BATCH_JOB_PAYLOAD_MAX_BYTES - batchJobPayloadBytes(withScript(0))) / 2));
    const described = syncFixture('batch-exit-code').described!;
    // The failed job as Step Functions hands it to Record: the DescribeJobs job, with the command and environment it ran with.
    const job = { ...described, Container: { ...described.Container, Command: request.ContainerOverrides.Command, Environment: request.ContainerOverrides.Environment } };
    const state = {
      process_id: randomUUID(),
      task_definition_name: 'n'.repeat(64),
      attempt: { skip: false, task_id: randomUUID(), backoff_seconds: 1e9, timeout_seconds: 1e9, executor: 'batch', batch: request, claimed: { round: 1e9, attempts: 1e9, max_attempts: 500, require_explicit_success: true } },
      error: { Error: 'States.TaskFailed', Cause: JSON.stringify(job) },
    };
    // Assess
    expect(batchJobPayloadBytes(request)).toBeGreaterThan(BATCH_JOB_PAYLOAD_MAX_BYTES - 2);
    expect(Buffer.byteLength(JSON.stringify(state))).toBeLessThan(SFN_PAYLOAD_MAX_BYTES);
  });
});

/** How a step failed, as the interpreter hands it to the Catch: `{Error: name, Cause: message}`. */
const caught = (step: Promise<unknown>) =>
  step.then(
    () => ({ Error: 'none: the step succeeded', Cause: '' }),
    (e: Error) => ({ Error: e.name, Cause: e.message }),
  );

/** The cause with its request id blanked, to compare with a fixture's. */
const withoutRequestId = (cause: string) => cause.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');

describe('the local executor refuses a request over a limit as the service would', () => {
  it('RunEcsTask, overrides over 8,192 characters: ECS.InvalidParameterException, read as a reason', async () => {
    // Prepare: a request that never met the PUT check (as a definition stored before it would)
    const task = parsed(dockerWithEnv(charsAtEcsLimit() + 1));
    const taskId = randomUUID();
    const plan = await executor.plan({ process_id: randomUUID(), process_definition_name: 'p', task_definition: task, task_id: taskId, environment: worstCaseEnvironment(task) });
    const ecs = plan.ecs as EcsTaskRequest;
    expect(ecsOverridesLength(ecs)).toBeGreaterThan(ECS_OVERRIDES_MAX_CHARACTERS);
    // Act
    const local = await caught(executor.runEcsTask(ecs));
    // Assess
    const aws = syncFixture('ecs-overrides-too-long');
    expect(local.Error).toBe(aws.error?.Error);
    expect(withoutRequestId(local.Cause)).toBe(withoutRequestId(aws.error!.Cause));
    expect(attemptFailure({ error: local, timeoutSeconds: 600 })).toEqual({ ok: false, reason: "the container overrides (command and environment) exceed ECS's 8,192 characters" });
  });

  it('RunBatchJob, a job over 30 KiB: Batch.ClientException, read as a reason', async () => {
    // Prepare
    const task = parsed(shellScript('long', `: '${'s'.repeat(40 * 1024)}'`));
    const plan = await executor.plan({ process_id: randomUUID(), process_definition_name: 'p', task_definition: task, task_id: randomUUID(), environment: worstCaseEnvironment(task) });
    const batch = plan.batch as BatchJobRequest;
    // Act
    const local = await caught(executor.runBatchJob(batch));
    // Assess
    const aws = syncFixture('batch-job-too-large');
    expect(local.Error).toBe(aws.error?.Error);
    expect(withoutRequestId(local.Cause)).toBe(withoutRequestId(aws.error!.Cause).replace('got 47 KiB', 'got 41 KiB'));
    expect(attemptFailure({ error: local, timeoutSeconds: 600 })).toEqual({ ok: false, reason: "the Batch job (command and environment) exceeds Batch's 30 KiB (41 KiB)" });
  });

  it('through the local state machine: a stored definition over the limit fails its attempt with that reason', async () => {
    // Prepare: stored without the PUT check
    const name = 'stored-over-limit';
    const def = definitionSchema.parse(processDefinition(name, { task_definitions: [dockerWithEnv(9 * 1024)] }));
    await sundial.current().services.store.definitions.put(def, new Date().toISOString());
    // Act
    const ended = await sundial.finished((await sundial.trigger(name)).process_id);
    // Assess
    expect(ended.status).toBe('failed');
    const messages = ended.task.flatMap((a: JsonObject) => (a.log_entries as JsonObject[]).map((e) => e.message));
    expect(messages).toContain("attempt failed: the container overrides (command and environment) exceed ECS's 8,192 characters");
  });
});
