/**
 * The stored forms of a run and of its task attempts (the run item, the attempt items), and their wire
 * forms as the run store answers them: which fields of an item are on the wire, and how a run
 * partition's items assemble into attempts with their entries. Pure functions; the run store (runs.ts)
 * reads and writes the items.
 */
import type { EnvironmentVariable, LogEntry, MetadataEntry, Process, ProcessStatus, RunParameter, RunTrigger, Task } from '../domain/models';
import { runTrigger } from '../domain/provenance';
import { payloadBytes } from '../domain/response-size';
import { pick } from './client';
import { entryOf } from './entries';
import { runItemKind, TTL_ATTRIBUTE } from './keys';

type Item = Record<string, unknown>;

/** A run as stored: the wire fields without tasks, plus engine bookkeeping. */
export type RunRecord = {
  process_id: string;
  process_definition_name: string;
  start_time: string;
  end_time?: string;
  status: ProcessStatus;
  /** Why a run ended the way it did when that is not obvious (e.g. "killed by operator"). */
  reason?: string;
  /**
   * Set (to when the kill started) by the kill's first write and removed by its last, once every task
   * is settled and every listener told: a retry of the run waits for it (issue 15). Not on the wire.
   */
  killing?: string;
  /**
   * The token of the engine function's step that writes and starts a large run's tasks, and of the one
   * that reopens a large retried run's tasks, while they are under way (lambdas/engine/fan-out.ts). Not on
   * the wire.
   */
  starting?: string;
  reopening?: string;
  /**
   * The token of the retry request reopening this failed run (lambdas/engine/fan-out.ts `reopen`), from
   * before its first write until the run runs again: a second retry at the same time is refused before it
   * writes anything. Not on the wire.
   */
  retrying?: string;
  /** What started the run (docs/TRIGGERS.md); absent on runs stored before it was recorded ({@link runTrigger}). */
  trigger?: RunTrigger;
  /** The run's parameters; absent on runs stored before parameters existed (none). */
  parameters?: RunParameter[];
};

/** The run item as the engine reads it: the run, what its trigger wrote on it for the engine, and its expiry. */
export type RunItem = RunRecord & {
  /** Tasks of the run (its done shards depend on it). */
  tasks_total?: number;
  /** Its done shard count (slots.ts `doneShardCount`); absent from runs created before 2026-12-03 (`doneShardCountOf`). */
  done_shard_count?: number;
  /** The trigger's environment overrides, given to every attempt of the run. */
  environment_variables?: EnvironmentVariable[];
  /** The one task a run triggered with `task_definition_name` runs. */
  only_task?: string;
  /** When its history expires (epoch seconds), once it has ended (setRunExpiry). */
  [TTL_ATTRIBUTE]?: number;
};

/** A task attempt as stored: the wire fields without entries. */
export type TaskRecord = Omit<Task, 'log_entries' | 'metadata_entries'>;

/** A task attempt's item: the attempt and what it reported through `/succeed` or `/fail` (not on the wire). */
export type TaskItem = TaskRecord & {
  reported?: 'succeeded' | 'failed';
  reported_at?: string;
};

export const RUN_FIELDS = ['process_id', 'process_definition_name', 'start_time', 'end_time', 'status', 'reason'] as const;
const TASK_FIELDS = [
  'task_id',
  'process_id',
  'process_definition_name',
  'task_definition_name',
  'start_time',
  'end_time',
  'previous_attempt_count',
  'execution_state',
  'status',
  'progress',
] as const;

const byWhen = (a: { when: string }, b: { when: string }) => Date.parse(a.when) - Date.parse(b.when);

/**
 * The wire fields of a stored attempt. Prepare writes `start_time` as the end of the attempt's backoff
 * (when it starts executing); an attempt that ended before that (a kill during the backoff) never
 * executed, so it answers its end as its start rather than a negative duration.
 */
export function taskRecordOf(item: Item): TaskRecord {
  const task = pick<TaskRecord>(item, TASK_FIELDS);
  if (task.end_time && task.start_time && Date.parse(task.end_time) < Date.parse(task.start_time)) return { ...task, start_time: task.end_time };
  return task;
}

/** The wire fields of a run item: the run's own, its trigger and its parameters. */
export function runOf(item: Item): Omit<Process, 'task'> {
  const run = pick<RunRecord>(item, RUN_FIELDS);
  return { ...run, trigger: runTrigger(item as RunItem), parameters: (item.parameters as RunParameter[] | undefined) ?? [] };
}

/** An attempt as lists answer it: no entries read, and saying so. */
export function withoutEntries(task: TaskRecord | Task): Task {
  return { ...task, log_entries: [], metadata_entries: [], entries_omitted: true };
}

/** What an attempt item costs in an answer (its wire form without entries, and a comma); undefined for a legacy entry. */
export function attemptCost(item: Item): number | undefined {
  return runItemKind(String(item.sk)) === 'task' ? payloadBytes(withoutEntries(taskRecordOf(item))) + 1 : undefined;
}

/** Keeps an attempt's last `n` entries (legacy attempts read them all) and says whether it cut any. */
export function lastOf<E extends { when: string }>(entries: E[], n: number): { entries: E[]; truncated: boolean } {
  return entries.length > n ? { entries: entries.slice(-n), truncated: true } : { entries, truncated: false };
}

/**
 * Whether an item at an attempt's key is a fence (runs.ts `fenceTask`): the key of a first attempt whose
 * claim was given back before its record was written. It is no attempt (every read of attempts leaves it
 * out) and holds the key, so that the record can never be written after the give-back.
 */
export const isFence = (item: Item): boolean => item.fenced !== undefined;

/** Builds wire tasks from the items of a run partition (or a task's prefix), in start order. */
export function assembleTasks(items: readonly Item[]): Task[] {
  const tasks = new Map<string, Task>();
  const logs = new Map<string, LogEntry[]>();
  const metas = new Map<string, MetadataEntry[]>();
  for (const item of items) {
    const kind = runItemKind(String(item.sk));
    const taskId = String(item.task_id);
    if (kind === 'task' && !isFence(item)) tasks.set(taskId, { ...taskRecordOf(item), log_entries: [], metadata_entries: [] });
    else if (kind === 'log') logs.set(taskId, [...(logs.get(taskId) ?? []), entryOf<LogEntry>(item, 'log')]);
    else if (kind === 'metadata') metas.set(taskId, [...(metas.get(taskId) ?? []), entryOf<MetadataEntry>(item, 'metadata')]);
  }
  for (const [taskId, task] of tasks) {
    task.log_entries = (logs.get(taskId) ?? []).sort(byWhen);
    task.metadata_entries = (metas.get(taskId) ?? []).sort(byWhen);
  }
  return [...tasks.values()].sort((a, b) => a.start_time.localeCompare(b.start_time) || a.task_id.localeCompare(b.task_id));
}
