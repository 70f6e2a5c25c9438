/**
 * The local Step Functions: runs the synthesized task state machine (the ASL `cdk synth` emits) with
 * aws-local-stepfunctions, its Lambda states calling the engine in-process and its Batch/ECS states
 * calling the local executor. One execution per task, named as deployed; starting a name twice starts
 * it once.
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type PrepareRequest, type PrepareState, STATE } from '../../lambdas/engine/contract';
import type { Engine } from '../../lambdas/engine/engine';
import type { Orchestrator } from '../../lambdas/engine/ports';
import { runAs } from '../function-context';
import { SFN_HISTORY_MAX_EVENTS } from '../../lambdas/domain/aws-limits';
import { ExecutionLimits, startExecutionRefusal } from './execution-limits';
import { executionFailure } from '../../lambdas/domain/attempt-failure';
import type { LocalExecutor } from './executor';
import { installLongTimers } from './long-timers';

type Json = Parameters<StateMachine['run']>[0];

export class LocalOrchestrator implements Orchestrator {
  private readonly machine: StateMachine;
  private readonly running = new Map<string, { abort: () => void; result: Promise<unknown> }>();
  private engine: Engine | undefined;
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

  /** The engine is built with this orchestrator, then handed back (they refer to each other). */
  attach(engine: Engine): void {
    this.engine = engine;
  }

  async startTask(name: string, input: PrepareState): Promise<void> {
    const engine = this.engine;
    if (!engine) throw new Error('local orchestrator used before an engine was attached');
    // What StartExecution refuses deployed (lambdas/domain/aws-limits.ts), refused here with the same error.
    const refusal = startExecutionRefusal(name, input);
    if (refusal) throw refusal;
    if (this.running.has(name)) return;
    const limits = new ExecutionLimits(this.definition, this.maxHistoryEvents);
    const execution = this.machine.run(input as unknown as Json, {
      noThrowOnAbort: true,
      overrides: {
        taskResourceLocalHandlers: limits.guard({
          // Deployed, Prepare and Record are the engine function; the executor stands in for Batch/ECS.
          [STATE.prepare]: (payload) => runAs('engine', () => engine.prepare((payload as unknown as PrepareRequest).state)) as never,
          [STATE.record]: (payload) => runAs('engine', () => engine.record(payload as never)) as never,
          [STATE.runBatchJob]: (params) => runAs('local', () => this.executor.runBatchJob(params as never)) as never,
          [STATE.runEcsTask]: (params) => runAs('local', () => this.executor.runEcsTask(params as never)) as never,
        }),
      },
    });
    limits.onTrip = execution.abort;
    const result = this.follow(name, input, execution, limits);
    this.running.set(name, { abort: execution.abort, result });
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

  /** Whether execution `name` runs in this process (the reaper: an execution that does not was lost). */
  has(name: string): boolean {
    return this.running.has(name);
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
