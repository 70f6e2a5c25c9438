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
import { type EntryKind, INDEXES, keys, runItemKind, TTL_ATTRIBUTE } from './keys';
import { encodeCursor, type Page, queryNewestFirst } from './pages';
import type { StatsStore } from './stats';
import { DEFAULT_RETENTION_DAYS, expiresAt } from '../domain/retention';
import { mapLimited } from '../domain/concurrency';
import { DYNAMODB_BATCH_WRITE_MAX_ITEMS } from '../domain/aws-limits';
import { BadRequestError } from '../domain/errors';
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

/** gsi1 sort-key suffix of a chunk of captured lines (where an entry has its id). */
const CAPTURED_CHUNK_ID = 'OUT';
/** Lines per chunk item, and bytes: well under DynamoDB's 400 KB item (a line is at most ~128 KB of UTF-8). */
const CHUNK_MAX_LINES = 500;
const CHUNK_MAX_BYTES = 256 * 1024;
const BATCH_WRITE_MAX_BYTES = 1024 * 1024;
/** Entry items read per query of an entry page (a chunk of captured lines is up to CHUNK_MAX_LINES entries). */
const ENTRY_ITEMS_PER_READ = 100;

/** Consecutive lines grouped into chunks of at most CHUNK_MAX_LINES lines and CHUNK_MAX_BYTES. */
function capturedChunks(lines: readonly CapturedLine[]): CapturedLine[][] {
  const chunks: CapturedLine[][] = [];
  let current: CapturedLine[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line.message) + 96;
    if (current.length > 0 && (current.length >= CHUNK_MAX_LINES || bytes + size > CHUNK_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The lines of a stored chunk, with their sequence numbers. */
function chunkLines(item: Item): CapturedLine[] {
  const first = Number(item.first_seq);
  return (item.lines as Array<{ i: string; w: string; s: LogEntry['source']; m: string }>).map((l, n) => ({
    log_entry_id: l.i,
    when: l.w,
    source: l.s,
    message: l.m,
    seq: first + n,
  }));
}

/** Where a page of entries ended inside a chunk of captured lines: the chunk's gsi1 sort key, lines read. */
function encodeChunkCursor(at: string, skip: number): string {
  return Buffer.from(JSON.stringify({ at, skip })).toString('base64url');
}

/** A cursor made by encodeChunkCursor, else undefined (any other cursor is decoded, or refused, as a key). */
function decodeChunkCursor(cursor: string): { at: string; skip: number } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const c = value as { at?: unknown; skip?: unknown };
  if (typeof value !== 'object' || value === null || Object.keys(value).sort().join(',') !== 'at,skip') return undefined;
  const ok =
    typeof c.at === 'string' && c.at.endsWith(`#${CAPTURED_CHUNK_ID}`) && Buffer.byteLength(c.at) <= 1024 &&
    Number.isInteger(c.skip) && (c.skip as number) > 0 && (c.skip as number) < CHUNK_MAX_LINES;
  if (!ok) throw new BadRequestError('next is not a cursor of this listing', 'next', 'invalid_cursor');
  return { at: c.at as string, skip: c.skip as number };
}

/** An item of an attempt's log entries as entries: a chunk of captured lines is many. */
function asEntries<E>(item: Item, kind: EntryKind): E[] {
  if (item.lines === undefined) return [pick<E>(item, ENTRY_FIELDS[kind])];
  return chunkLines(item).map(({ seq: _, ...entry }) => entry as E);
}

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
/**
 * The wire fields of a stored attempt. Prepare writes `start_time` as the end of the attempt's backoff
 * (when it starts executing); an attempt that ended before that (a kill during the backoff) never
 * executed, so it answers its end as its start rather than a negative duration.
 */
function taskRecordOf(item: Item): TaskRecord {
  const task = pick<TaskRecord>(item, TASK_FIELDS);
  if (task.end_time && task.start_time && Date.parse(task.end_time) < Date.parse(task.start_time)) return { ...task, start_time: task.end_time };
  return task;
}

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
    if (kind === 'task') tasks.set(taskId, { ...taskRecordOf(item), log_entries: [], metadata_entries: [] });
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
    return (await this.recentRuns(definitionName, { limit: 1 }))[0];
  }

  /** Up to `limit` runs of a definition (of `statuses`, if given), newest start first, without their tasks. */
  async recentRuns(definitionName: string, request: { statuses?: readonly ProcessStatus[]; limit: number }): Promise<RunRecord[]> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.runsOfDefinition(definitionName), ...request });
    return page.items.map((item) => pick<RunRecord>(item, RUN_FIELDS));
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
    const newestFirst = page.items.flatMap((i) => asEntries<E>(i, kind).reverse());
    return { entries: newestFirst.slice(0, n).reverse(), truncated: newestFirst.length > n };
  }

  /**
   * A page of an attempt's entries of one kind, oldest first: up to `limit`, and no more than
   * ENTRY_PAGE_BUDGET_BYTES of answer; `next` reads on (also later, once more entries arrived). A page
   * that ends inside a chunk of captured lines hands a cursor naming the chunk and the lines read of it.
   */
  async entriesPage<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, request: { limit: number; cursor?: string }): Promise<EntryPage<E>> {
    const where = keys.entriesOf(taskId, kind);
    const index = INDEXES[where.index];
    const inChunk = request.cursor === undefined ? undefined : decodeChunkCursor(request.cursor);
    const entries: E[] = [];
    let used = 0;
    let cursor = inChunk ? undefined : request.cursor;
    // A chunk holds up to CHUNK_MAX_LINES entries: items are read a few at a time, not `limit` at once.
    for (let first = true; ; first = false) {
      const page = await queryNewestFirst<Item>(this.db, {
        ...where,
        limit: Math.min(request.limit - entries.length, ENTRY_ITEMS_PER_READ),
        oldestFirst: true,
        ...(first && inChunk ? { from: inChunk.at } : { cursor }),
      });
      for (const [at, item] of page.items.entries()) {
        const all = asEntries<E>(item, kind);
        const skip = first && at === 0 && inChunk && item[index.sk] === inChunk.at ? inChunk.skip : 0;
        for (let n = skip; n < all.length; n++) {
          used += payloadBytes(all[n]) + 1;
          if (entries.length >= request.limit || (entries.length > 0 && used > ENTRY_PAGE_BUDGET_BYTES)) {
            const before = page.items[at - 1];
            // Inside a chunk: the chunk and the lines read of it; else after the item before (or where this read began).
            const next =
              n > 0
                ? encodeChunkCursor(String(item[index.sk]), n)
                : before
                  ? encodeCursor({ pk: before.pk, sk: before.sk, [index.pk]: before[index.pk], [index.sk]: before[index.sk] })
                  : cursor;
            return { entries, next };
          }
          entries.push(all[n] as E);
        }
      }
      if (!page.next || entries.length >= request.limit) return { entries, next: page.next };
      cursor = page.next;
    }
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
    return { items: page.items.map((taskItem) => withoutEntries(taskRecordOf(taskItem))), next: page.next };
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
   * them, in order): chunks of consecutive lines, one item each (keys.capturedChunk, keyed by the first
   * line's sequence), so that a line costs a fraction of a write; unconditional BatchWriteItem of up to 25
   * chunks, so a replay rewrites the same items. Unprocessed items are retried, with backoff.
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html (25 put requests, 16 MB per call; UnprocessedItems to retry, with exponential backoff)
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items (an item is at most 400 KB)
   */
  async appendCapturedLines(processId: string, taskId: string, lines: readonly CapturedLine[]): Promise<void> {
    const expiry = expiresAt(new Date(), this.retentionDays);
    const items = capturedChunks(lines).map((chunk): Item => ({
      ...keys.capturedChunk(processId, taskId, chunk[0]!.seq),
      ...keys.entryIndex(taskId, 'log', chunk[0]!.when, CAPTURED_CHUNK_ID, chunk[0]!.seq),
      ...(expiry === undefined ? {} : { [TTL_ATTRIBUTE]: expiry }),
      task_id: taskId,
      first_seq: chunk[0]!.seq,
      lines: chunk.map((l) => ({ i: l.log_entry_id, w: l.when, s: l.source, m: l.message })),
    }));
    // Up to 25 chunks a call, and about 1 MB: dynalite fails a request of a few MB (DynamoDB takes 16 MB).
    const batches: Item[][] = [];
    let bytes = Number.POSITIVE_INFINITY;
    for (const item of items) {
      const size = (item.lines as Array<{ m: string }>).reduce((sum, l) => sum + Buffer.byteLength(l.m) + 96, 0);
      if (bytes + size > BATCH_WRITE_MAX_BYTES || batches.at(-1)!.length >= DYNAMODB_BATCH_WRITE_MAX_ITEMS) {
        batches.push([]);
        bytes = 0;
      }
      batches.at(-1)!.push(item);
      bytes += size;
    }
    await mapLimited(batches, 4, async (batch) => {
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let retry = 0; requests.length > 0; retry++) {
        if (retry > BATCH_WRITE_RETRIES) throw new Error(`${requests.length} output chunks of task ${taskId} stayed unprocessed after ${BATCH_WRITE_RETRIES} retries`);
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
    // The chunk holding the first line wanted starts at or before it: the last chunk key up to it.
    const holding = await this.db.doc.send(
      new QueryCommand({
        TableName: this.db.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :from',
        ExpressionAttributeValues: { ':pk': range.pk, ':first': range.first, ':from': range.from },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const lines: CapturedLine[] = [];
    let used = 0;
    let startKey: Item | undefined;
    const from = holding.Items?.[0] ? String(holding.Items[0].sk) : range.from;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': range.pk, ':from': from, ':to': range.to },
          // Chunks hold many lines: a few items fill a page.
          Limit: 10,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        for (const line of chunkLines(item)) {
          if (line.seq <= request.afterSeq) continue;
          used += request.size(line) + 1;
          if (lines.length >= request.limit || (lines.length > 0 && used > request.maxBytes)) return lines;
          lines.push(line);
        }
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
