/**
 * Runs (seed model `process`) and their task attempts (`task`): the run store, the one object callers
 * use for a run's partition (`store.runs`). A run and everything in it share one partition,
 * `RUN#<process_id>`; its attempts are read without their entries (`TASK#…`, apart from `ENTRY#…`), a
 * page at a time within budgets, and a run embeds only its attempts' last few entries
 * (lambdas/domain/response-size.ts).
 * The GSIs list runs and tasks newest first. The attempts' entries are kept by entries.ts, their progress
 * by progress.ts, and a run's expiry and deletion by run-retention.ts; this store hands their calls on.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from './sdk';
import { progressOf, type SlotStatus } from '../domain/engine';
import type { AttemptProgress, LogEntry, MetadataEntry, Process, ProcessStatus, Task, TaskStatus, TriggerKind } from '../domain/models';
import { runTrigger } from '../domain/provenance';
import { type Db, conditionally, isConditionFailed, pick, queryPartition, transitionItem } from './client';
import { type CapturedLine, type CapturedLinesRequest, type EntryPage, EntryStore, type RunEntries } from './entries';
import { type EntryKind, keys, runItemKind, TTL_ATTRIBUTE } from './keys';
import { checkWindow, type Page, type PartitionPage, queryNewestFirst, queryPartitionPage } from './pages';
import { AttemptLocator } from './attempt-locator';
import { type ProgressOutcome, recordProgress } from './progress';
import { RunRetention } from './run-retention';
import { type CounterDeltas, moveOf, plus, type StatsStore } from './stats';
import { DEFAULT_RETENTION_DAYS } from '../domain/retention';
import { mapLimited } from '../domain/concurrency';
import { ATTEMPTS_BUDGET_BYTES, ATTEMPTS_WITH_ENTRIES_MAX, ENTRIES_PER_ATTEMPT, payloadBytes, RUN_ANSWER_RESERVE_BYTES, RUN_RESPONSE_BUDGET_BYTES } from '../domain/response-size';
import { assembleTasks, attemptCost, isFence, lastOf, RUN_FIELDS, type RunItem, type RunRecord, runOf, type TaskItem, type TaskRecord, taskRecordOf, withoutEntries } from './run-items';

/** The lines `appendCapturedLines` takes (local/engine/executor.ts). */
export type { CapturedLine } from './entries';
/** The stored forms of a run and of its attempts (run-items.ts). */
export type { RunItem, RunRecord, TaskItem, TaskRecord } from './run-items';

export interface RunFilter {
  process_definition_name?: string;
  start_time?: string;
  end_time?: string;
  statuses?: readonly ProcessStatus[];
  /** Only runs whose trigger (as answered: derived for older runs) is of one of these kinds. */
  trigger_kinds?: readonly TriggerKind[];
  limit: number;
  cursor?: string;
}

export interface TaskFilter {
  /** Only the attempts of this run, in the order of their ids (its partition), not newest first. */
  process_id?: string;
  process_definition_name?: string;
  task_definition_name?: string;
  start_time?: string;
  end_time?: string;
  statuses?: readonly TaskStatus[];
  limit: number;
  cursor?: string;
}

type Item = Record<string, unknown>;

export class RunStore {
  private readonly entries: EntryStore;
  private readonly retention: RunRetention;
  private readonly locator: AttemptLocator;

  constructor(
    private readonly db: Db,
    private readonly stats: StatsStore,
    /** Entries expire this long after they are written (0: never); see setRunExpiry for the rest of a run. */
    retentionDays = DEFAULT_RETENTION_DAYS,
  ) {
    this.entries = new EntryStore(db, retentionDays);
    this.retention = new RunRetention(db);
    this.locator = new AttemptLocator(db);
  }

  // ---- runs ------------------------------------------------------------------------------------

  /**
   * Writes a new run; fails if the id exists. `counts`: counters moved with the run's own once it is
   * written (the claims of the tasks written started with it: engine.ts `trigger`).
   */
  async createRun(run: RunRecord, extra: Item = {}, counts: CounterDeltas = {}): Promise<void> {
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
    await this.stats.add(plus(counts, { [`runs_${run.status}`]: 1 }));
  }

  async getRunRecord(processId: string): Promise<RunItem | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.run(processId), ConsistentRead: true }),
    );
    return out.Item as RunItem | undefined;
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
    holds: Readonly<Record<string, string>> = {},
  ): Promise<RunItem | undefined> {
    const current = to === 'running' ? await this.getRunRecord(processId) : undefined;
    const fields: Record<string, unknown> = {
      ...set,
      status: to,
      ...(current ? keys.activeRunIndex(current.start_time, processId) : {}),
    };
    const removed: string[] = [...remove, ...(to === 'running' ? [] : keys.runStateIndexAttributes)];
    const moved = await transitionItem(this.db, { key: keys.run(processId), from: [from], set: fields, remove: removed, absent, holds, returnValues: 'ALL_NEW' });
    if (!moved) return undefined;
    await this.stats.move(`runs_${from}`, `runs_${to}`);
    return moved as RunItem;
  }

  /** The kill of a run is over (`killing` goes); answers false if the marker was gone already. */
  async killEnded(processId: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.run(processId),
        UpdateExpression: 'REMOVE killing',
        ConditionExpression: 'attribute_exists(killing)',
      }),
    ));
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
   * of lambdas/domain/response-size.ts (an attempt whose entries were cut says so; a run whose attempts
   * were cut says where the rest are: `attempts_next`); undefined if unknown. `everyAttempt` reads them
   * all, for a caller that answers no API request (the notifier); `withoutEntries` reads none (each attempt
   * `entries_omitted`), for the engine's own triggers; `entriesOf` picks the attempts whose entries are
   * read (the notifier: the last attempt of each failed task), instead of the newest.
   */
  async getRun(
    processId: string,
    options: { everyAttempt?: boolean; withoutEntries?: boolean; entriesOf?: (tasks: readonly Task[]) => ReadonlySet<string> } = {},
  ): Promise<Process | undefined> {
    // The newest attempts' entries (an API answer's) in one Query beside the rest: see embedEntries.
    const bulk = options.withoutEntries || options.entriesOf ? undefined : this.entries.lastEntriesOfRun(processId, ENTRIES_PER_ATTEMPT);
    const [runItem, slotItems, page, held] = await Promise.all([
      this.getRunRecord(processId),
      queryPartition(this.db, keys.runPartition(processId), keys.slotPrefix, '#status', { '#status': 'status' }),
      // Bounded by its bytes, not by a count of DynamoDB pages.
      this.attemptsPage(processId, { maxBytes: options.everyAttempt ? Infinity : ATTEMPTS_BUDGET_BYTES, maxPages: Infinity }),
      bulk,
    ]);
    if (!runItem) return undefined;
    const slots = slotItems.map((i) => i.status as SlotStatus);
    const tasks = assembleTasks(page.items);
    const run: Process = {
      ...runOf(runItem),
      task: tasks.map((t) => ({ ...t, log_entries: [], metadata_entries: [] })),
      ...(page.next ? { attempts_next: page.next } : {}),
      ...(slots.length > 0 ? { progress: progressOf(slots) } : {}),
    };
    if (options.withoutEntries) for (const task of run.task) task.entries_omitted = true;
    else await this.embedEntries(run, tasks, options.entriesOf?.(run.task), held);
    return run;
  }

  /**
   * A page of a run's attempt items (and the legacy entries that follow each), in the order of their
   * ids, at most `maxBytes` of attempts as answered without entries ({@link queryPartitionPage}).
   */
  private attemptsPage(
    processId: string,
    request: { cursor?: string; limit?: number; maxBytes: number; keep?: (item: Item) => boolean; maxPages?: number },
  ): Promise<PartitionPage> {
    const { keep } = request;
    return queryPartitionPage(this.db, {
      pk: keys.runPartition(processId),
      prefix: keys.taskItemsPrefix,
      cost: attemptCost,
      limit: Infinity,
      ...request,
      // A fence is no attempt ({@link fenceTask}).
      keep: (item) => !isFence(item) && (keep?.(item) ?? true),
    });
  }

  /**
   * Fills the last ENTRIES_PER_ATTEMPT entries of each kind into the run's attempts, newest attempts
   * first (or only those of `picked`), while the answer stays within RUN_RESPONSE_BUDGET_BYTES; reads stop
   * when the budget is spent. `assembled` holds the entries of legacy attempts (written before entries had
   * their own keys); `whole` answers the entries of the attempts the run's one entry Query held whole
   * (EntryStore.lastEntriesOfRun): only the other attempts' are read here, two gsi1 Queries each.
   */
  private async embedEntries(run: Process, assembled: readonly Task[], picked?: ReadonlySet<string>, whole?: (taskId: string) => RunEntries | undefined): Promise<void> {
    let budget = RUN_RESPONSE_BUDGET_BYTES - payloadBytes(run);
    const byId = new Map(assembled.map((t) => [t.task_id, t]));
    const embedded = new Set<string>();
    const order = [...run.task]
      .filter((t) => !picked || picked.has(t.task_id))
      .sort((a, b) => b.start_time.localeCompare(a.start_time) || b.task_id.localeCompare(a.task_id))
      .slice(0, picked ? undefined : ATTEMPTS_WITH_ENTRIES_MAX);
    for (let i = 0; i < order.length && budget > 0; i += 16) {
      const batch = order.slice(i, i + 16);
      const read = await mapLimited(batch, 16, async (task) => {
        const legacy = byId.get(task.task_id);
        const known = legacy && (legacy.log_entries.length > 0 || legacy.metadata_entries.length > 0) ? undefined : whole?.(task.task_id);
        if (known) return { task, logs: known.log, metas: known.metadata };
        const [logs, metas] = await Promise.all([
          legacy && legacy.log_entries.length > 0 ? lastOf(legacy.log_entries, ENTRIES_PER_ATTEMPT) : this.entries.lastEntries<LogEntry>(task.task_id, 'log', ENTRIES_PER_ATTEMPT),
          legacy && legacy.metadata_entries.length > 0
            ? lastOf(legacy.metadata_entries, ENTRIES_PER_ATTEMPT)
            : this.entries.lastEntries<MetadataEntry>(task.task_id, 'metadata', ENTRIES_PER_ATTEMPT),
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

  /**
   * Runs newest first (by start time), each with its task attempts without their entries
   * (`entries_omitted`), all of them within RUN_RESPONSE_BUDGET_BYTES: each run reads its attempts up to
   * an even share of the budget, then what the runs that took less left goes to the runs cut, in list
   * order; a run still cut says where the rest are (`attempts_next`).
   */
  async listRuns(filter: RunFilter): Promise<Page<Process>> {
    const where = filter.process_definition_name ? keys.runsOfDefinition(filter.process_definition_name) : keys.allRuns();
    const kinds = filter.trigger_kinds && filter.trigger_kinds.length > 0 ? new Set(filter.trigger_kinds) : undefined;
    const page = await queryNewestFirst<Item>(this.db, {
      ...where,
      from: filter.start_time,
      to: filter.end_time,
      statuses: filter.statuses,
      // In code, not a FilterExpression: an older run's kind is derived from its item (runTrigger).
      ...(kinds ? { keep: (item: Item) => kinds.has(runTrigger(item as RunItem).kind) } : {}),
      limit: filter.limit,
      cursor: filter.cursor,
    });
    const runs = page.items.map(runOf);
    let left = RUN_RESPONSE_BUDGET_BYTES - payloadBytes(runs) - runs.length * RUN_ANSWER_RESERVE_BYTES;
    const share = Math.floor(left / Math.max(1, runs.length));
    const attempts = await mapLimited(runs, 16, (run) => this.attemptsPage(run.process_id, { maxBytes: share }));
    left -= attempts.reduce((sum, a) => sum + a.bytes, 0);
    for (const [i, cut] of attempts.entries()) {
      if (!cut.next || left <= 0) continue;
      const more = await this.attemptsPage(runs[i]!.process_id, { cursor: cut.next, maxBytes: left });
      attempts[i] = { items: [...cut.items, ...more.items], bytes: cut.bytes + more.bytes, ...(more.next ? { next: more.next } : {}) };
      left -= more.bytes;
      if (more.next) break; // the budget is spent
    }
    const items = runs.map((run, i): Process => {
      const { items: read, next } = attempts[i]!;
      return { ...run, task: assembleTasks(read).map(withoutEntries), ...(next ? { attempts_next: next } : {}) };
    });
    return { items, next: page.next };
  }

  // ---- tasks -----------------------------------------------------------------------------------

  /**
   * Writes a new attempt with its gsi4 keys (attempt-locator.ts; a locator item beside it in a local table
   * without gsi4) and counts it in the same round trip, the count taken back if the write fails: the
   * caller's replay finds the attempt there (ConditionalCheckFailedException), so one attempt counts once.
   * `counted`: the attempt was counted already, by the start that claimed it (slots.ts `claim_counted`):
   * nothing is counted here.
   */
  async createTask(task: TaskRecord, extra: Item = {}, options: { counted?: boolean } = {}): Promise<void> {
    const locator = this.locator.legacyItem(task.task_id, task.process_id);
    const counter = `tasks_${task.status}` as const;
    const [counted, ...written] = await Promise.allSettled([
      options.counted ? Promise.resolve() : this.stats.add({ [counter]: 1 }),
      this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: {
            ...extra,
            ...keys.task(task.process_id, task.task_id),
            ...keys.taskIndexes(task.process_definition_name, task.task_definition_name, task.start_time, task.task_id),
            ...this.locator.indexKeys(task.task_id, task.process_id),
            ...task,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
      ...(locator ? [this.db.doc.send(new PutCommand({ TableName: this.db.tableName, Item: locator }))] : []),
    ]);
    const failed = written.find((w) => w.status === 'rejected');
    if (failed && counted.status === 'fulfilled' && !options.counted) await this.stats.add({ [counter]: -1 });
    if (failed) throw failed.reason;
    if (counted.status === 'rejected') throw counted.reason;
  }

  /** The process id of a task attempt, by the attempt's id alone ({@link AttemptLocator.find}); undefined if unknown. */
  findProcessIdOfTask(taskId: string, catchUpMs?: number): Promise<string | undefined> {
    return this.locator.find(taskId, catchUpMs);
  }

  /**
   * A task attempt with all its log and metadata entries, or undefined. Reads every entry: for one
   * attempt's captured output (local mode), never for an answer that embeds many attempts.
   */
  async getTask(processId: string, taskId: string): Promise<Task | undefined> {
    const [task] = assembleTasks(await queryPartition(this.db, keys.runPartition(processId), keys.taskPrefix(taskId)));
    if (!task) return undefined;
    const all = async <E extends LogEntry | MetadataEntry>(kind: EntryKind): Promise<E[]> => {
      const out: E[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.entries.entriesPage<E>(taskId, kind, { limit: 1000, cursor });
        out.push(...page.entries);
        cursor = page.next;
      } while (cursor);
      return out;
    };
    const [logs, metas] = await Promise.all([all<LogEntry>('log'), all<MetadataEntry>('metadata')]);
    // Legacy attempts keep their entries under the attempt's own key prefix (keys.ts).
    return { ...task, log_entries: [...task.log_entries, ...logs], metadata_entries: [...task.metadata_entries, ...metas] };
  }

  /**
   * Removes an attempt that its Prepare wrote and nothing ran (its run ended or its claim was taken back
   * first: engine.ts `prepareClaimed`), if it is still running and reported nothing; answers whether it did.
   * The record is replaced by a fence ({@link fenceTask}), not deleted: its key stays taken, so that a
   * fence of the key by whoever gives its claim back fails, and its count is taken back once, here.
   */
  async deleteUnstartedTask(processId: string, taskId: string, expiresAt: number | undefined): Promise<boolean> {
    const condition = { ConditionExpression: '#status = :running AND attribute_not_exists(reported)', ExpressionAttributeNames: { '#status': 'status' }, ExpressionAttributeValues: { ':running': 'running' } };
    const deleted = await conditionally(this.db.doc.send(new PutCommand({ TableName: this.db.tableName, Item: fenceItem(processId, taskId, expiresAt), ...condition })));
    const locator = deleted ? this.locator.legacyItem(taskId, processId) : undefined;
    if (deleted) await Promise.all([this.stats.add({ tasks_running: -1 }), ...(locator ? [this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: keys.taskLocator(taskId) }))] : [])]);
    return deleted;
  }

  async getTaskRecord(processId: string, taskId: string): Promise<TaskItem | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.task(processId, taskId), ConsistentRead: true }),
    );
    return out.Item && !isFence(out.Item) ? (out.Item as TaskItem) : undefined;
  }

  /**
   * Fences the key of attempt `taskId`, whose record is not written, so that it never is: its claim is
   * being given back (the kill, the reaper, a step that failed for good), and the `Prepare` that writes it
   * may still be running, its reads of the slot and the run sent beside that write (prepare.ts
   * `prepareClaimed`); the write, conditional on the key being free, then fails. The fence is no attempt:
   * no read of attempts answers it, no index holds it, and it expires with the run (`expiresAt`, and the
   * run's end stamps it as any item of the partition). Answers false when the key is taken (the attempt
   * was written, or fenced before). `counted`: the claim was counted running by the start that made it
   * (slots.ts `claim_counted`); the fence, written once, takes that count back.
   */
  async fenceTask(processId: string, taskId: string, expiresAt: number | undefined, counted = false): Promise<boolean> {
    const fenced = await conditionally(
      this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: fenceItem(processId, taskId, expiresAt),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (fenced && counted) await this.stats.add({ tasks_running: -1 });
    return fenced;
  }

  /**
   * Moves a task attempt between statuses if it is in one of `from` (and, with `unreported`, if it has
   * not reported through `/succeed` or `/fail`); answers its previous status, undefined when it was not.
   * `expiresAt`: the end stamps its expiry too (run-retention.ts skips it then). */
  async transitionTask(
    processId: string,
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    set: Item = {},
    options: { unreported?: boolean; counting?: (moves: CounterDeltas) => void; expiresAt?: number } = {},
  ): Promise<TaskStatus | undefined> {
    const out = await transitionItem(this.db, {
      key: keys.task(processId, taskId),
      from,
      set: { ...set, status: to, [TTL_ATTRIBUTE]: options.expiresAt },
      ...(options.unreported ? { absent: ['reported'] } : {}),
      returnValues: 'UPDATED_OLD',
    });
    if (!out) return undefined;
    const old = out.status as TaskStatus;
    // With `counting`, the counters' move is handed to the caller, to go out with its next writes.
    const moves = moveOf(`tasks_${old}`, `tasks_${to}`);
    if (options.counting) options.counting(moves);
    else await this.stats.add(moves);
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

  /** Sets an attempt's progress unless it reported a higher percent ({@link recordProgress}). */
  recordProgress(processId: string, taskId: string, progress: AttemptProgress): Promise<ProgressOutcome> {
    return recordProgress(this.db, processId, taskId, progress);
  }

  /** Task attempts newest first (of a run: in the order of their ids), without their entries (`entries_omitted`). */
  async listTasks(filter: TaskFilter): Promise<Page<Task>> {
    if (filter.process_id !== undefined) return this.listTasksOfRun(filter.process_id, filter);
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

  /**
   * A run's attempts, a page at a time in the order of their ids (the partition's order: no index orders
   * one run's attempts by time), the other filters applied to what is read (at most
   * MAX_PAGES_PER_REQUEST DynamoDB pages per request, as for the indexes).
   */
  private async listTasksOfRun(processId: string, filter: TaskFilter): Promise<Page<Task>> {
    checkWindow(filter.start_time, filter.end_time);
    const statuses = filter.statuses && filter.statuses.length > 0 ? new Set<string>(filter.statuses) : undefined;
    const keep = (item: Item) =>
      (statuses === undefined || statuses.has(String(item.status))) &&
      (filter.process_definition_name === undefined || item.process_definition_name === filter.process_definition_name) &&
      (filter.task_definition_name === undefined || item.task_definition_name === filter.task_definition_name) &&
      (filter.start_time === undefined || String(item.start_time) >= filter.start_time) &&
      (filter.end_time === undefined || String(item.start_time) <= filter.end_time);
    const page = await this.attemptsPage(processId, { cursor: filter.cursor, limit: filter.limit, maxBytes: Infinity, keep });
    const attempts = page.items.filter((item) => runItemKind(String(item.sk)) === 'task');
    return { items: attempts.map((item) => withoutEntries(taskRecordOf(item))), next: page.next };
  }

  // ---- entries (entries.ts) and retention (run-retention.ts) ------------------------------------

  /** Stores log entries, idempotent on `log_entry_id` ({@link EntryStore.appendLogEntries}). */
  appendLogEntries(processId: string, taskId: string, entries: readonly LogEntry[]): Promise<number> {
    return this.entries.appendLogEntries(processId, taskId, entries);
  }

  /** Stores metadata entries, idempotent on `metadata_entry_id` ({@link EntryStore.appendMetadataEntries}). */
  appendMetadataEntries(processId: string, taskId: string, entries: readonly MetadataEntry[]): Promise<number> {
    return this.entries.appendMetadataEntries(processId, taskId, entries);
  }

  /** Stores lines of an attempt's captured output ({@link EntryStore.appendCapturedLines}). */
  appendCapturedLines(processId: string, taskId: string, lines: readonly CapturedLine[]): Promise<void> {
    return this.entries.appendCapturedLines(processId, taskId, lines);
  }

  /** A page of an attempt's captured output after sequence `afterSeq` ({@link EntryStore.capturedLinesPage}). */
  capturedLinesPage(processId: string, taskId: string, request: CapturedLinesRequest): Promise<CapturedLine[]> {
    return this.entries.capturedLinesPage(processId, taskId, request);
  }

  /** A page of an attempt's entries of one kind, oldest first ({@link EntryStore.entriesPage}). */
  entriesPage<E extends LogEntry | MetadataEntry>(taskId: string, kind: EntryKind, request: { limit: number; cursor?: string }): Promise<EntryPage<E>> {
    return this.entries.entriesPage<E>(taskId, kind, request);
  }

  /** Sets or removes the expiry of a run's items ({@link RunRetention.setRunExpiry}). */
  setRunExpiry(processId: string, expiresAt: number | undefined, options: { runItemOnly?: boolean } = {}): Promise<boolean> {
    return this.retention.setRunExpiry(processId, expiresAt, options);
  }

  /** Removes the expiry of a page of a run's items but its run item ({@link RunRetention.clearExpiryPage}). */
  clearExpiryPage(processId: string, after: string | undefined, limit: number): Promise<string | undefined> {
    return this.retention.clearExpiryPage(processId, after, limit);
  }

  /** Ids of finished runs whose expiry is due ({@link RunRetention.listExpiredRunIds}). */
  listExpiredRunIds(now: Date, limit?: number): Promise<string[]> {
    return this.retention.listExpiredRunIds(now, limit);
  }

  /** Deletes a run's whole partition and its attempts' locators ({@link RunRetention.deleteRun}). */
  deleteRun(processId: string): Promise<number> {
    return this.retention.deleteRun(processId);
  }
}

/** The item that fences attempt `taskId`'s key (RunStore `fenceTask`). */
function fenceItem(processId: string, taskId: string, expiresAt: number | undefined): Item {
  return { ...keys.task(processId, taskId), fenced: true, ...(expiresAt === undefined ? {} : { [TTL_ATTRIBUTE]: expiresAt }) };
}
