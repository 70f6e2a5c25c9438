/**
 * The requests an attempt is launched with, as the task state machine sends them (`RunBatchJob`:
 * batch:submitJob.sync, `RunEcsTask`: ecs:runTask.sync): pure, so that the deployed launcher
 * (lambdas/adapters/batch-ecs.ts), the local executor and the limits checked before a run
 * (./request-limits.ts) build the same request. Part of the engine's contract with the state machine
 * (./contract.ts), with the Fargate sizes a request may ask for.
 */
import { type BatchJobRequest, DEFAULT_TIMEOUT_SECONDS, ECS_CONTAINER_NAME, type EcsTaskRequest, type KeyValue } from './contract';
import type { AttemptToLaunch } from './ports';

// ---- Fargate sizes -----------------------------------------------------------------------------

/** A size Fargate accepts: CPU units (1024 = 1 vCPU) and memory in MiB. */
export interface FargateSize {
  cpu: number;
  memory: number;
}

/** A requested size larger than any Fargate offers (16 vCPU, 120 GiB). */
export class FargateSizeError extends Error {
  constructor(cpu: number, memory: number) {
    super(`no Fargate size has ${cpu} CPU units and ${memory} MiB (at most 16384 units, 122880 MiB)`);
    this.name = 'FargateSizeError';
  }
}

const range = (from: number, to: number, step: number) => Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

/** The CPU/memory pairs Fargate accepts (Linux), smallest first. */
const FARGATE_SIZES: ReadonlyArray<{ cpu: number; memory: readonly number[] }> = [
  { cpu: 256, memory: [512, 1024, 2048] },
  { cpu: 512, memory: range(1024, 4096, 1024) },
  { cpu: 1024, memory: range(2048, 8192, 1024) },
  { cpu: 2048, memory: range(4096, 16_384, 1024) },
  { cpu: 4096, memory: range(8192, 30_720, 1024) },
  { cpu: 8192, memory: range(16_384, 61_440, 4096) },
  { cpu: 16_384, memory: range(32_768, 122_880, 8192) },
];

/**
 * The smallest Fargate size with at least `cpu` units and `memory` MiB: the CPU is rounded up to the
 * next size that offers that much memory, then the memory up to the next value that size accepts.
 * E.g. (256, 4096) → (512, 4096); (1024, 3000) → (1024, 3072); (3072, 0) → (4096, 8192).
 */
export function fargateSize(cpu: number, memory: number): FargateSize {
  for (const size of FARGATE_SIZES) {
    if (size.cpu < cpu) continue;
    const fit = size.memory.find((m) => m >= memory);
    if (fit !== undefined) return { cpu: size.cpu, memory: fit };
  }
  throw new FargateSizeError(cpu, memory);
}

/** Size of `shell_script_command` jobs (the spec gives them none): the smallest Fargate offers. */
export const SHELL_SIZE: FargateSize = { cpu: 256, memory: 512 };

/** Size of `docker_image_command` tasks that set neither `cpu` (CPU units) nor `memory` (MiB). */
export const DOCKER_DEFAULT_SIZE: FargateSize = { cpu: 256, memory: 512 };

/** Batch's minimum attempt timeout (`AttemptDurationSeconds`). */
export const BATCH_MIN_TIMEOUT_SECONDS = 60;

const toKeyValues = (environment: Record<string, string>): KeyValue[] =>
  Object.entries(environment).map(([Name, Value]) => ({ Name, Value }));

// ---- the requests ------------------------------------------------------------------------------

/** What a request is built from: the attempt's task, id and environment (Sundial's `SUNDIAL_*` included). */
export type AttemptRequestInput = Pick<AttemptToLaunch, 'task_definition' | 'task_id' | 'environment'>;

/**
 * The `batch:submitJob.sync` parameters of an attempt of a `shell_script_command` or `batch_image_command`
 * task on `jobQueue` (a task's own `job_queue` wins) with `jobDefinition`. Pure: the launcher, the local
 * executor and the limits checked before a run (./request-limits.ts) build the same request.
 */
export function batchJobRequest(attempt: AttemptRequestInput, where: { jobQueue: string; jobDefinition: string }): BatchJobRequest {
  const { executable } = attempt.task_definition;
  const environment = toKeyValues(attempt.environment);
  const command = executable.shell_script_command ? ['sh', '-c', executable.shell_script_command.script] : (executable.batch_image_command?.command ?? []);
  return {
    JobName: attempt.task_id,
    JobQueue: executable.batch_image_command?.job_queue ?? where.jobQueue,
    JobDefinition: where.jobDefinition,
    ContainerOverrides: { ...(command.length > 0 ? { Command: command } : {}), Environment: environment },
    // Batch enforces max_runtime_seconds itself, with a floor of 60 s (see docs/ENGINE.md, limits).
    Timeout: {
      AttemptDurationSeconds: Math.max(BATCH_MIN_TIMEOUT_SECONDS, attempt.task_definition.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS),
    },
  };
}

/**
 * The `ecs:runTask.sync` parameters of an attempt of a `docker_image_command` task with `taskDefinition`:
 * command, environment and the Fargate size as overrides. Pure, as {@link batchJobRequest}.
 */
export function ecsTaskRequest(attempt: AttemptRequestInput, taskDefinition: string): EcsTaskRequest {
  const cmd = attempt.task_definition.executable.docker_image_command;
  if (!cmd) throw new Error(`task "${attempt.task_definition.task_definition_name}" has no docker_image_command`);
  const size = fargateSize(cmd.cpu ?? DOCKER_DEFAULT_SIZE.cpu, cmd.memory ?? DOCKER_DEFAULT_SIZE.memory);
  return {
    TaskDefinition: taskDefinition,
    StartedBy: attempt.task_id,
    Overrides: {
      ContainerOverrides: [
        { Name: ECS_CONTAINER_NAME, ...(cmd.command.length > 0 ? { Command: cmd.command } : {}), Environment: toKeyValues(attempt.environment) },
      ],
      Cpu: String(size.cpu),
      Memory: String(size.memory),
    },
  };
}
