/**
 * The contract between the task state machine (lib/task-state-machine.ts builds it; the local runtime runs the
 * same ASL) and the code its states call. One execution runs every attempt of one task of one run:
 *
 *   Prepare ─▶ Route? ─▶ [BatchBackoff (Wait)] ─▶ RunBatchJob (batch:submitJob.sync) ────────────────┐
 *                 │  └─▶ [EcsBackoff (Wait)] ─▶ EcsAttempt (Parallel) ─ RunEcsTask ▶ EcsEnded          ├─▶ Record
 *                 │                                                 └ EcsDeadline ▶ EcsTimedOut       ┘
 *                 └─▶ Done (skipped)           Done ◀─ Again? ◀──────────────────────────────────── Record
 *                                                         └── retry ──▶ Prepare
 *
 * `Route?` goes through a backoff Wait only when `backoff_seconds` > 0: a first attempt enters 6 states
 * (Prepare, Route?, RunBatchJob, Record, Again?, Done), a retry after a backoff one more.
 */

import type { AttemptEnd } from '../domain/attempt-failure';
import type { TaskDefinition } from '../domain/models';

/** State names, shared by the CDK definition and the local overrides. */
export const STATE = {
  prepare: 'Prepare',
  route: 'Route?',
  batchBackoff: 'BatchBackoff',
  ecsBackoff: 'EcsBackoff',
  runBatchJob: 'RunBatchJob',
  ecsAttempt: 'EcsAttempt',
  runEcsTask: 'RunEcsTask',
  ecsEnded: 'EcsEnded',
  ecsDeadline: 'EcsDeadline',
  ecsTimedOut: 'EcsTimedOut',
  record: 'Record',
  again: 'Again?',
  done: 'Done',
} as const;

/** Input of a task execution: which task of which run it runs every attempt of. */
export interface TaskExecutionInput {
  process_id: string;
  task_definition_name: string;
}

/**
 * Which attempt the next `Prepare` should claim, as its starter saw the slot: the round (execution) and
 * the attempts made so far. With it `Prepare` claims in the same round trip as it reads the run, without
 * reading the slot first; a hint that no longer holds (a replay, a concurrent move) only costs that read.
 */
export interface ClaimHint {
  round: number;
  attempts: number;
  /**
   * The start of the task claimed that attempt already, in the write that started it
   * (lambdas/store/slots.ts `start`): `Prepare` writes no slot, it reads the slot with the run to check
   * that the claim still holds.
   */
  claimed?: boolean;
  /**
   * With `claimed`: the run's definition (from the slot), so that `Prepare` can write the attempt first and
   * read the run after it: a kill that ended the run before the write is then seen (docs/ENGINE.md "A kill
   * racing Prepare"). Absent from executions started before 2026-12.
   */
  process_definition_name?: string;
  /**
   * With `claimed`: the start counted the claimed attempt running already (lambdas/store/slots.ts
   * `claim_counted`), so `Prepare` writes it without counting it. Absent from executions started before
   * 2026-12-04, whose `Prepare` counts it.
   */
  counted?: boolean;
  /**
   * With `claimed` of a first attempt, and `process_definition_name`: what `Prepare` needs of the slot, as
   * the write that started the task left it, so that once its write of the attempt succeeds (the claim
   * still held then: whoever gives a first attempt's claim back fences its key first) it builds the request
   * without reading the slot (docs/ENGINE.md "Prepare of a started task"). Absent when the definition is
   * over {@link STARTED_TASK_MAX_BYTES}, from a start that claims a later attempt, and from executions
   * started before 2026-12-05.
   */
  task?: StartedTask;
}

/** What `Prepare` reads of a slot to build a first attempt's request: the slot's own, unchanged within a round. */
export interface StartedTask {
  /** The task's definition, as the run's slot holds it. */
  definition: TaskDefinition;
  /** Attempts allowed (the slot's: its definition's, plus one per retry of the run). */
  max_attempts: number;
  /** The dependents its success starts (completion.ts `startsOnSuccess`; {@link ClaimedSlot.starts}). */
  starts?: string[];
}

/**
 * The largest task definition (its JSON, in bytes) the execution input carries in {@link ClaimHint.task}:
 * it travels through every state of the first attempt, within Step Functions' 256 KiB payload
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html) beside the executor's request,
 * which holds the definition's command and environment again. A larger one is read from the slot.
 */
export const STARTED_TASK_MAX_BYTES = 8 * 1024;

/** The state `Prepare` receives: the execution input, or `Record`'s answer before another attempt. */
export interface PrepareState extends TaskExecutionInput {
  claim?: ClaimHint;
}

/**
 * `Prepare` Lambda payload: `{ action: 'prepare', state: $ }`. (Until 2026-12 it was
 * `{ action: 'prepare', process_id, task_definition_name }`, which the handler still takes.)
 */
export interface PrepareRequest {
  action: 'prepare';
  state: PrepareState;
}

/** Environment variable in the shape Batch and ECS overrides take. */
export interface KeyValue {
  Name: string;
  Value: string;
}

/** Parameters of `batch:submitJob.sync`, built by the launcher. */
export interface BatchJobRequest {
  JobName: string;
  JobQueue: string;
  JobDefinition: string;
  ContainerOverrides: { Command?: string[]; Environment: KeyValue[]; ResourceRequirements?: Array<{ Type: 'VCPU' | 'MEMORY'; Value: string }> };
  /** Batch's own attempt timeout: how max_runtime_seconds is enforced (Batch minimum 60 s). */
  Timeout: { AttemptDurationSeconds: number };
}

/** Parameters of `ecs:runTask.sync` that vary per attempt (cluster and network come from the stack). */
export interface EcsTaskRequest {
  TaskDefinition: string;
  /** The task id, so that a kill can find the ECS task (ListTasks startedBy). */
  StartedBy: string;
  Overrides: { ContainerOverrides: Array<{ Name: string; Command?: string[]; Environment: KeyValue[] }>; Cpu?: string; Memory?: string };
}

/** `Prepare` result, at `$.attempt`. */
export interface PreparedAttempt {
  /** Nothing to run (run killed, task already finished): go to Done. */
  skip: boolean;
  task_id?: string;
  backoff_seconds?: number;
  /** Bound of one attempt: `max_runtime_seconds`, or a day when unset. */
  timeout_seconds?: number;
  executor?: 'batch' | 'ecs';
  batch?: BatchJobRequest;
  ecs?: EcsTaskRequest;
  /** The slot as `Prepare` claimed this attempt: what `Record` needs of it, so that it does not read it again. */
  claimed?: ClaimedSlot;
}

/** What `Prepare` passes `Record` about the task's slot. */
export interface ClaimedSlot {
  round: number;
  /** Attempts made, this one included. */
  attempts: number;
  /** Attempts allowed. */
  max_attempts: number;
  require_explicit_success: boolean;
  /**
   * The dependents the task's success starts, each in the write that counts it done (it is their only
   * dependency), when they are all its dependents (at most 16) and its end is not counted in a done shard
   * (completion.ts `startsOnSuccess`): `Record` of an attempt that exited 0 ends it and starts them in one
   * round trip (completion.ts `endWithStarts`). Absent otherwise, and from attempts prepared before 2026-12-05.
   */
  starts?: string[];
}

/** `Record` Lambda payload: `{ action: 'record', state: $ }` — the whole state after the executor step. */
export interface RecordRequest {
  action: 'record';
  state: TaskExecutionInput & {
    attempt: PreparedAttempt;
    /** The executor's result when it succeeded: Batch's `{Status, JobId}`, or ECS's caught `{Error: ECS_ENDED_ERROR}`. */
    result?: AttemptEnd['result'];
    /**
     * Set by the Catch: `{ Error, Cause }`. A failed `.sync` step's `Cause` is the Batch job or ECS task
     * description as JSON (lambdas/domain/attempt-failure.ts reads it).
     */
    error?: AttemptEnd['error'];
  };
}

/**
 * `Record` result. It replaces the whole state (ResultPath `$`), so that the next attempt does not see
 * this attempt's `result` or `error`; `Again?` reads `$.recorded.retry`.
 */
export interface Recorded extends PrepareState {
  recorded: { retry: boolean };
}

/**
 * `TimeoutSeconds` of the Lambda steps (Prepare, Record, the tick): the function's own timeout plus this
 * margin, for its init phase (up to 10 s) and the invoke round trip, so that the function's timeout, not the
 * state's, is what a slow step reports. Every Task state sets `TimeoutSeconds`: without it Step Functions
 * waits 99,999,999 s (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html) and the local
 * interpreter 60 s.
 */
export const LAMBDA_STEP_MARGIN_SECONDS = 30;

/**
 * `TimeoutSeconds` of the executor steps (RunBatchJob, RunEcsTask): a year, the longest a Standard
 * execution runs (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). They are not
 * what bounds an attempt: Batch ends a job at its `AttemptDurationSeconds` (max_runtime_seconds), the
 * `EcsDeadline` branch ends an ECS attempt, and the reaper ends one that waits in the queue past its
 * deadline. A static bound any smaller would cut off a task whose `max_runtime_seconds` or queue wait is
 * longer (a state's timeout cannot be set per attempt portably: see docs/ENGINE.md "Limits").
 */
export const EXECUTOR_STEP_TIMEOUT_SECONDS = 31_536_000;

/** Attempt timeout when a task sets no `max_runtime_seconds`. */
export const DEFAULT_TIMEOUT_SECONDS = 86_400;

/** Container name used in ECS task definitions registered by Sundial. */
export const ECS_CONTAINER_NAME = 'task';

/**
 * Errors of the `EcsEnded` (the ECS task ended, exit 0; caught into `$.result`) and `EcsTimedOut` (the
 * attempt overran `max_runtime_seconds`) Fail states. Defined with the reading of failures.
 */
export { ECS_ENDED_ERROR, TIMEOUT_ERROR } from '../domain/attempt-failure';
