/**
 * The local executors, standing in for AWS Batch and ECS: a `shell_script_command` runs as a child
 * process (`/bin/sh -c`), images run with `docker run` when a Docker engine answers, else the attempt
 * fails with that reason. Output lines become the attempt's log entries (source `stdout`/`stderr`).
 * It is also the local `Launcher`: it builds the same Batch/ECS requests the AWS launcher builds,
 * without registering anything, and stops what runs.
 */
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { executorKind } from '../../lambdas/domain/engine';
import type { LogEntry, TaskDefinition } from '../../lambdas/domain/models';
import { LIMITS } from '../../lambdas/domain/models';
import { type BatchJobRequest, DEFAULT_TIMEOUT_SECONDS, ECS_CONTAINER_NAME, type EcsTaskRequest, type KeyValue } from '../../lambdas/engine/contract';
import { stableUuid } from '../../lambdas/engine/engine';
import type { AttemptToLaunch, Launcher } from '../../lambdas/engine/ports';
import type { Store } from '../../lambdas/store';
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

const toKeyValues = (env: Record<string, string>): KeyValue[] => Object.entries(env).map(([Name, Value]) => ({ Name, Value }));
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
    if (executorKind(def.executable) === 'docker') {
      const ecs: EcsTaskRequest = {
        TaskDefinition: 'local',
        StartedBy: a.task_id,
        Overrides: { ContainerOverrides: [{ Name: ECS_CONTAINER_NAME, Environment: toKeyValues(a.environment) }] },
      };
      return { executor: 'ecs' as const, ecs };
    }
    const batch: BatchJobRequest = {
      JobName: a.task_id,
      JobQueue: 'local',
      JobDefinition: 'local',
      ContainerOverrides: { Environment: toKeyValues(a.environment) },
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

  /** Override of `RunBatchJob`: input is the Batch SubmitJob parameters. */
  async runBatchJob(input: BatchJobRequest): Promise<{ Status: string; StatusReason: string; JobId: string }> {
    const env = fromKeyValues(input.ContainerOverrides?.Environment);
    const timeout = input.Timeout?.AttemptDurationSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    await this.runAttempt(env, timeout);
    return { Status: 'SUCCEEDED', StatusReason: 'Essential container in task exited', JobId: `local-${input.JobName}` };
  }

  /** Override of `RunEcsTask`: input is the ECS RunTask parameters. */
  async runEcsTask(input: EcsTaskRequest) {
    const env = fromKeyValues(input.Overrides?.ContainerOverrides?.[0]?.Environment);
    await this.runAttempt(env, undefined);
    // The shape of ecs:runTask.sync's output that the state's ResultSelector reads.
    return {
      Containers: [{ Name: ECS_CONTAINER_NAME, ExitCode: 0 }],
      StoppedReason: 'Essential container in task exited',
      StopCode: 'EssentialContainerExited',
    };
  }

  private async runAttempt(env: Record<string, string>, timeoutSeconds: number | undefined): Promise<void> {
    const taskId = env.SUNDIAL_TASK_ID;
    const processId = env.SUNDIAL_PROCESS_ID;
    if (!taskId || !processId) throw new StatesError('States.TaskFailed', 'the attempt has no SUNDIAL_TASK_ID or SUNDIAL_PROCESS_ID');
    const def = this.planned.get(taskId) ?? (await this.definitionOf(processId, taskId));
    this.planned.delete(taskId);
    const bound = timeoutSeconds ?? def.max_runtime_seconds ?? DEFAULT_TIMEOUT_SECONDS;
    const [command, args] = this.commandOf(def, env);
    await this.spawnAndWait(processId, taskId, command, args, env, bound);
  }

  private async definitionOf(processId: string, taskId: string): Promise<TaskDefinition> {
    const taskName = (await this.o.store.runs.getTaskRecord(processId, taskId))?.task_definition_name;
    const slot = taskName ? await this.o.store.slots.get(processId, taskName) : undefined;
    if (!slot) throw new StatesError('States.TaskFailed', `task ${taskId} is unknown to the local executor`);
    return slot.definition;
  }

  private commandOf(def: TaskDefinition, env: Record<string, string>): [string, string[]] {
    const ex = def.executable;
    if (ex.shell_script_command) return ['/bin/sh', ['-c', ex.shell_script_command.script]];
    const image = ex.docker_image_command ?? ex.batch_image_command;
    if (!image) throw new StatesError('States.TaskFailed', 'the task has no executable');
    if (!this.dockerEngineAnswers()) {
      throw new StatesError(
        'Sundial.NoDockerEngine',
        `no Docker engine answers on this machine: cannot run image ${image.image}:${image.tag} locally (start Docker, or use shell_script_command)`,
      );
    }
    const url = env.SUNDIAL_URL ?? '';
    const containerEnv = { ...env, SUNDIAL_URL: this.o.dockerHost ?? url.replace('127.0.0.1', 'host.docker.internal') };
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

  private dockerEngineAnswers(): boolean {
    this.dockerAnswers ??= spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000, stdio: 'ignore' }).status === 0;
    return this.dockerAnswers;
  }

  private async spawnAndWait(processId: string, taskId: string, command: string, args: string[], env: Record<string, string>, timeoutSeconds: number): Promise<void> {
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
    const timer = setTimeout(() => {
      entry.killedBecause = `exceeded max_runtime_seconds (${timeoutSeconds} s)`;
      killGroup(child);
    }, timeoutSeconds * 1000);
    timer.unref();
    const { code, signal, error } = await child.ended;
    clearTimeout(timer);
    await Promise.all(drained);
    this.running.delete(taskId);
    await output.close().catch((err) => this.o.log(`error storing output of task ${taskId}: ${err}`));
    if (entry.killedBecause?.startsWith('exceeded max_runtime_seconds')) throw new StatesError('States.Timeout', entry.killedBecause);
    if (entry.killedBecause) throw new StatesError('Sundial.Killed', entry.killedBecause);
    if (error) throw new StatesError('States.TaskFailed', `could not start or follow ${command}: ${error.message}`);
    if (code !== 0) throw new StatesError('States.TaskFailed', code !== null ? `exited with code ${code}` : `killed by signal ${signal}`);
  }
}

/** SIGTERM to the task's process group, SIGKILL 5 s later if it is still there. */
function killGroup(child: SpawnedTask): void {
  if (child.exited) return;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}

/** Buffers output lines and writes them as log entries in batches (ids stable per line number). */
class OutputCollector {
  private pending: LogEntry[] = [];
  private seq = 0;
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
    this.pending.push({
      log_entry_id: stableUuid(this.taskId, 'output', this.seq++),
      when: new Date().toISOString(),
      source,
      message: line.length > LIMITS.entryMessageMaxLength ? `${line.slice(0, LIMITS.entryMessageMaxLength - 1)}…` : line,
    });
    if (this.pending.length >= 100) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(() => this.store.runs.appendLogEntries(this.processId, this.taskId, batch).then(() => undefined));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    await this.flushing;
  }
}
