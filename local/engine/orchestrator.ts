/**
 * The local Step Functions: runs the synthesized task state machine (the ASL `cdk synth` emits) with
 * aws-local-stepfunctions, its Lambda states calling the engine in-process and its Batch/ECS states
 * calling the local executor. One execution per task, named as deployed; starting a name twice starts
 * it once. The Step Functions API call it answers besides start and stop (the reaper's ListExecutions) is
 * served under AWS's token bucket quota (lambdas/domain/aws-limits.ts `SFN_API_QUOTAS`): a call past its
 * bucket fails with `ThrottlingException`, as deployed, so that an unpaced caller fails in a test here.
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type PrepareRequest, type PrepareState, STATE } from '../../lambdas/engine/contract';
import type { Engine } from '../../lambdas/engine/engine';
import type { Orchestrator } from '../../lambdas/engine/ports';
import type { Preparation } from '../../lambdas/engine/prepare';
import { runAs } from '../function-context';
import { SFN_API_QUOTAS, SFN_HISTORY_MAX_EVENTS, SFN_LIST_EXECUTIONS_MAX_RESULTS, SFN_THROTTLED } from '../../lambdas/domain/aws-limits';
import { TokenBucket } from '../../lambdas/engine/pace';
import { ExecutionLimits, StepFunctionsError, startExecutionRefusal } from './execution-limits';
import { executionFailure } from '../../lambdas/domain/attempt-failure';
import type { LocalExecutor } from './executor';
import { installLongTimers } from './long-timers';

type Json = Parameters<StateMachine['run']>[0];

/** The Step Functions API actions this orchestrator serves under a quota. */
type QuotaAction = 'ListExecutions';

const bucket = (action: QuotaAction) => new TokenBucket({ burst: SFN_API_QUOTAS[action].bucket, perSecond: SFN_API_QUOTAS[action].perSecond }, { now: () => Date.now(), sleep: async () => undefined });

export class LocalOrchestrator implements Orchestrator {
  private readonly machine: StateMachine;
  /** Running executions by name; `seq` orders them by start, as ListExecutions lists them (newest first). */
  private readonly running = new Map<string, { abort: () => void; result: Promise<unknown>; seq: number }>();
  private started = 0;
  /**
   * Names of the executions started here, the last {@link LocalOrchestrator.namesKept} (oldest out first).
   * Step Functions keeps a Standard execution's name for 90 days after it closes: a StartExecution with the
   * name of a closed one answers `ExecutionAlreadyExists`, which the deployed adapter takes as already
   * started (lambdas/adapters/sfn.ts), so a replayed start (a fan-out step's `unstarted` redrive, a step
   * delivered twice) runs nothing. Without them here it ran the execution again.
   * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
   */
  private readonly used = new Set<string>();
  /** How many names {@link used} keeps (ten runs of a 10,000-task DAG, ≈ 10 MB at most); the replays it answers come within minutes. */
  namesKept = 100_000;
  private readonly quotas: Record<QuotaAction, TokenBucket> = { ListExecutions: bucket('ListExecutions') };
  /** API calls served under a quota, by action, and those refused (read by tests and for docs/SCALE.md's figures). */
  readonly served: Record<QuotaAction | 'throttled', number> = { ListExecutions: 0, throttled: 0 };
  private engine: Engine | undefined;
  /** The engine's `Prepare` (prepare.ts `preparationFor`), which the Prepare state calls. */
  private preparation: Preparation | undefined;
  /** State transitions (states entered) of every finished execution; read by the benchmarks. */
  stateTransitions = 0;

  /** Step Functions' history quota; lower in tests, which cannot wait for 25,000 events. */
  maxHistoryEvents = SFN_HISTORY_MAX_EVENTS;

  constructor(
    private readonly definition: object,
    private readonly executor: LocalExecutor,
    private readonly log: (line: string) => void,
  ) {
    // Waits and Task timeouts past 24.8 days (a long backoff, the executor steps' year) need chunked timers.
    installLongTimers();
    this.machine = new StateMachine(definition as StateMachineDefinition, { validationOptions: { checkArn: false } });
  }

  /** The engine is built with this orchestrator, then handed back with its `Prepare` (they refer to each other). */
  attach(engine: Engine, preparation: Preparation): void {
    this.engine = engine;
    this.preparation = preparation;
  }

  async startTask(name: string, input: PrepareState): Promise<void> {
    const { engine, preparation } = this;
    if (!engine || !preparation) throw new Error('local orchestrator used before an engine was attached');
    // What StartExecution refuses deployed (lambdas/domain/aws-limits.ts), refused here with the same error.
    const refusal = startExecutionRefusal(name, input);
    if (refusal) throw refusal;
    if (this.running.has(name) || this.used.has(name)) return;
    this.used.add(name);
    if (this.used.size > this.namesKept) this.used.delete(this.used.values().next().value!);
    const limits = new ExecutionLimits(this.definition, this.maxHistoryEvents);
    const execution = this.machine.run(input as unknown as Json, {
      noThrowOnAbort: true,
      overrides: {
        taskResourceLocalHandlers: limits.guard({
          // Deployed, Prepare and Record are the engine function; the executor stands in for Batch/ECS.
          [STATE.prepare]: (payload) => runAs('engine', () => preparation.prepare((payload as unknown as PrepareRequest).state)) as never,
          [STATE.record]: (payload) => runAs('engine', () => engine.record(payload as never)) as never,
          [STATE.runBatchJob]: (params) => runAs('local', () => this.executor.runBatchJob(params as never)) as never,
          [STATE.runEcsTask]: (params) => runAs('local', () => this.executor.runEcsTask(params as never)) as never,
        }),
      },
    });
    limits.onTrip = execution.abort;
    const result = this.follow(name, input, execution, limits);
    this.running.set(name, { abort: execution.abort, result, seq: ++this.started });
  }

  private async follow(name: string, input: PrepareState, execution: ReturnType<StateMachine['run']>, limits: ExecutionLimits): Promise<void> {
    const counting = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered') this.stateTransitions++;
        limits.observe(event);
      }
    })();
    try {
      await execution.result;
      // An execution stopped by a limit ends as AWS ends it: failed, with the limit's error.
      if (limits.tripped) throw limits.tripped;
    } catch (err) {
      // As the abandon rule reads it deployed: the execution's error and cause, without a Step Functions name.
      const failed = ((err as Error).cause as Error | undefined) ?? (err as Error);
      const reason = executionFailure('FAILED', failed.name, failed.message);
      this.log(`error execution ${name}: ${reason}`);
      // Deployed, the abandon rule (EventBridge) hands the failed execution to the engine function.
      await runAs('engine', () => this.engine?.abandon(input, reason))?.catch((e) => this.log(`error could not end task ${input.task_definition_name}: ${e}`));
    } finally {
      await counting.catch(() => undefined);
      this.running.delete(name);
    }
  }

  async stopTask(name: string): Promise<void> {
    this.running.get(name)?.abort();
  }

  /** Whether execution `name` runs in this process (an inspection for tests: no API call, no quota). */
  has(name: string): boolean {
    return this.running.has(name);
  }

  /**
   * ListExecutions of the task state machine with `statusFilter` RUNNING (ended executions are not kept
   * here, so no other filter is served): newest first, `maxResults` (1–1000; 0 or none: 100) a page, the
   * rest behind `nextToken` (the last listed start, so that executions starting or ending between pages
   * neither repeat nor shift the listing).
   * https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
   */
  async listExecutions(input: { statusFilter?: string; maxResults?: number; nextToken?: string }): Promise<{ executions: { name: string }[]; nextToken?: string }> {
    this.admit('ListExecutions');
    const max = input.maxResults || 100;
    if (max < 0 || max > SFN_LIST_EXECUTIONS_MAX_RESULTS) {
      throw new StepFunctionsError('ValidationException', `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${SFN_LIST_EXECUTIONS_MAX_RESULTS}`);
    }
    if (input.statusFilter !== 'RUNNING') throw new Error(`the local orchestrator lists RUNNING executions only, not ${input.statusFilter ?? 'all'}`);
    const before = input.nextToken === undefined ? Infinity : Number(input.nextToken);
    if (!Number.isInteger(before) && before !== Infinity) throw new StepFunctionsError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
    const listed = [...this.running].filter(([, e]) => e.seq < before).sort(([, a], [, b]) => b.seq - a.seq);
    const page = listed.slice(0, max);
    return { executions: page.map(([name]) => ({ name })), ...(listed.length > max ? { nextToken: String(page.at(-1)![1].seq) } : {}) };
  }

  /** Takes a token of `action`'s bucket, or fails as Step Functions does when there is none. */
  private admit(action: QuotaAction): void {
    if (!this.quotas[action].tryTake()) {
      this.served.throttled++;
      throw Object.assign(new StepFunctionsError(SFN_THROTTLED.name, SFN_THROTTLED.message), { $metadata: { httpStatusCode: SFN_THROTTLED.statusCode } });
    }
    this.served[action]++;
  }

  /** Executions still running. */
  get active(): number {
    return this.running.size;
  }

  /** Aborts every execution (server shutdown) and waits for them to settle. */
  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const e of all) e.abort();
    await Promise.allSettled(all.map((e) => e.result));
  }
}
