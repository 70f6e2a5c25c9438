/**
 * AWS's limits on the executor request Prepare builds (../domain/aws-limits.ts): ECS RunTask's
 * overrides (8,192 characters) and Batch SubmitJob's job payload (30 KiB). A definition or a trigger's
 * environment that would pass them is accepted by the API and then fails every attempt at RunTask or
 * SubmitJob; so each task's worst-case request is built — by the launcher's own builders
 * (./launch-requests.ts), with Sundial's `SUNDIAL_*` variables at their longest — and checked at
 * PUT of a definition and at trigger, which answer 400 naming the field.
 */
import { BATCH_JOB_PAYLOAD_MAX_BYTES, ECS_OVERRIDES_MAX_CHARACTERS } from '../domain/aws-limits';
import { attemptEnvironment } from '../domain/engine';
import { BadRequestError, type FieldError } from '../domain/errors';
import type { EnvironmentVariable, TaskDefinition } from '../domain/models';
import { signTaskToken } from '../domain/task-token';
import { MAX_PROBLEMS } from '../domain/validate';
import type { BatchJobRequest, EcsTaskRequest } from './contract';
import { batchJobRequest, ecsTaskRequest, FargateSizeError } from './launch-requests';

/** Characters of ECS RunTask's `overrides` as sent (JSON; the SDK's camelCase keys are as long as these). */
export function ecsOverridesLength(request: Pick<EcsTaskRequest, 'Overrides'>): number {
  // Characters are code points: a surrogate pair is one (counted without spreading the string).
  const json = JSON.stringify(request.Overrides ?? {});
  return json.length - (json.match(SURROGATE_PAIR)?.length ?? 0);
}

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/** Bytes of the Batch SubmitJob request as sent (UTF-8 JSON). */
export function batchJobPayloadBytes(request: BatchJobRequest): number {
  return Buffer.byteLength(JSON.stringify(request));
}

// The longest values Prepare gives Sundial's variables (lambdas/domain/engine.ts, attemptEnvironment).
const LONGEST_ID = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
/**
 * The API's URL is `https://<10-character id>.execute-api.<region>.amazonaws.com` (lib/api.ts), some 60
 * characters; locally `http://127.0.0.1:<port>`. 100 leaves room for any region or partition.
 */
const LONGEST_URL = `https://${'x'.repeat(92)}`;
/** Attempts a task may have made before: a retry of a run adds one past max_attempts, so no bound of the schema. */
const LONGEST_ATTEMPTS = 9_999_999_999;
/** Placeholders of the ARNs Prepare fills in: the longest Batch names (128 characters) in the longest partition and region. */
const LONGEST_ARN_PREFIX = 'arn:aws-iso-b:batch:us-isob-east-1:123456789012';
const LONGEST_JOB_QUEUE = `${LONGEST_ARN_PREFIX}:job-queue/${'q'.repeat(128)}`;
const LONGEST_JOB_DEFINITION = `${LONGEST_ARN_PREFIX}:job-definition/sundial-${'f'.repeat(16)}:${LONGEST_ATTEMPTS}`;
/** `Date.toISOString()` of a four-digit year, as every scheduled time Sundial gives is. */
const LONGEST_TIME = '9999-12-31T23:59:59.999Z';

/**
 * The longest task token: its length depends only on the ids' (an HMAC-SHA256 of fixed length), not on
 * the key. Made once: a definition's check of 10,000 tasks would otherwise sign 10,000 times.
 */
let longestToken: string | undefined;

/** The environment of an attempt of `task` with Sundial's variables at their longest. */
export function worstCaseEnvironment(task: TaskDefinition, runOverrides: readonly EnvironmentVariable[] = []): Record<string, string> {
  longestToken ??= signTaskToken(Buffer.alloc(32), { tid: LONGEST_ID, pid: LONGEST_ID });
  return attemptEnvironment(task.executable, runOverrides, {
    url: LONGEST_URL,
    taskId: LONGEST_ID,
    processId: LONGEST_ID,
    token: longestToken,
    previousAttempts: LONGEST_ATTEMPTS,
    scheduledTime: LONGEST_TIME,
  });
}

/** One task's request past a limit: which limit, how large the request would be. */
export interface RequestOverLimit {
  service: 'ECS' | 'Batch';
  /** What is measured, as a user reads it. */
  what: string;
  size: number;
  limit: number;
  unit: 'characters' | 'bytes';
}

/** The worst-case request of an attempt of `task` against its service's limit, or undefined when it fits. */
export function requestOverLimit(task: TaskDefinition, runOverrides: readonly EnvironmentVariable[] = []): RequestOverLimit | undefined {
  const attempt = { task_definition: task, task_id: LONGEST_ID, environment: worstCaseEnvironment(task, runOverrides) };
  if (task.executable.docker_image_command) {
    let size: number;
    try {
      size = ecsOverridesLength(ecsTaskRequest(attempt, 'unused'));
    } catch (err) {
      if (err instanceof FargateSizeError) return undefined; // no Fargate size: not this module's limit (Prepare reports it)
      throw err;
    }
    return size > ECS_OVERRIDES_MAX_CHARACTERS
      ? { service: 'ECS', what: 'the ECS RunTask overrides', size, limit: ECS_OVERRIDES_MAX_CHARACTERS, unit: 'characters' }
      : undefined;
  }
  const size = batchJobPayloadBytes(batchJobRequest(attempt, { jobQueue: LONGEST_JOB_QUEUE, jobDefinition: LONGEST_JOB_DEFINITION }));
  return size > BATCH_JOB_PAYLOAD_MAX_BYTES
    ? { service: 'Batch', what: 'the Batch SubmitJob request', size, limit: BATCH_JOB_PAYLOAD_MAX_BYTES, unit: 'bytes' }
    : undefined;
}

const count = (n: number) => n.toLocaleString('en-US');

/** `the ECS RunTask overrides of task "t" would be 9,216 characters, over ECS's limit of 8,192 (…)`. */
function describe(task: TaskDefinition, over: RequestOverLimit, because: string): string {
  return (
    `${over.what} of task "${task.task_definition_name}" would be ${count(over.size)} ${over.unit}${because}, over ${over.service}'s limit of ` +
    `${count(over.limit)} (command and environment, Sundial's SUNDIAL_* variables included): every attempt would fail`
  );
}

/** The field of `task` that weighs most in its request: its environment, or its script or command. */
function heaviestField(task: TaskDefinition): string {
  const { shell_script_command: shell, docker_image_command: docker, batch_image_command: batch } = task.executable;
  const [kind, commandField, command, environment] = shell
    ? (['shell_script_command', 'script', shell.script, shell.environment_variables] as const)
    : docker
      ? (['docker_image_command', 'command', docker.command, docker.environment_variables] as const)
      : (['batch_image_command', 'command', batch?.command, batch?.environment_variables] as const);
  const heavier = JSON.stringify(environment ?? []).length >= JSON.stringify(command ?? []).length ? 'environment_variables' : commandField;
  return `executable.${kind}.${heavier}`;
}

/**
 * A definition's tasks whose request would pass an AWS limit, with the declared parameters' defaults in
 * the environment (a scheduled run's): one problem each, naming the field (`parameters` when the task
 * fits without them).
 */
export function definitionRequestProblems(tasks: readonly TaskDefinition[], parameterDefaults: readonly EnvironmentVariable[] = []): FieldError[] {
  const problems: FieldError[] = [];
  tasks.forEach((task, i) => {
    const over = requestOverLimit(task, parameterDefaults);
    if (!over) return;
    const own = parameterDefaults.length === 0 || requestOverLimit(task) !== undefined;
    problems.push({
      code: 'exceeds_aws_limit',
      field: own ? `task_definitions.${i}.${heaviestField(task)}` : 'parameters',
      message: describe(task, over, own ? '' : " with the parameters' defaults"),
    });
  });
  return problems;
}

/**
 * The tasks of a run whose request the run's variables (its parameters, then the trigger's environment)
 * would push past an AWS limit: one problem each, naming `parameters` when they alone do, else
 * `environment_variables` (of the trigger body). Without either nothing is checked: the definition's
 * own requests were checked at PUT.
 */
export function triggerRequestProblems(
  tasks: readonly TaskDefinition[],
  environment: readonly EnvironmentVariable[] | undefined,
  parameters: readonly EnvironmentVariable[] = [],
): FieldError[] {
  const overrides = [...parameters, ...(environment ?? [])];
  if (overrides.length === 0) return [];
  const problems: FieldError[] = [];
  for (const task of tasks) {
    const over = requestOverLimit(task, overrides);
    if (!over) continue;
    const byParameters = parameters.length > 0 && requestOverLimit(task, parameters) !== undefined;
    problems.push(
      byParameters
        ? { code: 'exceeds_aws_limit', field: 'parameters', message: describe(task, over, " with the run's parameters") }
        : { code: 'exceeds_aws_limit', field: 'environment_variables', message: describe(task, over, " with the trigger's environment_variables") },
    );
  }
  return problems;
}

/**
 * Refuses (400, `environment_variables` or `parameters`) a trigger whose environment, with the run's
 * parameters as variables, would push the executor request of a task of the run (`tasks`) past an AWS
 * limit (below): no run is created.
 */
export function checkTriggerEnvironment(
  tasks: readonly TaskDefinition[],
  environment: readonly EnvironmentVariable[] | undefined,
  parameters: readonly EnvironmentVariable[] = [],
): void {
  const overLimit = triggerRequestProblems(tasks, environment, parameters);
  if (overLimit.length > 0) throw BadRequestError.of(overLimit.slice(0, MAX_PROBLEMS));
}
