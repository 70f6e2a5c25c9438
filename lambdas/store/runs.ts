/**
 * Runs (seed model `process`), their task attempts (`task`) and the attempts' log and metadata entries.
 * A run and everything in it share one partition, `RUN#<process_id>`; its attempts are read without
 * their entries (`TASK#…`, apart from `ENTRY#…`), and entries are read a bounded few at a time through
 * gsi1, in time order (keys.ts), so that no read and no answer grows with the entries a run has
 * (lambdas/domain/response-size.ts). The GSIs list runs and tasks newest first.
 */
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from './sdk';
import { progressOf, type SlotStatus } from '../domain/engine';
import type { LogEntry, MetadataEntry, Process, ProcessStatus, Task, TaskStatus } from '../domain/models';
import { type Db, isConditionFailed, transitionItem } from './client';
import { type EntryKind, keys, runItemKind, TTL_ATTRIBUTE } from './keys';
import { type Page, queryNewestFirst, trimPage } from './pages';
import type { StatsStore } from './stats';
import { DEFAULT_RETENTION_DAYS, expiresAt } from '../domain/retention';
import { mapLimited } from '../domain/concurrency';
import { DYNAMODB_BATCH_WRITE_MAX_ITEMS } from '../domain/aws-limits';
import {
  ATTEMPTS_BUDGET_BYTES,
  ATTEMPTS_WITH_ENTRIES_MAX,
  ENTRIES_PER_ATTEMPT,
  ENTRY_PAGE_BUDGET_BYTES,
  payloadBytes,
  RUN_RESPONSE_BUDGET_BYTES,
} from '../domain/response-size';

/** A run as stored: the wire fields without tasks, plus engine bookkeeping. */
export interface RunRecord {
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
}

/** A line of an attempt's captured output: a log entry and its sequence number within the attempt. */
export type CapturedLine = LogEntry & { seq: number };

/** Retries of a batch's unprocessed items (full jitter, 50 ms doubling up to 1 s) before giving up. */
const BATCH_WRITE_RETRIES = 10;

/** A task attempt as stored: the wire fields without entries. */
export type TaskRecord = Omit<Task, 'log_entries' | 'metadata_entries'>;

export interface RunFilter {
  process_definition_name?: string;
  start_time?: string;
  end_time?: string;
  statuses?: readonly ProcessStatus[];
  limit: number;
  cursor?: string;
}

export interface TaskFilter {
  process_definition_name?: string;
  task_definition_name?: string;
  start_time?: string;
  end_time?: string;
  statuses?: readonly TaskStatus[];
  limit: number;
  cursor?: string;
}

type Item = Record<string, unknown>;

const RUN_FIELDS = ['process_id', 'process_definition_name', 'start_time', 'end_time', 'status', 'reason'] as const;
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
] as const;

function pick<T>(item: Item, fields: readonly string[]): T {
  const out: Item = {};
  for (const f of fields) if (item[f] !== undefined) out[f] = item[f];
  return out as T;
}

const byWhen = (a: { when: string }, b: { when: string }) => Date.parse(a.when) - Date.parse(b.when);

const LOG_FIELDS = ['log_entry_id', 'when', 'source', 'message'] as const;
const METADATA_FIELDS = ['metadata_entry_id', 'when', 'key', 'value'] as const;
const ENTRY_FIELDS: Record<EntryKind, readonly string[]> = { log: LOG_FIELDS, metadata: METADATA_FIELDS };

/** A page of one attempt's entries of one kind, oldest first. */
export interface EntryPage<E> {
  entries: E[];
  next?: string;
}

/** An attempt as lists answer it: no entries read, and saying so. */
function withoutEntries(task: TaskRecord | Task): Task {
  return { ...task, log_entries: [], metadata_entries: [], entries_omitted: true };
}

/** Keeps an attempt's last `n` entries (legacy attempts read them all) and says whether it cut any. */
function lastOf<E extends { when: string }>(entries: E[], n: number): { entries: E[]; truncated: boolean } {
  return entries.length > n ? { entries: entries.slice(-n), truncated: true } : { entries, truncated: false };
}

/** Builds wire tasks from the items of a run partition (or a task's prefix), in start order. */
function assembleTasks(items: readonly Item[]): Task[] {
  const tasks = new Map<string, Task>();
  const logs = new Map<string, LogEntry[]>();
  const metas = new Map<string, MetadataEntry[]>();
  for (const item of items) {
    const kind = runItemKind(String(item.sk));
    const taskId = String(item.task_id);
    if (kind === 'task') tasks.set(taskId, { ...pick<TaskRecord>(item, TASK_FIELDS), log_entries: [], metadata_entries: [] });
    else if (kind === 'log') logs.set(taskId, [...(logs.get(taskId) ?? []), pick<LogEntry>(item, LOG_FIELDS)]);
    else if (kind === 'metadata') metas.set(taskId, [...(metas.get(taskId) ?? []), pick<MetadataEntry>(item, METADATA_FIELDS)]);
  }
  for (const [taskId, task] of tasks) {
    task.log_entries = (logs.get(taskId) ?? []).sort(byWhen);
    task.metadata_entries = (metas.get(taskId) ?? []).sort(byWhen);
  }
  return [...tasks.values()].sort((a, b) => a.start_time.localeCompare(b.start_time) || a.task_id.localeCompare(b.task_id));
}

export class RunStore {
  constructor(
    private readonly db: Db,
    private readonly stats: StatsStore,
    /** Entries expire this long after they are written (0: never); see setRunExpiry for the rest of a run. */
    private readonly retentionDays = DEFAULT_RETENTION_DAYS,
  ) {}

  // ---- runs ------------------------------------------------------------------------------------

  /** Writes a new run; fails if the id exists. */
  async createRun(run: RunRecord, extra: Item = {}): Promise<void> {
    await this.db.doc.send(
      new PutCommand({
        TableName: this.db.tableName,
        Item: {
          ...extra,
          ...keys.run(run.process_id),
          ...keys.runIndexes(run.process_definition_name, run.start_time, run.process_id),
          ...(run.status === 'running' ? keys.activeRunIndex(run.start_time, run.process_id) : {}),
          ...run,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.stats.add({ [`runs_${run.status}`]: 1 });
  }

  async getRunRecord(processId: string): Promise<(RunRecord & Item) | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.run(processId), ConsistentRead: true }),
    );
    return out.Item as (RunRecord & Item) | undefined;
  }

  /**
   * Moves a run from one status to another if it is still in `from` (and has none of the attributes
   * `absent`); answers the run as it is now, or undefined (and changes nothing) when another writer got
   * there first.
   */
  async transitionRun(
    processId: string,
    from: ProcessStatus,
    to: ProcessStatus,
    set: Partial<RunRecord> = {},
    remove: ReadonlyArray<keyof RunRecord> = [],
    absent: ReadonlyArray<keyof RunRecord> = [],
  ): Promise<(RunRecord & Item) | undefined> {
    const current = to === 'running' ? await this.getRunRecord(processId) : undefined;
    const fields: Record<string, unknown> = {
      ...set,
      status: to,
      ...(current ? keys.activeRunIndex(current.start_time, processId) : {}),
    };
    const removed: string[] = [...remove, ...(to === 'running' ? [] : ['gsi3pk', 'gsi3sk'])];
    const moved = await transitionItem(this.db, { key: keys.run(processId), from: [from], set: fields, remove: removed, absent, returnValues: 'ALL_NEW' });
    if (!moved) return undefined;
    await this.stats.move(`runs_${from}`, `runs_${to}`);
    return moved as RunRecord & Item;
  }

  /** The kill of a run is over (`killing` goes); answers false if the marker was gone already. */
  async killEnded(processId: string): Promise<boolean> {
    try {
      await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.run(processId),
          UpdateExpression: 'REMOVE killing',
          ConditionExpression: 'attribute_exists(killing)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /** Ids of the runs still running (the sparse ACTIVE index), oldest first. */
  async listActiveRunIds(): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await queryNewestFirst<Item>(this.db, { ...keys.activeRuns(), limit: 1000, cursor });
      ids.push(...page.items.map((i) => String(i.process_id)));
      cursor = page.next;
    } while (cursor);
    return ids.reverse();
  }

  /** The newest run of a definition (by start time), without its tasks; undefined if it never ran. */
  async latestRun(definitionName: string): Promise<RunRecord | undefined> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.runsOfDefinition(definitionName), limit: 1 });
    const item = page.items[0];
    return item ? pick<RunRecord>(item, RUN_FIELDS) : undefined;
  }

  /**
   * A run with its task attempts, each with its last few log and metadata entries, within the budgets
   * of lambdas/domain/response-size.ts (an attempt whose entries were cut says so); undefined if unknown.
   */
  async getRun(processId: string): Promise<Process | undefined> {
    const [runItem, slotItems, taskItems] = await Promise.all([
      this.getRunRecord(processId),
      this.queryAll(keys.runPartition(processId), keys.slotPrefix, '#status', { '#status': 'status' }),
      this.queryAll(keys.runPartition(processId), keys.taskItemsPrefix),
    ]);
    if (!runItem) return undefined;
    const slots = slotItems.map((i) => i.status as SlotStatus);
    let tasks = assembleTasks(taskItems);
    let omitted = 0;
    const bare = tasks.map((t) => ({ ...t, log_entries: [], metadata_entries: [] }));
    if (payloadBytes(bare) > ATTEMPTS_BUDGET_BYTES) {
      // Only each task's latest attempt: the run's answer must fit, whatever its retries made.
      const latest = new Map<string, Task>();
      for (const t of tasks) {
        const seen = latest.get(t.task_definition_name);
        if (!seen || t.previous_attempt_count > seen.previous_attempt_count) latest.set(t.task_definition_name, t);
      }
      omitted = tasks.length - latest.size;
      tasks = tasks.filter((t) => latest.get(t.task_definition_name) === t);
    }
    const run: Process = {
      ...pick<RunRecord>(runItem, RUN_FIELDS),
      task: tasks.map((t) => ({ ...t, log_entries: [], metadata_entries: [] })),
      ...(omitted > 0 ? { attempts_omitted: omitted } : {}),
      ...(slots.length > 0 ? { progress: progressOf(slots) } : {}),
    };
    await this.embedEntries(run, tasks);
    return run;
  }

  /**
   * Fills the last ENTRIES_PER_ATTEMPT entries of each kind into the run's attempts, newest attempts
   * first, while the answer stays within RUN_RESPONSE_BUDGET_BYTES; reads stop when the budget is spent.
   * `assembled` holds the entries of legacy attempts (written before entries had their own keys).
   */
  private async embedEntries(run: Process, assembled: readonly Task[]): Promise<void> {
    let budget = RUN_RESPONSE_BUDGET_BYTES - payloadBytes(run);
    const byId = new Map(assembled.map((t) => [t.task_id, t]));
    const embedded = new Set<string>();
    const order = [...run.task]
      .sort((a, b) => b.start_time.localeCompare(a.start_time) || b.task_id.localeCompare(a.task_id))
      .slice(0, ATTEMPTS_WITH_ENTRIES_MAX);
    for (let i = 0; i < order.length && budget > 0; i += 16) {
      const batch = order.slice(i, i + 16);
      const read = await mapLimited(batch, 16, async (task) => {
        const legacy = byId.get(task.task_id);
        const [logs, metas] = await Promise.all([
          legacy && legacy.log_entries.length > 0 ? lastOf(legacy.log_entries, ENTRIES_PER_ATTEMPT) : this.lastEntries<LogEntry>(task.task_id, 'log', ENTRIES_PER_ATTEMPT),
          legacy && legacy.metadata_entries.length > 0
            ? lastOf(legacy.metadata_entries, ENTRIES_PER_ATTEMPT)
            : this.lastEntries<MetadataEntry>(task.task_id, 'metadata', ENTRIES_PER_ATTEMPT),
        ]);
        return { task, logs, metas };
      });
      for (const { task, logs, metas } of read) {
        const cost = payloadBytes(logs.entries) + payloadBytes(metas.entries) + 64;
        if (cost > budget) {
          budget = 0;
          break;
        }
        budget -= cost;
        embedded.add(task.task_id);
        task.log_entries = logs.entries;
        task.metadata_entries = metas.entries;
        if (logs.truncated) task.log_entries_truncated = true;
        if (metas.truncated) task.metadata_entries_truncated = true;
      }
    }
    // Attempts whose entries were not read (budget spent, or past the newest ATTEMPTS_WITH_ENTRIES_MAX)
    // say so, as listed attempts do; their pages have them all.
    for (const task of run.task) if (!embedded.has(task.task_id)) task.entries_omitted = true;
  }

  /** The last `n` entries of one kind of an attempt, oldest first, and whether it has more. */
  async lastEntries<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, n: number): Promise<{ entries: E[]; truncated: boolean }> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.entriesOf(taskId, kind), limit: n + 1 });
    const entries = page.items.slice(0, n).map((i) => pick<E>(i, ENTRY_FIELDS[kind])).reverse();
    return { entries, truncated: page.items.length > n };
  }

  /**
   * A page of an attempt's entries of one kind, oldest first: up to `limit`, and no more than
   * ENTRY_PAGE_BUDGET_BYTES of answer; `next` reads on (also later, once more entries arrived).
   */
  async entriesPage<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, request: { limit: number; cursor?: string }): Promise<EntryPage<E>> {
    const where = keys.entriesOf(taskId, kind);
    const page = trimPage(
      await queryNewestFirst<Item>(this.db, { ...where, limit: request.limit, cursor: request.cursor, oldestFirst: true }),
      where.index,
      ENTRY_PAGE_BUDGET_BYTES,
      (i) => payloadBytes(pick(i, ENTRY_FIELDS[kind])),
    );
    return { entries: page.items.map((i) => pick<E>(i, ENTRY_FIELDS[kind])), next: page.next };
  }

  /** Runs newest first (by start time), each with its task attempts without their entries (`entries_omitted`). */
  async listRuns(filter: RunFilter): Promise<Page<Process>> {
    const where = filter.process_definition_name ? keys.runsOfDefinition(filter.process_definition_name) : keys.allRuns();
    const page = await queryNewestFirst<Item>(this.db, {
      ...where,
      from: filter.start_time,
      to: filter.end_time,
      statuses: filter.statuses,
      limit: filter.limit,
      cursor: filter.cursor,
    });
    const items = await mapLimited(page.items, 16, async (runItem) => {
      const partition = await this.queryAll(keys.runPartition(String(runItem.process_id)), keys.taskItemsPrefix);
      return { ...pick<RunRecord>(runItem, RUN_FIELDS), task: assembleTasks(partition).map(withoutEntries) } satisfies Process;
    });
    return { items, next: page.next };
  }

  // ---- tasks -----------------------------------------------------------------------------------

  async createTask(task: TaskRecord, extra: Item = {}): Promise<void> {
    // The locator and the attempt in one round trip. If either write fails, the caller fails and its replay
    // (Prepare is retried) writes both again: the locator is rewritten harmlessly, the attempt is found
    // already there (ConditionalCheckFailedException, which the caller treats as a replay). The attempt
    // is counted only by the call that created it. Both writes settle before this returns.
    const [locator, attempt] = await Promise.allSettled([
      this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: { ...keys.taskLocator(task.task_id), task_id: task.task_id, process_id: task.process_id },
        }),
      ),
      this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: {
            ...extra,
            ...keys.task(task.process_id, task.task_id),
            ...keys.taskIndexes(task.process_definition_name, task.task_definition_name, task.start_time, task.task_id),
            ...task,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ]);
    if (locator.status === 'rejected') throw locator.reason;
    if (attempt.status === 'rejected') throw attempt.reason;
    await this.stats.add({ [`tasks_${task.status}`]: 1 });
  }

  /** The process id of a task attempt, by the attempt's id alone (its locator item); undefined if unknown. */
  async findProcessIdOfTask(taskId: string): Promise<string | undefined> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.taskLocator(taskId) }));
    return out.Item?.process_id === undefined ? undefined : String(out.Item.process_id);
  }

  /**
   * A task attempt with all its log and metadata entries, or undefined. Reads every entry: for one
   * attempt's captured output (local mode), never for an answer that embeds many attempts.
   */
  async getTask(processId: string, taskId: string): Promise<Task | undefined> {
    const [task] = assembleTasks(await this.queryAll(keys.runPartition(processId), keys.taskPrefix(taskId)));
    if (!task) return undefined;
    const all = async <E extends LogEntry | MetadataEntry>(kind: EntryKind): Promise<E[]> => {
      const out: E[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.entriesPage<E>(taskId, kind, { limit: 1000, cursor });
        out.push(...page.entries);
        cursor = page.next;
      } while (cursor);
      return out;
    };
    const [logs, metas] = await Promise.all([all<LogEntry>('log'), all<MetadataEntry>('metadata')]);
    // Legacy attempts keep their entries under the attempt's own key prefix (keys.ts).
    return { ...task, log_entries: [...task.log_entries, ...logs], metadata_entries: [...task.metadata_entries, ...metas] };
  }

  async getTaskRecord(processId: string, taskId: string): Promise<(TaskRecord & Item) | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.task(processId, taskId), ConsistentRead: true }),
    );
    return out.Item as (TaskRecord & Item) | undefined;
  }

  /**
   * Moves a task attempt between statuses if it is in one of `from` (and, with `unreported`, if it has
   * not reported through `/succeed` or `/fail`); answers its previous status, undefined when it was not.
   */
  async transitionTask(
    processId: string,
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    set: Item = {},
    options: { unreported?: boolean } = {},
  ): Promise<TaskStatus | undefined> {
    const out = await transitionItem(this.db, {
      key: keys.task(processId, taskId),
      from,
      set: { ...set, status: to },
      ...(options.unreported ? { absent: ['reported'] } : {}),
      returnValues: 'UPDATED_OLD',
    });
    if (!out) return undefined;
    const old = out.status as TaskStatus;
    await this.stats.move(`tasks_${old}`, `tasks_${to}`);
    return old;
  }

  /**
   * Records what a running attempt reported through `/succeed` or `/fail`. The same report twice is
   * fine; a different report, or any report on a finished attempt, answers 'conflict'.
   */
  async reportTask(processId: string, taskId: string, report: 'succeeded' | 'failed', at: string): Promise<'ok' | 'conflict' | 'missing'> {
    try {
      await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.task(processId, taskId),
          UpdateExpression: 'SET reported = :r, reported_at = if_not_exists(reported_at, :at)',
          ConditionExpression: 'attribute_exists(pk) AND #status = :running AND (attribute_not_exists(reported) OR reported = :r)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':r': report, ':running': 'running', ':at': at },
        }),
      );
      return 'ok';
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return (await this.getTaskRecord(processId, taskId)) ? 'conflict' : 'missing';
    }
  }

  /** Task attempts newest first, without their entries (`entries_omitted`). */
  async listTasks(filter: TaskFilter): Promise<Page<Task>> {
    const where = filter.process_definition_name
      ? filter.task_definition_name
        ? keys.tasksOfTaskDefinition(filter.process_definition_name, filter.task_definition_name)
        : keys.tasksOfDefinition(filter.process_definition_name)
      : keys.allTasks();
    const page = await queryNewestFirst<Item>(this.db, {
      ...where,
      from: filter.start_time,
      to: filter.end_time,
      statuses: filter.statuses,
      limit: filter.limit,
      cursor: filter.cursor,
    });
    // The index items are the attempts themselves (projection ALL): nothing more to read.
    return { items: page.items.map((taskItem) => withoutEntries(pick<TaskRecord>(taskItem, TASK_FIELDS))), next: page.next };
  }

  // ---- entries ---------------------------------------------------------------------------------

  /** Stores log entries; an id already stored for this task is kept as first written (idempotent). */
  appendLogEntries(processId: string, taskId: string, entries: readonly LogEntry[]): Promise<number> {
    return this.putEntries(
      entries.map((e) => ({ ...keys.logEntry(processId, taskId, e.log_entry_id), ...keys.entryIndex(taskId, 'log', e.when, e.log_entry_id), task_id: taskId, ...e })),
    );
  }

  /** Stores metadata entries, idempotent on `metadata_entry_id`. */
  appendMetadataEntries(processId: string, taskId: string, entries: readonly MetadataEntry[]): Promise<number> {
    return this.putEntries(
      entries.map((e) => ({
        ...keys.metadataEntry(processId, taskId, e.metadata_entry_id),
        ...keys.entryIndex(taskId, 'metadata', e.when, e.metadata_entry_id),
        task_id: taskId,
        ...e,
      })),
    );
  }

  /**
   * Stores lines of an attempt's captured output (written only by the local executor, which numbers
   * them): unconditional BatchWriteItem of 25, keyed by sequence (keys.capturedLine), so a replay
   * rewrites the same items. Unprocessed items are retried, with backoff, until all are written.
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html (25 put requests per call; UnprocessedItems to retry, with exponential backoff)
   */
  async appendCapturedLines(processId: string, taskId: string, lines: readonly CapturedLine[]): Promise<void> {
    const expiry = expiresAt(new Date(), this.retentionDays);
    const items = lines.map((l): Item => ({
      ...keys.capturedLine(processId, taskId, l.seq),
      ...keys.entryIndex(taskId, 'log', l.when, l.log_entry_id, l.seq),
      ...(expiry === undefined ? {} : { [TTL_ATTRIBUTE]: expiry }),
      task_id: taskId,
      ...l,
    }));
    const batches: Item[][] = [];
    for (let i = 0; i < items.length; i += DYNAMODB_BATCH_WRITE_MAX_ITEMS) batches.push(items.slice(i, i + DYNAMODB_BATCH_WRITE_MAX_ITEMS));
    await mapLimited(batches, 8, async (batch) => {
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let retry = 0; requests.length > 0; retry++) {
        if (retry > BATCH_WRITE_RETRIES) throw new Error(`${requests.length} output lines of task ${taskId} stayed unprocessed after ${BATCH_WRITE_RETRIES} retries`);
        if (retry > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** retry) * Math.random()));
        const out = await this.db.doc.send(new BatchWriteCommand({ RequestItems: { [this.db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.db.tableName] ?? []) as typeof requests;
      }
    });
  }

  /**
   * A page of an attempt's captured output after sequence `afterSeq`, in the order it was written: up to
   * `limit` lines and no more than `maxBytes` of them as `size` counts (at least one line).
   */
  async capturedLinesPage(
    processId: string,
    taskId: string,
    request: { afterSeq: number; limit: number; maxBytes: number; size: (line: CapturedLine) => number },
  ): Promise<CapturedLine[]> {
    const range = keys.capturedLinesAfter(processId, taskId, request.afterSeq);
    const lines: CapturedLine[] = [];
    let used = 0;
    let startKey: Item | undefined;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': range.pk, ':from': range.from, ':to': range.to },
          Limit: request.limit - lines.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const line = { ...pick<LogEntry>(item, LOG_FIELDS), seq: Number(item.seq) };
        used += request.size(line) + 1;
        if (lines.length > 0 && used > request.maxBytes) return lines;
        lines.push(line);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey && lines.length < request.limit);
    return lines;
  }

  /** Conditional puts (first write wins); answers how many were new. */
  private async putEntries(entries: readonly Item[]): Promise<number> {
    // An entry is aged from when it was written: no write per entry when its run ends (docs/STORAGE.md).
    const expiry = expiresAt(new Date(), this.retentionDays);
    const items: readonly Item[] = expiry === undefined ? entries : entries.map((e): Item => ({ [TTL_ATTRIBUTE]: expiry, ...e }));
    const unique = [...new Map([...items].reverse().map((i) => [String(i.sk), i])).values()]; // the first of duplicates wins
    const written = await mapLimited(unique, 25, async (item) => {
      try {
        await this.db.doc.send(
          new PutCommand({ TableName: this.db.tableName, Item: item, ConditionExpression: 'attribute_not_exists(sk)' }),
        );
        return 1;
      } catch (err) {
        if (isConditionFailed(err)) return 0;
        throw err;
      }
    });
    return written.reduce<number>((a, b) => a + b, 0);
  }

  // ---- retention -------------------------------------------------------------------------------

  /**
   * Sets (or, with `undefined`, removes) `expires_at` (epoch seconds, the table's TTL attribute) on
   * the items of a run's partition but its entries (they expire from when they were written, so never
   * after their run) and on its attempts' locators; the run item also joins the sparse
   * EXPIRING index the local sweep reads. The run item is written only while the run is not running
   * (a retry that reopened it wins). Answers false when that condition failed.
   */
  async setRunExpiry(processId: string, expiresAt: number | undefined): Promise<boolean> {
    if (expiresAt !== undefined) {
      try {
        await this.db.doc.send(
          new UpdateCommand({
            TableName: this.db.tableName,
            Key: keys.run(processId),
            UpdateExpression: 'SET #ttl = :e, gsi3pk = :gpk, gsi3sk = :gsk',
            ConditionExpression: 'attribute_exists(pk) AND #status <> :running',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE, '#status': 'status' },
            ExpressionAttributeValues: (() => {
              const index = keys.expiringRunIndex(new Date(expiresAt * 1000).toISOString(), processId);
              return { ':e': expiresAt, ':gpk': index.gsi3pk, ':gsk': index.gsi3sk, ':running': 'running' };
            })(),
          }),
        );
      } catch (err) {
        if (isConditionFailed(err)) return false;
        throw err;
      }
    }
    const items = await this.queryAll(keys.runPartition(processId), undefined, 'pk, sk');
    const targets: Item[] = [];
    for (const item of items) {
      if (item.sk === 'RUN' && expiresAt !== undefined) continue; // done above, under its condition
      const kind = runItemKind(String(item.sk));
      if (kind === 'log' || kind === 'metadata') continue; // entries carry their own expiry, from when they were written
      targets.push({ pk: item.pk, sk: item.sk });
      if (kind === 'task') targets.push({ ...keys.taskLocator(String(item.sk).slice('TASK#'.length)) });
    }
    await mapLimited(targets, 25, async (key) => {
      try {
        await this.db.doc.send(
          new UpdateCommand({
            TableName: this.db.tableName,
            Key: key,
            UpdateExpression:
              expiresAt === undefined ? (key.sk === 'RUN' ? 'REMOVE #ttl, gsi3pk, gsi3sk' : 'REMOVE #ttl') : 'SET #ttl = :e',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ...(expiresAt === undefined ? {} : { ExpressionAttributeValues: { ':e': expiresAt } }),
          }),
        );
      } catch (err) {
        if (!isConditionFailed(err)) throw err; // deleted meanwhile: nothing to expire
      }
    });
    return true;
  }

  /** Ids of finished runs whose `expires_at` is at or before `now` (the EXPIRING index), oldest first. */
  async listExpiredRunIds(now: Date, limit = 100): Promise<string[]> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.expiringRuns(), to: now.toISOString(), limit });
    return page.items.map((i) => String(i.process_id)).reverse();
  }

  /**
   * Deletes a run's whole partition and its attempts' locators (the local stand-in for DynamoDB TTL);
   * answers how many items went. The run item goes last, so that a sweep cut short finds it again.
   */
  async deleteRun(processId: string): Promise<number> {
    const items = await this.queryAll(keys.runPartition(processId), undefined, 'pk, sk');
    const locators = items.filter((i) => runItemKind(String(i.sk)) === 'task').map((i) => keys.taskLocator(String(i.sk).slice('TASK#'.length)));
    const rest = [...locators, ...items.filter((i) => i.sk !== 'RUN').map((i) => ({ pk: i.pk, sk: i.sk }))];
    await mapLimited(rest, 25, (key) => this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: key })));
    await this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: keys.run(processId) }));
    return rest.length + 1;
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Every item of a partition (or of a sort-key prefix in it), following pages; `projection` to read keys only. */
  private async queryAll(pk: string, skPrefix?: string, projection?: string, names?: Record<string, string>): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk, ...(skPrefix ? { ':prefix': skPrefix } : {}) },
          ProjectionExpression: projection,
          ExpressionAttributeNames: names,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((out.Items ?? []) as Item[]));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}
