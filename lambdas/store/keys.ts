/**
 * Every key and index of Sundial's single DynamoDB table, in one place (docs/STORAGE.md explains them).
 *
 * Table: `pk` / `sk` (strings). Three overloaded GSIs `gsi1`..`gsi3` (`gsiNpk` / `gsiNsk`, projection
 * ALL) and a sparse one of attempts by id, `gsi4` (keys only). TTL attribute `expires_at` (epoch seconds).
 *
 * | item              | pk                 | sk                          | gsi1                        | gsi2                               | gsi3            |
 * |-------------------|--------------------|-----------------------------|-----------------------------|------------------------------------|-----------------|
 * | process definition| `DEF`              | `DEF#<name>`                |                             |                                    |                 |
 * | definition part   | `DEFPART#<name>`   | `<version>#<index, 4 digits>` (a large definition's tasks, gzip cut in parts) | |                   |                 |
 * | run (process)     | `RUN#<process_id>` | `RUN`                       | `RUNS#<def>` / `<start>#id` | `RUNS` / `<start>#id`              | `ACTIVE` / `<start>#id` while running (sparse) |
 * | task attempt      | `RUN#<process_id>` | `TASK#<task_id>`            | `TASKS#<def>` / `<start>#id`| `TASKS#<def>#<task def>` / `<start>#id` | `TASKS` / `<start>#id` |
 * |   … and gsi4      |                    |                             | gsi4: `TASKID#<task_id>` / `<process_id>` (keys only: where an attempt is, by its id) | | |
 * | task locator (before 2026-12) | `TASKID#<task_id>` | `TASK` (holds `process_id`) |                 |                                    |                 |
 * | log entry         | `RUN#<process_id>` | `ENTRY#<task_id>#LOG#<id>`  | `ENTRIES#<task_id>#LOG` / `<when>#id` |                          |                 |
 * | captured lines    | `RUN#<process_id>` | `ENTRY#<task_id>#LOG#OUT#<first seq, 10 digits>` | `ENTRIES#<task_id>#LOG` / `<when>#<first seq>#OUT` | |          |
 * | metadata entry    | `RUN#<process_id>` | `ENTRY#<task_id>#META#<id>` | `ENTRIES#<task_id>#META` / `<when>#id` |                         |                 |
 * | task slot (engine)| `RUN#<process_id>` | `SLOT#<task def name>`      |                             |                                    |                 |
 * | fence (engine)    | `RUN#<process_id>` | `TASK#<task_id>` (`fenced`: an attempt never written; no read of attempts answers it: run-items.ts `isFence`) | | |  |
 * | done shard (engine)| `RUN#<process_id>`| `DONE#<0..15>`              |                             |                                    |                 |
 * | run plan (engine) | `RUN#<process_id>` | `PLAN#<000..>` (a large run's tasks, gzipped parts) |     |                                    |                 |
 * | counters (shards) | `STATS#<0..31>`    | `STATS`                     |                             |                                    |                 |
 * | (finished run)    |                    |                             |                             |                                    | `EXPIRING` / `<expires_at>#id` once it ended (sparse, retention) |
 * | schedule state    | `SCHED#<def>`      | `STATE`                     |                             |                                    |                 |
 * | tick claim        | `SCHED#<def>`      | `TICK#<scheduled time>` (TTL `expires_at`) |              |                                    |                 |
 * | backfill          | `SCHED#<def>`      | `BACKFILL`                  |                             |                                    |                 |
 * | downstream index  | `SCHED#<upstream>` | `DOWNSTREAM` (names whose `upstream` lists it) |           |                                    |                 |
 * | upstream version  | `UPSTREAM`         | `VERSION` (one item: PUTs listing `upstream` serialize on it) | |                                 |                 |
 * | notification sent | `RUN#<process_id>` | `NOTIFIED#<end>#<channel>`  |                             |                                    |                 |
 *
 * Times in sort keys are `Date.toISOString()` (fixed width, UTC), so they sort as strings.
 *
 * Entries sit apart from the attempts (`ENTRY#…`, not under `TASK#<task_id>`), so that reading a run's
 * attempts (`begins_with(sk, "TASK#")`) never reads its entries, however many there are; gsi1 orders each
 * attempt's entries of one kind by time, so that the last few, or a page, are read without the rest.
 * Entries written before 2026-12 are at `TASK#<task_id>#LOG#<id>` / `#META#<id>` without gsi1: read with
 * their attempt as before, and not in the entry pages.
 */

export const INDEXES = {
  gsi1: { name: 'gsi1', pk: 'gsi1pk', sk: 'gsi1sk', projection: 'ALL' },
  gsi2: { name: 'gsi2', pk: 'gsi2pk', sk: 'gsi2sk', projection: 'ALL' },
  gsi3: { name: 'gsi3', pk: 'gsi3pk', sk: 'gsi3sk', projection: 'ALL' },
  /**
   * Attempts by id (`taskIdIndex`), keys only: an index write when an attempt is created and none when
   * it changes (its keys never do), where the locator item it replaces cost a write of its own and
   * another for its expiry. Added alone: CloudFormation creates or deletes one GSI per table update.
   */
  gsi4: { name: 'gsi4', pk: 'gsi4pk', sk: 'gsi4sk', projection: 'KEYS_ONLY' },
} as const;

export type IndexName = keyof typeof INDEXES;

export const TTL_ATTRIBUTE = 'expires_at';

export interface Key {
  pk: string;
  sk: string;
}

/**
 * What a chunk of captured lines has where an entry has its id: in its sort key (`…#LOG#OUT#<seq>`) and
 * as the id its gsi1 sort key ends with (`<when>#<first seq>#OUT`, entryIndex).
 */
export const CAPTURED_CHUNK_ID = 'OUT';

/** The two kinds of entries an attempt has. */
export type EntryKind = 'log' | 'metadata';
const ENTRY_KIND_KEY: Record<EntryKind, string> = { log: 'LOG', metadata: 'META' };

export const keys = {
  definitionsPartition: 'DEF',
  definition: (name: string): Key => ({ pk: 'DEF', sk: `DEF#${name}` }),
  /**
   * Part `index` of one version of a definition too large for one item (definitions.ts): its tasks'
   * gzip cut in parts, in the definition's own partition (not `DEF`, so that listing definitions never
   * reads them), keyed by the version the definition's item names.
   */
  definitionPart: (name: string, version: string, index: number): Key => ({ pk: `DEFPART#${name}`, sk: `${version}#${String(index).padStart(4, '0')}` }),
  definitionPartsPartition: (name: string) => `DEFPART#${name}`,
  /** Sort-key prefix of the parts of one version. */
  definitionPartsPrefix: (version: string) => `${version}#`,
  /** The version of a part, from its sort key. */
  definitionPartVersion: (partSortKey: string) => partSortKey.slice(0, partSortKey.lastIndexOf('#')),

  runPartition: (processId: string) => `RUN#${processId}`,
  run: (processId: string): Key => ({ pk: `RUN#${processId}`, sk: 'RUN' }),
  runIndexes: (definitionName: string, startTime: string, processId: string) => ({
    gsi1pk: `RUNS#${definitionName}`,
    gsi1sk: `${startTime}#${processId}`,
    gsi2pk: 'RUNS',
    gsi2sk: `${startTime}#${processId}`,
  }),
  runsOfDefinition: (definitionName: string) => ({ index: 'gsi1' as const, pk: `RUNS#${definitionName}` }),
  allRuns: () => ({ index: 'gsi2' as const, pk: 'RUNS' }),
  /** Sparse: only running runs carry it, so finding what is in flight reads only those. */
  activeRunIndex: (startTime: string, processId: string) => ({ gsi3pk: 'ACTIVE', gsi3sk: `${startTime}#${processId}` }),
  activeRuns: () => ({ index: 'gsi3' as const, pk: 'ACTIVE' }),
  /**
   * Sparse, on a finished run's gsi3 (free once it left ACTIVE): when the run and its partition expire
   * (`expires_at`), so that the local sweep finds what is due without a Scan (dynalite has no TTL).
   */
  expiringRunIndex: (expiresAtIso: string, processId: string) => ({ gsi3pk: 'EXPIRING', gsi3sk: `${expiresAtIso}#${processId}` }),
  expiringRuns: () => ({ index: 'gsi3' as const, pk: 'EXPIRING' }),
  /** The attributes of a run's sparse gsi3 entry (ACTIVE while it runs, EXPIRING once its expiry is set): removed when it leaves either. */
  runStateIndexAttributes: [INDEXES.gsi3.pk, INDEXES.gsi3.sk],

  task: (processId: string, taskId: string): Key => ({ pk: `RUN#${processId}`, sk: `TASK#${taskId}` }),
  /** Prefix of a task item and its entries: a begins_with on it reads the task with its log and metadata. */
  taskPrefix: (taskId: string) => `TASK#${taskId}`,
  taskIndexes: (definitionName: string, taskDefinitionName: string, startTime: string, taskId: string) => ({
    gsi1pk: `TASKS#${definitionName}`,
    gsi1sk: `${startTime}#${taskId}`,
    gsi2pk: `TASKS#${definitionName}#${taskDefinitionName}`,
    gsi2sk: `${startTime}#${taskId}`,
    gsi3pk: 'TASKS',
    gsi3sk: `${startTime}#${taskId}`,
  }),
  tasksOfDefinition: (definitionName: string) => ({ index: 'gsi1' as const, pk: `TASKS#${definitionName}` }),
  tasksOfTaskDefinition: (definitionName: string, taskDefinitionName: string) => ({
    index: 'gsi2' as const,
    pk: `TASKS#${definitionName}#${taskDefinitionName}`,
  }),
  allTasks: () => ({ index: 'gsi3' as const, pk: 'TASKS' }),
  /**
   * Where a task attempt lives, by its id alone (`GET /api/tasks/{task_id}/output` has no process id):
   * the attempt item's own keys in the sparse gsi4, written with the attempt (no item of its own).
   */
  taskIdIndex: (taskId: string, processId: string) => ({ gsi4pk: `TASKID#${taskId}`, gsi4sk: processId }),
  attemptById: (taskId: string) => ({ index: 'gsi4' as const, pk: `TASKID#${taskId}` }),
  /**
   * The pointer item attempts had before gsi4 (`TASKID#<task_id>` / `TASK`, holding `process_id`): still
   * read for them, and written for new ones only in a local table created before gsi4 (dynalite cannot
   * add an index to a table).
   */
  taskLocator: (taskId: string): Key => ({ pk: `TASKID#${taskId}`, sk: 'TASK' }),

  logEntry: (processId: string, taskId: string, entryId: string): Key => ({
    pk: `RUN#${processId}`,
    sk: `ENTRY#${taskId}#LOG#${entryId}`,
  }),
  metadataEntry: (processId: string, taskId: string, entryId: string): Key => ({
    pk: `RUN#${processId}`,
    sk: `ENTRY#${taskId}#META#${entryId}`,
  }),
  /**
   * gsi1 of an entry: the attempt's entries of one kind, by time (`when` as UTC ISO, then the entry id).
   * A captured output line also carries its sequence number before the id, so that the lines of one
   * millisecond keep the order they were written in (the executor never lets `when` go back).
   */
  entryIndex: (taskId: string, kind: EntryKind, when: string, entryId: string, seq?: number) => ({
    gsi1pk: `ENTRIES#${taskId}#${ENTRY_KIND_KEY[kind]}`,
    gsi1sk: `${new Date(when).toISOString()}#${seq === undefined ? '' : `${capturedSeqKey(seq)}#`}${entryId}`,
  }),
  /**
   * A chunk of consecutive lines of an attempt's captured output (local executor), keyed by the sequence
   * number of its first line (the order the executor read them in), so that `/output` pages by sequence:
   * a cursor is the last sequence read. The `OUT#` prefix keeps them apart from callback entries (UUIDs).
   */
  capturedChunk: (processId: string, taskId: string, seq: number): Key => ({
    pk: `RUN#${processId}`,
    sk: `ENTRY#${taskId}#LOG#${CAPTURED_CHUNK_ID}#${capturedSeqKey(seq)}`,
  }),
  /** Sort-key range of an attempt's captured chunks starting after sequence `afterSeq` (-1: from the first). */
  capturedLinesAfter: (processId: string, taskId: string, afterSeq: number) => ({
    pk: `RUN#${processId}`,
    first: `ENTRY#${taskId}#LOG#${CAPTURED_CHUNK_ID}#${capturedSeqKey(0)}`,
    from: `ENTRY#${taskId}#LOG#${CAPTURED_CHUNK_ID}#${capturedSeqKey(afterSeq + 1)}`,
    to: `ENTRY#${taskId}#LOG#${CAPTURED_CHUNK_ID}#~`,
  }),
  /** Prefix of the entry items in a run's partition (every attempt's), and of one attempt's. */
  entryItemsPrefix: 'ENTRY#',
  entryItemsOf: (taskId: string) => `ENTRY#${taskId}#`,
  /** The attempt and kind of an entry item, from its sort key (`ENTRY#<task_id>#LOG#…` or `#META#…`). */
  entryItemOf: (sortKey: string): { taskId: string; kind?: EntryKind } => {
    const [, taskId = '', kind] = sortKey.split('#', 3);
    return { taskId, kind: kind === ENTRY_KIND_KEY.log ? 'log' : kind === ENTRY_KIND_KEY.metadata ? 'metadata' : undefined };
  },
  entriesOf: (taskId: string, kind: EntryKind) => ({ index: 'gsi1' as const, pk: `ENTRIES#${taskId}#${ENTRY_KIND_KEY[kind]}` }),
  /** Prefix of the attempts' items in a run's partition (without their entries, see above). */
  taskItemsPrefix: 'TASK#',
  /** The task id of an attempt's item, from its sort key (`TASK#<task_id>`: a read of keys only has no `task_id`). */
  taskIdOf: (taskSortKey: string) => taskSortKey.slice('TASK#'.length),

  /** The engine's state of one task definition within one run (see lambdas/store/slots.ts). */
  slot: (processId: string, taskDefinitionName: string): Key => ({ pk: `RUN#${processId}`, sk: `SLOT#${taskDefinitionName}` }),
  slotPrefix: 'SLOT#',
  /** Done shard `n` of a run: which of its tasks (of those hashed to `n`) have finished (slots.ts). */
  doneShard: (processId: string, shard: number): Key => ({ pk: `RUN#${processId}`, sk: `DONE#${shard}` }),
  /**
   * Part `n` of the tasks a run was triggered with, gzipped JSON in parts of at most 350 KB: a run too
   * large to start within its request is started by the engine function from these (fan-outs.ts).
   */
  planPart: (processId: string, part: number): Key => ({ pk: `RUN#${processId}`, sk: `PLAN#${String(part).padStart(3, '0')}` }),
  planPrefix: 'PLAN#',

  /**
   * A definition's scheduling state (schedules.ts): its running runs, a deferred `wait` tick, the last
   * tick fired, run counts. Its own partition, not `DEF`, so that listing definitions never reads it.
   */
  scheduleState: (definitionName: string): Key => ({ pk: `SCHED#${definitionName}`, sk: 'STATE' }),
  /** The claim of one tick of a definition: the first delivery writes it, duplicates find it (TTL'd). */
  tickClaim: (definitionName: string, scheduledTime: string): Key => ({ pk: `SCHED#${definitionName}`, sk: `TICK#${scheduledTime}` }),
  schedulePartition: (definitionName: string) => `SCHED#${definitionName}`,
  tickPrefix: 'TICK#',
  /** A definition's backfill: its occurrences and the next to start (backfills.ts). */
  backfill: (definitionName: string): Key => ({ pk: `SCHED#${definitionName}`, sk: 'BACKFILL' }),
  /**
   * The definitions whose `upstream` names `upstreamName` (downstream.ts), kept by their PUT and DELETE,
   * so that a run's end reads one item to find what it starts. It outlives a deleted upstream: a
   * definition PUT again under that name starts them again.
   */
  downstream: (upstreamName: string): Key => ({ pk: `SCHED#${upstreamName}`, sk: 'DOWNSTREAM' }),
  /**
   * The one item PUTs that list upstream definitions claim a version of, conditionally, between their
   * cycle check and their write (upstream-version.ts), so that two PUTs closing a cycle together are
   * ordered and the later one sees the earlier one's edges.
   */
  upstreamVersion: { pk: 'UPSTREAM', sk: 'VERSION' } as Key,

  /** Counter shard `n` (see stats.ts). */
  stats: (shard: number): Key => ({ pk: `STATS#${shard}`, sk: 'STATS' }),

  /**
   * Marks that the notifications of one ending of a run went out on one channel (`email`,
   * `pagerduty#<index>`), so a replayed notification sends nothing twice. `endTime` tells the endings
   * of a retried run apart (deliveries.ts).
   */
  notified: (processId: string, endTime: string, channel: string): Key => ({
    pk: `RUN#${processId}`,
    sk: `NOTIFIED#${endTime}#${channel}`,
  }),
} as const;

/** Largest sequence number of a captured line (its key is fixed-width, so that keys sort as numbers). */
export const CAPTURED_SEQ_MAX = 9_999_999_999;
const capturedSeqKey = (seq: number) => String(seq).padStart(10, '0');

/** Kind of an item of a run's partition, from its sort key. */
export function runItemKind(sk: string): 'run' | 'slot' | 'task' | 'log' | 'metadata' | 'other' {
  if (sk === 'RUN') return 'run';
  if (sk.startsWith('SLOT#')) return 'slot';
  if (!sk.startsWith('TASK#') && !sk.startsWith('ENTRY#')) return 'other';
  if (sk.includes('#LOG#')) return 'log';
  if (sk.includes('#META#')) return 'metadata';
  return sk.startsWith('TASK#') ? 'task' : 'other';
}

/** Sort-key bounds for a time window on `<iso time>#<id>` sort keys. */
export function timeRange(from?: string, to?: string): { from?: string; to?: string } {
  return { ...(from ? { from } : {}), ...(to ? { to: `${to}#\uffff` } : {}) };
}
