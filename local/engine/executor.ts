/**
 * The local executors, standing in for AWS Batch and ECS: a `shell_script_command` runs as a child
 * process (`/bin/sh -c`), images run with `docker run` when a Docker engine answers, else the attempt
 * fails with that reason. Output lines become the attempt's log entries (source `stdout`/`stderr`).
 * It is also the local `Launcher`: it builds the same Batch/ECS requests the AWS launcher builds,
 * without registering anything, and stops what runs.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { batchJobRequest, ecsTaskRequest } from '../../lambdas/engine/launch-requests';
import { BATCH_TIMEOUT_REASON, ESSENTIAL_CONTAINER_EXITED } from '../../lambdas/domain/attempt-failure';
import { BATCH_JOB_PAYLOAD_MAX_BYTES, BATCH_JOB_TOO_LARGE, ECS_OVERRIDES_MAX_CHARACTERS, ECS_OVERRIDES_TOO_LONG } from '../../lambdas/domain/aws-limits';
import { executorKind } from '../../lambdas/domain/engine';
import type { TaskDefinition, TaskExecutable } from '../../lambdas/domain/models';
import { LIMITS } from '../../lambdas/domain/models';
import { batchJobPayloadBytes, ecsOverridesLength } from '../../lambdas/engine/request-limits';
import { type BatchJobRequest, DEFAULT_TIMEOUT_SECONDS, ECS_CONTAINER_NAME, type EcsTaskRequest, type KeyValue } from '../../lambdas/engine/contract';
import { stableUuid } from '../../lambdas/domain/ids';
import type { AttemptToLaunch, Launcher } from '../../lambdas/engine/ports';
import type { Store } from '../../lambdas/store';
import type { CapturedLine } from '../../lambdas/store/runs';
import { type SpawnedTask, Spawner } from './spawner';

/** An error whose `name` Step Functions matches in Catch/Retry (e.g. `States.TaskFailed`). */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Running {
  child: SpawnedTask;
  killedBecause?: string;
}

type DockerImageCommand = NonNullable<TaskExecutable['docker_image_command']>;

const fromKeyValues = (kv: readonly KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((kv ?? []).map((e) => [e.Name, e.Value]));

export interface LocalExecutorOptions {
  store: Store;
  log: (line: string) => void;
  /** How a container reaches this server (docker run); @default SUNDIAL_URL with 127.0.0.1 → host.docker.internal */
  dockerHost?: string;
}

export class LocalExecutor implements Launcher {
  private readonly running = new Map<string, Running>();
  /** Definitions of planned attempts, so that running one needs no read (the store is the fallback). */
  private readonly planned = new Map<string, TaskDefinition>();
  private dockerAnswers: boolean | undefined;
  /** Starts the tasks' processes (a helper process: forks from the server would block its event loop). */
  private readonly spawner: Spawner;

  constructor(private readonly o: LocalExecutorOptions) {
    this.spawner = new Spawner(o.log);
  }

  // ---- Launcher --------------------------------------------------------------------------------

  async plan(a: AttemptToLaunch) {
    const def = a.task_definition;
    this.planned.set(a.task_id, def);
    const timeout = def.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS;
    // The launcher's own builders: the request weighs what it weighs deployed (AWS's limits, below).
    if (executorKind(def.executable) === 'docker') return { executor: 'ecs' as const, ecs: ecsTaskRequest(a, 'local') };
    const batch: BatchJobRequest = {
      ...batchJobRequest(a, { jobQueue: 'local', jobDefinition: 'local' }),
      // Locally the exact bound; AWS Batch's minimum is 60 s (see docs/ENGINE.md).
      Timeout: { AttemptDurationSeconds: timeout },
    };
    return { executor: 'batch' as const, batch };
  }

  async stop(attempt: { task_id: string }, reason: string): Promise<void> {
    const r = this.running.get(attempt.task_id);
    if (!r) return;
    r.killedBecause = reason;
    killGroup(r.child);
  }

  /** Stops everything (server shutdown). */
  stopAll(reason: string): void {
    for (const r of this.running.values()) {
      r.killedBecause = reason;
      killGroup(r.child);
    }
  }

  /** After {@link stopAll}: ends the spawner, which stops whatever still runs (SIGKILL after 5 s). */
  async close(): Promise<void> {
    await this.spawner.close();
  }

  // ---- the executor states ---------------------------------------------------------------------

  /**
   * Override of `RunBatchJob`: input is the Batch SubmitJob parameters. Answers what `batch:submitJob.sync`
   * answers: the job as `DescribeJobs` describes it (PascalCase) when it SUCCEEDED; else fails the step
   * with `States.TaskFailed` and that description as JSON in `Cause` (the interpreter turns the thrown
   * error's name and message into the Catch's `{Error, Cause}`), as Step Functions does. Shapes:
   * test/fixtures/aws/batch-*.json.
   */
  async runBatchJob(input: BatchJobRequest): Promise<LocalBatchJob> {
    // SubmitJob refuses a job over 30 KiB before any job exists: the step fails with Batch's error.
    const bytes = batchJobPayloadBytes(input);
    if (bytes > BATCH_JOB_PAYLOAD_MAX_BYTES) {
      this.planned.delete(input.JobName);
      throw new StatesError(BATCH_JOB_TOO_LARGE.error, BATCH_JOB_TOO_LARGE.cause(Math.ceil(bytes / 1024), randomUUID()));
    }
    const createdAt = Date.now();
    const env = fromKeyValues(input.ContainerOverrides?.Environment);
    const timeout = input.Timeout?.AttemptDurationSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const ended = await this.runAttempt(env, timeout);
    const job = batchJob(input, ended, createdAt);
    if (job.Status !== 'SUCCEEDED') throw new StatesError('States.TaskFailed', JSON.stringify(job));
    return job;
  }

  /**
   * Override of `RunEcsTask`: input is the ECS RunTask parameters. Answers what `ecs:runTask.sync` answers:
   * the task as `DescribeTasks` describes it when every container exited 0; else `States.TaskFailed` with
   * that description as `Cause`. ECS has no timeout of its own: the state machine's `EcsDeadline` bounds
   * the attempt, and `Record` stops the task after it. Shapes: test/fixtures/aws/ecs-*.json.
   */
  async runEcsTask(input: EcsTaskRequest): Promise<LocalEcsTask> {
    // RunTask refuses overrides over 8,192 characters before any task exists: the step fails with ECS's error.
    if (ecsOverridesLength(input) > ECS_OVERRIDES_MAX_CHARACTERS) {
      this.planned.delete(input.StartedBy);
      throw new StatesError(ECS_OVERRIDES_TOO_LONG.error, ECS_OVERRIDES_TOO_LONG.cause(randomUUID()));
    }
    const createdAt = Date.now();
    const env = fromKeyValues(input.Overrides?.ContainerOverrides?.[0]?.Environment);
    const ended = await this.runAttempt(env, undefined);
    const task = ecsTask(input, ended, createdAt);
    if (task.Containers.some((c) => c.ExitCode !== 0)) throw new StatesError('States.TaskFailed', JSON.stringify(task));
    return task;
  }

  /** Runs one attempt to its end; `timeoutSeconds` undefined: no bound of its own. */
  private async runAttempt(env: Record<string, string>, timeoutSeconds: number | undefined): Promise<AttemptEnded> {
    const taskId = env.SUNDIAL_TASK_ID;
    const processId = env.SUNDIAL_PROCESS_ID;
    if (!taskId || !processId) throw new StatesError('States.TaskFailed', 'the attempt has no SUNDIAL_TASK_ID or SUNDIAL_PROCESS_ID');
    const def = this.planned.get(taskId) ?? (await this.definitionOf(processId, taskId));
    this.planned.delete(taskId);
    const startedAt = Date.now();
    const image = imageOf(def);
    const command = this.commandOf(def, env);
    if (typeof command === 'string') return { startedAt, stoppedAt: Date.now(), image, cannotStart: command };
    return { ...(await this.spawnAndWait(processId, taskId, command[0], command[1], env, timeoutSeconds)), startedAt, image };
  }

  private async definitionOf(processId: string, taskId: string): Promise<TaskDefinition> {
    const taskName = (await this.o.store.runs.getTaskRecord(processId, taskId))?.task_definition_name;
    const slot = taskName ? await this.o.store.slots.get(processId, taskName) : undefined;
    if (!slot) throw new StatesError('States.TaskFailed', `task ${taskId} is unknown to the local executor`);
    return slot.definition;
  }

  /** The command of an attempt, or why its container cannot start (the reason ECS and Batch would give). */
  private commandOf(def: TaskDefinition, env: Record<string, string>): [string, string[]] | string {
    const ex = def.executable;
    if (ex.shell_script_command) return ['/bin/sh', ['-c', ex.shell_script_command.script]];
    const image = ex.docker_image_command ?? ex.batch_image_command;
    if (!image) throw new StatesError('States.TaskFailed', 'the task has no executable');
    this.dockerAnswers ??= dockerEngineAnswers();
    if (!this.dockerAnswers) {
      return `CannotStartContainerError: no Docker engine answers on this machine: cannot run image ${image.image}:${image.tag} locally (start Docker, or use shell_script_command)`;
    }
    return dockerRun(image, env, this.o.dockerHost);
  }

  private async spawnAndWait(
    processId: string,
    taskId: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    timeoutSeconds: number | undefined,
  ): Promise<Omit<AttemptEnded, 'startedAt' | 'image'>> {
    const child = this.spawner.spawn(command, args, { ...process.env, ...env });
    const entry: Running = { child };
    this.running.set(taskId, entry);
    const output = new OutputCollector(this.o.store, processId, taskId);
    // Each stream's lines, until it is drained (after the process ended, its last line without a newline).
    const drained = (['stdout', 'stderr'] as const).map((source) => {
      const lines = createInterface({ input: child[source], crlfDelay: Number.POSITIVE_INFINITY });
      lines.on('line', (line) => output.add(source, line));
      return new Promise<void>((resolve) => lines.once('close', () => resolve()));
    });
    let timedOut = false;
    const timer =
      timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(child);
          }, timeoutSeconds * 1000);
    timer?.unref();
    const { code, signal, error } = await child.ended;
    clearTimeout(timer);
    const stoppedAt = Date.now();
    await Promise.all(drained);
    this.running.delete(taskId);
    await output.close().catch((err) => this.o.log(`error storing output of task ${taskId}: ${err}`));
    if (error) return { stoppedAt, cannotStart: `CannotStartContainerError: could not start or follow ${command}: ${error.message}` };
    // A container killed by a signal reports 128 + the signal's number, as Docker does.
    const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    if (timedOut) return { stoppedAt, exitCode, timedOut: true };
    return { stoppedAt, exitCode, ...(entry.killedBecause ? { stoppedBecause: entry.killedBecause } : {}) };
  }
}

/** Whether a Docker engine answers on this machine (the executor and `sundial exec` run images only then). */
export function dockerEngineAnswers(): boolean {
  return spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000, stdio: 'ignore' }).status === 0;
}

/**
 * `docker run` of an image task with the attempt's environment (`env`), `SUNDIAL_URL` as a container reaches
 * this machine: `dockerHost`, else SUNDIAL_URL with 127.0.0.1 → host.docker.internal.
 */
export function dockerRun(image: Pick<DockerImageCommand, 'image' | 'tag' | 'command'>, env: Record<string, string>, dockerHost?: string): [string, string[]] {
  const url = env.SUNDIAL_URL ?? '';
  const containerEnv = { ...env, SUNDIAL_URL: dockerHost ?? url.replace('127.0.0.1', 'host.docker.internal') };
  return [
    'docker',
    [
      'run', '--rm', '--name', `sundial-${env.SUNDIAL_TASK_ID}`, '--add-host=host.docker.internal:host-gateway',
      ...Object.entries(containerEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      `${image.image}:${image.tag}`,
      ...image.command,
    ],
  ];
}

/** SIGTERM to the task's process group, SIGKILL 5 s later if it is still there. */
export function killGroup(child: SpawnedTask): void {
  if (child.exited) return;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}

/**
 * Numbers an attempt's output lines in the order they are read from its pipes (both streams, one
 * sequence) and writes them as log entries in batches (ids and keys stable per sequence number, so a
 * rewrite is the same items). A write takes every line waiting when it starts, so a slow store gets
 * fewer, larger writes rather than a queue of small ones.
 */
class OutputCollector {
  private pending: CapturedLine[] = [];
  private seq = 0;
  /** `when` of the last line: a line is never stamped before the one read ahead of it (clock steps). */
  private lastMs = 0;
  private scheduled = false;
  private failed: unknown;
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly processId: string,
    private readonly taskId: string,
  ) {
    this.timer = setInterval(() => this.flush(), 250);
    this.timer.unref();
  }

  add(source: 'stdout' | 'stderr', line: string): void {
    const seq = this.seq++;
    this.lastMs = Math.max(this.lastMs, Date.now());
    this.pending.push({
      log_entry_id: stableUuid(this.taskId, 'output', seq),
      when: new Date(this.lastMs).toISOString(),
      source,
      message: line.length > LIMITS.entryMessageMaxLength ? `${line.slice(0, LIMITS.entryMessageMaxLength - 1)}…` : line,
      seq,
    });
    if (this.pending.length >= 200) this.flush();
  }

  private flush(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    this.flushing = this.flushing.then(async () => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      await this.store.runs.appendCapturedLines(this.processId, this.taskId, batch).catch((err: unknown) => {
        this.failed ??= err;
      });
    });
  }

  /** Writes what is left; throws the first write error, if any. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    await this.flushing;
    if (this.failed !== undefined) throw this.failed;
  }
}

/** How a local attempt ended. */
interface AttemptEnded {
  startedAt: number;
  stoppedAt: number;
  image: string;
  /** The container never ran: the reason, with the prefix ECS uses (CannotStartContainerError: …). */
  cannotStart?: string;
  exitCode?: number;
  /** Ended at its Batch attempt timeout. */
  timedOut?: boolean;
  /** Stopped by Sundial (kill, reaper, a deadline): the reason given to TerminateJob / StopTask. */
  stoppedBecause?: string;
}

/** The part of `DescribeJobs`' JobDetail the local executor can tell (test/fixtures/aws/batch-*.json). */
export interface LocalBatchJob {
  JobArn: string;
  JobName: string;
  JobId: string;
  JobQueue: string;
  JobDefinition: string;
  Status: 'SUCCEEDED' | 'FAILED';
  StatusReason: string;
  Attempts: Array<{ Container: { ExitCode?: number; Reason?: string }; StartedAt: number; StoppedAt: number; StatusReason: string }>;
  CreatedAt: number;
  StartedAt: number;
  StoppedAt: number;
  DependsOn: never[];
  Parameters: Record<string, string>;
  Container: { Image: string; Command: string[]; ExitCode?: number; Reason?: string };
  Timeout: { AttemptDurationSeconds: number };
  Tags: Record<string, string>;
  PlatformCapabilities: string[];
}

/** The part of `DescribeTasks`' Task the local executor can tell (test/fixtures/aws/ecs-*.json). */
export interface LocalEcsTask {
  ClusterArn: string;
  TaskArn: string;
  TaskDefinitionArn: string;
  StartedBy: string;
  LastStatus: 'STOPPED';
  DesiredStatus: 'STOPPED';
  LaunchType: 'FARGATE';
  Containers: Array<{ TaskArn: string; Name: string; Image: string; LastStatus: 'STOPPED'; ExitCode?: number; Reason?: string }>;
  Overrides: { ContainerOverrides: Array<{ Name: string }> };
  StopCode: 'EssentialContainerExited' | 'UserInitiated' | 'TaskFailedToStart';
  StoppedReason: string;
  CreatedAt: number;
  StartedAt: number;
  StoppingAt: number;
  StoppedAt: number;
}

const LOCAL_ARN = 'local:000000000000';

function imageOf(def: TaskDefinition): string {
  const image = def.executable.docker_image_command ?? def.executable.batch_image_command;
  return image ? `${image.image}:${image.tag}` : 'local:/bin/sh';
}

/** The job as AWS Batch would describe it after this attempt (Batch: Status, StatusReason, exit code). */
function batchJob(input: BatchJobRequest, ended: AttemptEnded, createdAt: number): LocalBatchJob {
  const jobId = `local-${input.JobName}`;
  const [status, statusReason] = ended.cannotStart
    ? (['FAILED', 'Task failed to start'] as const)
    : ended.timedOut
      ? (['FAILED', BATCH_TIMEOUT_REASON] as const)
      : ended.stoppedBecause
        ? (['FAILED', ended.stoppedBecause] as const)
        : ([ended.exitCode === 0 ? 'SUCCEEDED' : 'FAILED', ESSENTIAL_CONTAINER_EXITED] as const);
  const container = {
    ...(ended.exitCode === undefined ? {} : { ExitCode: ended.exitCode }),
    ...(ended.cannotStart ? { Reason: ended.cannotStart } : {}),
  };
  return {
    JobArn: `arn:aws:batch:${LOCAL_ARN}:job/${jobId}`,
    JobName: input.JobName,
    JobId: jobId,
    JobQueue: input.JobQueue,
    JobDefinition: input.JobDefinition,
    Status: status,
    StatusReason: statusReason,
    Attempts: [{ Container: container, StartedAt: ended.startedAt, StoppedAt: ended.stoppedAt, StatusReason: statusReason }],
    CreatedAt: createdAt,
    StartedAt: ended.startedAt,
    StoppedAt: ended.stoppedAt,
    DependsOn: [],
    Parameters: {},
    Container: { Image: ended.image, Command: input.ContainerOverrides?.Command ?? [], ...container },
    Timeout: { AttemptDurationSeconds: input.Timeout?.AttemptDurationSeconds ?? DEFAULT_TIMEOUT_SECONDS },
    Tags: {},
    PlatformCapabilities: ['FARGATE'],
  };
}

/** The task as ECS would describe it after this attempt (stop code, stopped reason, the container's exit). */
function ecsTask(input: EcsTaskRequest, ended: AttemptEnded, createdAt: number): LocalEcsTask {
  const taskArn = `arn:aws:ecs:${LOCAL_ARN}:task/local/${input.StartedBy}`;
  const [stopCode, stoppedReason] = ended.cannotStart
    ? (['TaskFailedToStart', ended.cannotStart] as const)
    : ended.stoppedBecause
      ? (['UserInitiated', ended.stoppedBecause] as const)
      : (['EssentialContainerExited', ESSENTIAL_CONTAINER_EXITED] as const);
  return {
    ClusterArn: `arn:aws:ecs:${LOCAL_ARN}:cluster/local`,
    TaskArn: taskArn,
    TaskDefinitionArn: `arn:aws:ecs:${LOCAL_ARN}:task-definition/${input.TaskDefinition}`,
    StartedBy: input.StartedBy,
    LastStatus: 'STOPPED',
    DesiredStatus: 'STOPPED',
    LaunchType: 'FARGATE',
    Containers: [
      {
        TaskArn: taskArn,
        Name: ECS_CONTAINER_NAME,
        Image: ended.image,
        LastStatus: 'STOPPED',
        ...(ended.exitCode === undefined ? {} : { ExitCode: ended.exitCode }),
        ...(ended.cannotStart ? { Reason: ended.cannotStart } : {}),
      },
    ],
    // The container names only: the environment carries the attempt's token, and Record needs none of it.
    Overrides: { ContainerOverrides: (input.Overrides?.ContainerOverrides ?? []).map((c) => ({ Name: c.Name })) },
    StopCode: stopCode,
    StoppedReason: stoppedReason,
    CreatedAt: createdAt,
    StartedAt: ended.startedAt,
    StoppingAt: ended.stoppedAt,
    StoppedAt: ended.stoppedAt,
  };
}
