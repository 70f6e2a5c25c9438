/**
 * The engine's state of a run, in the run's own partition: one *slot* per task definition of the run
 * (`SLOT#<name>`: its definition, dependents, dependencies completed, status, attempts made), and
 * which tasks have finished, in *done shards*: each counted task ({@link countsDone}: one without
 * dependents, or reopened by a retry) belongs to one of ⌈counted / 32⌉ shard items (`DONE#<n>`: the
 * shard's count of them, the sets of its finished and failed task names), and the run item holds only
 * the sets of shards complete and of those with a failure. A counted task's end updates its shard (a task
 * with dependents writes there only when it did not succeed); only the end that completes a shard updates
 * the run item, so the run item takes one such write per 32 counted tasks: with one set of every task's
 * name on it, every ending task wrote the same item (a hot key: at 100 tasks at once locally, 8 s median
 * per write behind its lock; deployed, 1 KB per 100 names of write units on one partition) and every read
 * of the run grew with it. Every step is a single-item conditional write (dynalite has no transactions),
 * and every step may be replayed (Step Functions and Lambda deliver at least once) without doing its work
 * twice.
 */
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, type QueryCommandInput, UpdateCommand } from './sdk';
import { DYNAMODB_BATCH_WRITE_MAX_ITEMS } from '../domain/aws-limits';
import { AWS_FAN_OUT_CONCURRENCY, mapLimited } from '../domain/concurrency';
import type { Dependent } from '../domain/dag';
import type { SlotStatus } from '../domain/engine';
import type { TaskDefinition } from '../domain/models';
import { type Db, conditionally, isConditionFailed, transitionItem } from './client';
import { keys, TTL_ATTRIBUTE } from './keys';

export interface Slot {
  process_id: string;
  name: string;
  definition: TaskDefinition;
  dependents: Dependent[];
  /**
   * `1` at the place of each dependent whose only dependency this task is (planTasks in domain/dag.ts):
   * its completion starts it in one write ({@link SlotStore.startAfterOnlyDependency}). Absent on slots
   * written before 2026-12.
   */
  only_dependency_of?: string;
  deps_total: number;
  /** Names of completed dependencies (a DynamoDB string set). */
  deps_done?: Set<string>;
  /** Completed dependencies that block this task (required and not succeeded). */
  deps_blocking?: Set<string>;
  status: SlotStatus;
  /** Attempts started so far. */
  attempts: number;
  /** Attempts allowed: the definition's max_attempts, plus one per retry of the run. */
  max_attempts: number;
  current_task_id?: string;
  /**
   * The claim of `current_task_id` was counted running (the `sundial_tasks` gauge) by the start that made
   * it: a task's first attempt, claimed by the write that started it (completion.ts), whose starter
   * counts it with the writes it makes anyway. Its `Prepare` then writes the attempt without counting
   * it (contract.ts `ClaimHint.counted`), and whoever gives an unwritten claim back takes the count back
   * with the fence of its key (runs.ts `fenceTask`). Every other claim removes it: counted by its attempt's write.
   */
  claim_counted?: true;
  /** Name of the current orchestrator execution (one per task per round). */
  execution_name?: string;
  /** Incremented by each retry of the run, so that executions get fresh names. */
  round: number;
  /** Set by a retry of the run: the next attempt starts without backoff. */
  skip_backoff?: boolean;
  reason?: string;
  /**
   * Tasks of the run (its done shards depend on it), so that completing a task need not read the run.
   * Absent from slots written before 2026-12: the run item has it too.
   */
  tasks_total?: number;
  /** The run's done shard count ({@link doneShardCount}); absent from slots of runs created before 2026-12-03. */
  done_shard_count?: number;
  /**
   * `false` on a task with dependents in a run created since 2026-12-04: its end is not counted in its done
   * shard (unless it did not succeed), since its dependents can only end after it ({@link countsDone}).
   * Absent: counted (every task of older runs, and every task a retry reopened).
   */
  counts_done?: false;
  /**
   * The run's definition, so that the execution a start begins carries it and its `Prepare` writes the
   * attempt before it reads the run (engine.ts `prepareClaimed`). Absent from slots written before 2026-12.
   */
  process_definition_name?: string;
}

type Item = Record<string, unknown>;

/** A slot as a claim for `taskId` left it, from the slot before it (the update of `SlotStore.claim`). */
function claimedFrom(before: Slot, taskId: string): Slot {
  const { skip_backoff: _removed, claim_counted: _uncounted, ...rest } = before;
  return { ...rest, attempts: before.attempts + 1, current_task_id: taskId };
}

/**
 * A waiting slot as its start leaves it ({@link SlotStore.start}): running, run by execution `executionName`,
 * its next attempt claimed for `taskId`, without `skip_backoff`.
 */
export function startedSlot(slot: Slot, executionName: string, taskId: string): Slot {
  return { ...claimedFrom(slot, taskId), status: 'running', execution_name: executionName, ...(slot.attempts === 0 ? { claim_counted: true } : {}) };
}

const setSize = (s: unknown) => (s instanceof Set ? s.size : 0);

/**
 * Whether a running slot's current claim is its task's first attempt (attempt 0: the claim is the one
 * attempt counted). Such a claim is given back behind a fence at the attempt's key (engine.ts
 * `endCurrentAttempt`, runs.ts `fenceTask`), and its `Prepare` writes it beside its reads (prepare.ts).
 */
export const claimsFirstAttempt = (slot: Pick<Slot, 'attempts'>) => slot.attempts === 1;

/**
 * Tasks per done shard: a run of `n` tasks has ⌈n / 32⌉ shards (docs/STORAGE.md, "Done shards"). A shard holds
 * the names of its finished tasks, and DynamoDB bills an UpdateItem by the larger of the item's sizes before and
 * after it (1 WRU per KB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html),
 * so the shard's size is what each task's end pays: 32 names of up to 64 characters stay within about 2 KB at
 * any run size. (Runs created before 2026-12-03 have min(16, n) shards: {@link legacyDoneShardCount}.)
 */
export const DONE_SHARD_TASKS = 32;

/** How many done shards a new run of `tasks` tasks has. */
export const doneShardCount = (tasks: number) => Math.max(1, Math.ceil(tasks / DONE_SHARD_TASKS));

/** The shard count of a run created before its slots and run item carried `done_shard_count`. */
export const legacyDoneShardCount = (tasks: number) => Math.max(1, Math.min(16, tasks));

/** The done shard count of the run of `slot` (its own field; a slot written before it: the legacy count of its run's tasks). */
export function doneShardCountOf(holder: { done_shard_count?: number; tasks_total?: number }, tasksTotal = holder.tasks_total ?? 0): number {
  return holder.done_shard_count ?? legacyDoneShardCount(tasksTotal);
}

/**
 * Whether the end of the task of `slot` is counted in its done shard. A run is finished when every task
 * has ended, and a task ends only after all its dependencies have (domain/dag.ts `nextStep`: a dependent
 * starts or is blocked once every dependency is complete), so the ends of the tasks without dependents
 * imply all the others: only theirs are counted (one done-shard write per task fewer for every task with
 * dependents). A counted-out task that did not succeed still marks its shard failed
 * ({@link SlotStore.runTaskFailed}), before it tells its dependents: an optional dependency's failure may
 * reach no counted task. A retry counts every task it reopens ({@link SlotStore.runTasksReopened}).
 */
export const countsDone = (slot: Pick<Slot, 'counts_done'>) => slot.counts_done !== false;

/** The done shard of task `name` in a run of `shards` shards (FNV-1a of the name). */
export function doneShardOf(name: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

/** What {@link SlotStore.listStates} reads of a slot. */
export type SlotState = Pick<Slot, 'name' | 'status'>;

/**
 * What {@link SlotStore.listAttemptStates} reads of a slot: its place in the run, its current attempt and
 * execution, and of its definition only the attempt's time bound (absent when the definition sets none).
 */
export type SlotAttemptState = Pick<Slot, 'process_id' | 'name' | 'status' | 'round' | 'attempts' | 'current_task_id' | 'execution_name'> & {
  definition?: Pick<TaskDefinition, 'max_runtime_seconds'>;
};

/** What a new run item must carry for its done shards (`createSlots` answers it). */
export interface DoneShards {
  /** How many shards have tasks (a run is done when that many are complete). */
  done_shards_total: number;
  /** How many shards the names are spread over ({@link doneShardCount}). */
  done_shard_count: number;
}

/**
 * The done shard items of a run whose counted tasks ({@link countsDone}) are `counted`, each with its count
 * of them: every shard of the run, so that a counted-out task's failure always finds its own (a shard may
 * then count none).
 */
function doneShardItems(processId: string, counted: readonly string[]): Item[] {
  const shards = doneShardCount(counted.length);
  const totals = shardTotals(counted, shards);
  return Array.from({ length: shards }, (_, shard) => ({ ...keys.doneShard(processId, shard), total: totals.get(shard) ?? 0 }));
}

/** How many of `names` each done shard of a run of `shards` holds (shards holding none left out). */
function shardTotals(names: readonly string[], shards: number): Map<number, number> {
  const totals = new Map<number, number>();
  for (const name of names) {
    const shard = doneShardOf(name, shards);
    totals.set(shard, (totals.get(shard) ?? 0) + 1);
  }
  return totals;
}

/** What the run item of a run whose counted tasks ({@link countsDone}) are `counted` carries for its done shards. */
export function doneShardsOf(counted: readonly string[]): DoneShards {
  const count = doneShardCount(counted.length);
  return { done_shards_total: new Set(counted.map((name) => doneShardOf(name, count))).size, done_shard_count: count };
}

export class SlotStore {
  constructor(private readonly db: Db) {}

  /**
   * Writes the slots of a new run and its done shards (BatchWrite, retrying what DynamoDB leaves
   * unprocessed); answers what the run item must carry for them.
   */
  async createSlots(slots: readonly Slot[]): Promise<DoneShards> {
    const processId = slots[0]?.process_id;
    const counted = slots.filter(countsDone).map((slot) => slot.name);
    const shardItems = processId === undefined ? [] : doneShardItems(processId, counted);
    await this.batchPut([...slots.map((slot) => ({ ...keys.slot(slot.process_id, slot.name), ...slot }) as Item), ...shardItems]);
    return doneShardsOf(counted);
  }

  /**
   * The slots of a run written one by one, as the engine function writes a run too large for its request
   * (lambdas/engine/fan-out.ts): its done shards (before any slot, as {@link createSlots} writes them;
   * `counted`: the names of the tasks {@link countsDone} counts), then each slot. Both only where missing,
   * so that a replayed step never writes over what moved on.
   */
  async createDoneShards(processId: string, counted: readonly string[]): Promise<void> {
    for (const item of doneShardItems(processId, counted)) await this.putIfAbsent(item);
  }

  /** See {@link createDoneShards}; answers whether it wrote the slot. */
  async createSlot(slot: Slot): Promise<boolean> {
    return this.putIfAbsent({ ...keys.slot(slot.process_id, slot.name), ...slot });
  }

  private async putIfAbsent(item: Item): Promise<boolean> {
    return conditionally(this.db.doc.send(new PutCommand({ TableName: this.db.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
  }

  /**
   * The batches side by side (up to 4 at a time, as the entries are written): they were one after another,
   * and a run of 100 tasks waited on 5 round trips in a row before its first task could start.
   */
  private async batchPut(items: readonly Item[]): Promise<void> {
    const batches: Item[][] = [];
    for (let i = 0; i < items.length; i += DYNAMODB_BATCH_WRITE_MAX_ITEMS) batches.push(items.slice(i, i + DYNAMODB_BATCH_WRITE_MAX_ITEMS));
    await mapLimited(batches, 4, async (batch) => {
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB left slot writes unprocessed');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const out = await this.db.doc.send(new BatchWriteCommand({ RequestItems: { [this.db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.db.tableName] ?? []) as typeof requests;
      }
    });
  }

  async get(processId: string, name: string): Promise<Slot | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.slot(processId, name), ConsistentRead: true }),
    );
    return out.Item as Slot | undefined;
  }

  /** Up to `limit` slots of a run in name order, after slot `after`; `last` names the last one read when more may follow. */
  async listPage(processId: string, after: string | undefined, limit: number): Promise<{ slots: Slot[]; last?: string }> {
    const out = await this.db.doc.send(
      new QueryCommand(this.slotQuery(processId, { Limit: limit, ...(after === undefined ? {} : { ExclusiveStartKey: keys.slot(processId, after) }) })),
    );
    const slots = (out.Items ?? []) as Slot[];
    return { slots, ...(out.LastEvaluatedKey ? { last: String(out.LastEvaluatedKey.sk).slice(keys.slotPrefix.length) } : {}) };
  }

  async list(processId: string): Promise<Slot[]> {
    return (await this.query(processId)) as unknown as Slot[];
  }

  /**
   * The name and status of every slot of a run, without their definitions (~1 KB a slot with the
   * dependents it names: 10 MB at 10,000 tasks), which a large run's retry request does not need
   * (lambdas/engine/fan-out.ts). DynamoDB still reads whole items; what is left out is their transfer.
   */
  async listStates(processId: string): Promise<SlotState[]> {
    return (await this.query(processId, { ProjectionExpression: '#name, #status', ExpressionAttributeNames: { '#name': 'name', '#status': 'status' } })) as SlotState[];
  }

  /**
   * Every slot of a run as {@link SlotAttemptState}: what the reaper's sweep judges a running attempt by
   * (lambdas/engine/reaper.ts), without the definition and dependents that make a slot ~1 KB (10 MB a sweep
   * per run at 10,000 tasks, parsed and held in the engine function). DynamoDB bills the read by the items'
   * full size all the same ("Projection expression has no effect on provisioned throughput consumption":
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ProjectionExpressions.html);
   * the projection lowers what crosses the network and what is unmarshalled and held.
   */
  async listAttemptStates(processId: string): Promise<SlotAttemptState[]> {
    const names = ['process_id', 'name', 'status', 'round', 'attempts', 'current_task_id', 'execution_name'];
    return (await this.query(processId, {
      // Every name through a placeholder (`name`, `status` are reserved words); a nested path projects one field of a map.
      ProjectionExpression: [...names.map((_, i) => `#a${i}`), '#def.#maxrt'].join(', '),
      ExpressionAttributeNames: { ...Object.fromEntries(names.map((n, i) => [`#a${i}`, n])), '#def': 'definition', '#maxrt': 'max_runtime_seconds' },
    })) as SlotAttemptState[];
  }

  /** A strongly consistent Query of a run's slots (its partition's `SLOT#` items), with `extra` (paging, projection). */
  private slotQuery(processId: string, extra: Partial<QueryCommandInput>): QueryCommandInput {
    return {
      TableName: this.db.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.runPartition(processId), ':prefix': keys.slotPrefix },
      ConsistentRead: true,
      ...extra,
    };
  }

  private async query(processId: string, projection: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> } = {}): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.db.doc.send(new QueryCommand(this.slotQuery(processId, { ExclusiveStartKey: startKey, ...projection })));
      items.push(...((out.Items ?? []) as Item[]));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /**
   * Moves a slot from one of `from` to `to`, setting the fields of `set`; a field given as `undefined`
   * is removed (a retry clears the `reason` of a failed or blocked slot this way). `expiresAt`: the
   * write ends the slot, and stamps its expiry (the TTL attribute) in the same write, so that the run's
   * end need not (run-retention.ts). Answers the slot after the update, or undefined when it was not in
   * `from` (someone else moved it).
   */
  async transition(processId: string, name: string, from: readonly SlotStatus[], to: SlotStatus, set: Partial<Slot> = {}, expiresAt?: number): Promise<Slot | undefined> {
    const slot = await transitionItem(this.db, {
      key: keys.slot(processId, name),
      from,
      set: { ...set, status: to, ...(expiresAt === undefined ? {} : { [TTL_ATTRIBUTE]: expiresAt }) },
      remove: Object.entries(set)
        .filter(([, v]) => v === undefined)
        .map(([k]) => k),
      returnValues: 'ALL_NEW',
    });
    return slot as Slot | undefined;
  }

  /**
   * Starts a waiting slot that has made `attemptsSoFar` attempts in round `round` (as its starter read
   * it): running, run by execution `executionName`, and its next attempt claimed for `taskId` in the
   * same write (as {@link claimAttempt} claims), so that its `Prepare` finds the attempt claimed and
   * does not write the slot (contract.ts `ClaimHint.claimed`). Answers the slot as the start left it, or
   * undefined when it was not so (another writer started or blocked it first).
   */
  async start(processId: string, name: string, round: number, attemptsSoFar: number, executionName: string, taskId: string): Promise<Slot | undefined> {
    return this.startWith(processId, name, executionName, taskId, {
      update: '',
      counted: attemptsSoFar === 0,
      condition: '#status = :waiting AND attempts = :n AND #round = :round',
      values: { ':n': attemptsSoFar, ':round': round, ':next': attemptsSoFar + 1 },
    });
  }

  /**
   * Counts `dependency`, the only dependency of waiting slot `name`, complete (it does not block it) and
   * starts the slot in the same write, as {@link start} does, its first attempt claimed for `taskId`:
   * one write where {@link dependencyCompleted} then {@link start} take two. Answers the slot as it is
   * now, or undefined when the slot is not a waiting one with no attempt made, in round 0, that never
   * counted `dependency` (a replay): the caller then takes those two writes.
   */
  async startAfterOnlyDependency(processId: string, name: string, dependency: string, executionName: string, taskId: string): Promise<Slot | undefined> {
    return this.startWith(processId, name, executionName, taskId, {
      update: ' ADD deps_done :dep',
      counted: true,
      condition: '#status = :waiting AND deps_total = :one AND attempts = :zero AND #round = :zero AND NOT contains(deps_done, :name)',
      values: { ':dep': new Set([dependency]), ':name': dependency, ':one': 1, ':zero': 0, ':next': 1 },
    });
  }

  /**
   * Takes back a start made by {@link startAfterOnlyDependency} for attempt `taskId` whose execution never
   * started (completion.ts `takeBackStarts`; its caller fenced the attempt's key first): the slot waits again,
   * `dependency` not counted, in round 1, so that its next claim names another attempt than the fenced one.
   * Answers false when the slot no longer holds that claim (someone else gave it back first).
   */
  async unstart(processId: string, name: string, dependency: string, taskId: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.slot(processId, name),
        UpdateExpression: 'SET #status = :waiting, attempts = :zero, #round = :one REMOVE current_task_id, claim_counted, execution_name DELETE deps_done :dep',
        ConditionExpression: '#status = :running AND current_task_id = :tid AND attempts = :one AND #round = :zero AND contains(deps_done, :name)',
        ExpressionAttributeNames: { '#status': 'status', '#round': 'round' },
        ExpressionAttributeValues: { ':waiting': 'waiting', ':running': 'running', ':tid': taskId, ':zero': 0, ':one': 1, ':dep': new Set([dependency]), ':name': dependency },
      }),
    ));
  }

  private async startWith(
    processId: string,
    name: string,
    executionName: string,
    taskId: string,
    write: { update: string; counted: boolean; condition: string; values: Item },
  ): Promise<Slot | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.slot(processId, name),
          // A waiting slot made no attempt, so nothing is lost with skip_backoff (only a retry's running
          // slots carry it): the claim removes it, as every claim does. Only a first attempt's claim is
          // counted by its start (`claim_counted`): its give-back is fenced (runs.ts `fenceTask`).
          UpdateExpression: `SET #status = :running, execution_name = :x, attempts = :next, current_task_id = :tid${write.counted ? ', claim_counted = :counted' : ''} REMOVE skip_backoff${write.counted ? '' : ', claim_counted'}${write.update}`,
          ConditionExpression: write.condition,
          ExpressionAttributeNames: { '#status': 'status', '#round': 'round' },
          ExpressionAttributeValues: { ':waiting': 'waiting', ':running': 'running', ':x': executionName, ':tid': taskId, ...(write.counted ? { ':counted': true } : {}), ...write.values },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as Slot;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  /**
   * Gives back the claim of attempt `taskId` of a running slot, which never ran (its record was never
   * written): one attempt fewer, and no current attempt. Answers false when the slot no longer names it.
   */
  async giveBack(processId: string, name: string, taskId: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.slot(processId, name),
        UpdateExpression: 'SET attempts = attempts - :one REMOVE current_task_id, claim_counted',
        ConditionExpression: '#status = :running AND current_task_id = :tid',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': 'running', ':tid': taskId, ':one': 1 },
      }),
    ));
  }

  /**
   * Moves a running slot from round `round` to the next one, run by execution `executionName` (the
   * reaper, after a lost attempt). Answers false when the slot is not running or another writer moved
   * it first.
   */
  async nextRound(processId: string, name: string, round: number, executionName: string): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.slot(processId, name),
        UpdateExpression: 'SET #round = :next, execution_name = :name',
        ConditionExpression: '#status = :running AND #round = :round',
        ExpressionAttributeNames: { '#status': 'status', '#round': 'round' },
        ExpressionAttributeValues: { ':running': 'running', ':round': round, ':next': round + 1, ':name': executionName },
      }),
    ));
  }

  /**
   * Claims attempt `attemptsSoFar` (0-based) of round `round` of a running slot for `taskId`, as a
   * starter's hint (contract.ts `ClaimHint`) says it is. Answers the slot as the claim left it and whether
   * it carried `skip_backoff` (which the claim removes), or undefined when the slot is not like that any
   * more (a replay, a kill, a move): the caller then reads it ({@link claimAttempt}).
   */
  async claimHinted(
    processId: string,
    name: string,
    round: number,
    attemptsSoFar: number,
    taskId: string,
  ): Promise<{ slot: Slot; skipBackoff: boolean } | undefined> {
    const before = await this.claim(processId, name, attemptsSoFar, taskId, round);
    return before && { slot: claimedFrom(before, taskId), skipBackoff: Boolean(before.skip_backoff) };
  }

  /**
   * Claims attempt number `attempts` (0-based) of a running slot for `taskId`. Answers the slot when
   * this call claimed it or had already claimed it (a replay), undefined when the slot is not running
   * or that attempt went to another task id.
   */
  async claimAttempt(processId: string, name: string, attemptsSoFar: number, taskId: string): Promise<Slot | undefined> {
    const before = await this.claim(processId, name, attemptsSoFar, taskId);
    if (before) return claimedFrom(before, taskId);
    const slot = await this.get(processId, name);
    return slot?.current_task_id === taskId && slot.status === 'running' ? slot : undefined;
  }

  /**
   * The claim: a running slot with `attemptsSoFar` attempts (in round `round`, when given) gets one more,
   * for `taskId`. Answers the slot as it was before (`ALL_OLD`: `skip_backoff`, which the claim removes,
   * still on it), undefined when the condition failed.
   */
  private async claim(processId: string, name: string, attemptsSoFar: number, taskId: string, round?: number): Promise<Slot | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.slot(processId, name),
          UpdateExpression: 'SET attempts = :next, current_task_id = :tid REMOVE skip_backoff, claim_counted',
          ConditionExpression: `#status = :running AND attempts = :n${round === undefined ? '' : ' AND #round = :round'}`,
          ExpressionAttributeNames: { '#status': 'status', ...(round === undefined ? {} : { '#round': 'round' }) },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':n': attemptsSoFar,
            ':next': attemptsSoFar + 1,
            ':tid': taskId,
            ...(round === undefined ? {} : { ':round': round }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return out.Attributes as Slot;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }


  /**
   * Records that `dependency` of slot `name` completed (and whether it blocks it). Idempotent: a
   * replay adds nothing. Answers the slot as it is now.
   */
  async dependencyCompleted(processId: string, name: string, dependency: string, blocking: boolean): Promise<Slot | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.slot(processId, name),
          UpdateExpression: blocking ? 'ADD deps_done :dep, deps_blocking :dep' : 'ADD deps_done :dep',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(deps_done, :name)',
          ExpressionAttributeValues: { ':dep': new Set([dependency]), ':name': dependency },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as Slot;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return this.get(processId, name);
    }
  }

  /**
   * Undoes completed dependencies of a slot (retry of a run) and puts it back to `waiting` if blocked.
   */
  async resetDependencies(processId: string, name: string, dependencies: readonly string[]): Promise<void> {
    if (dependencies.length === 0) return;
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.slot(processId, name),
        UpdateExpression: 'DELETE deps_done :deps, deps_blocking :deps',
        ExpressionAttributeValues: { ':deps': new Set(dependencies) },
      }),
    );
  }

  /**
   * Marks task `name` of a run of `shards` done shards ({@link doneShardCountOf}) finished, in its done shard
   * (and, if that completes the shard, on the run item). Idempotent. Answers whether every task of the run
   * is finished now, and how many shards have a failed task (0: none failed).
   */
  async runTaskFinished(processId: string, name: string, failed: boolean, shards: number): Promise<{ runDone: boolean; failed: number }> {
    const shardNumber = doneShardOf(name, shards);
    const shard = await this.addOnce(keys.doneShard(processId, shardNumber), failed ? 'ADD done_tasks :v, failed_tasks :v' : 'ADD done_tasks :v', 'done_tasks', name);
    if (!shard) throw new Error(`run ${processId} has no done shard ${shardNumber}`);
    if (setSize(shard.done_tasks) < Number(shard.total)) return { runDone: false, failed: 0 };
    const shardFailed = setSize(shard.failed_tasks) > 0;
    const run = await this.addOnce(keys.run(processId), shardFailed ? 'ADD done_shards :v, failed_shards :v' : 'ADD done_shards :v', 'done_shards', shardNumber);
    if (!run) throw new Error(`run ${processId} does not exist`);
    return { runDone: setSize(run.done_shards) >= Number(run.done_shards_total), failed: setSize(run.failed_shards) };
  }

  /**
   * `update` (which adds `:v`, a one-element set of `value`) on an existing item whose set `setName`
   * does not hold `value` yet; answers the item as it is after it (read if a replay finds it done).
   */
  private async addOnce(key: { pk: string; sk: string }, update: string, setName: string, value: string | number): Promise<Item | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: key,
          UpdateExpression: update,
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(#set, :plain)',
          ExpressionAttributeNames: { '#set': setName },
          ExpressionAttributeValues: { ':v': new Set([value]), ':plain': value },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return (await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: key, ConsistentRead: true }))).Item;
    }
  }

  /**
   * Marks the failure of task `name`, whose end is not counted ({@link countsDone}: it has dependents), in its
   * done shard of a run of `shards`, without counting it done; and, if the shard is complete already (its
   * counted tasks ended first, or it counts none), on the run item, as a failed shard. Idempotent. It must
   * land before the task tells its dependents: the run's last counted end, which decides its status, then
   * comes after it (one item's writes are serialized: whichever of this and the shard's last count comes
   * second sees the other).
   */
  async runTaskFailed(processId: string, name: string, shards: number): Promise<void> {
    const shardNumber = doneShardOf(name, shards);
    const shard = await this.addOnce(keys.doneShard(processId, shardNumber), 'ADD failed_tasks :v', 'failed_tasks', name);
    if (!shard) throw new Error(`run ${processId} has no done shard ${shardNumber}`);
    if (setSize(shard.done_tasks) < Number(shard.total)) return; // its last count will see the failure
    if (!(await this.addOnce(keys.run(processId), 'ADD failed_shards :v', 'failed_shards', shardNumber))) throw new Error(`run ${processId} does not exist`);
  }

  /**
   * A retry of a run of `shards` done shards ({@link doneShardCountOf}) reopens the tasks `names`: the run is
   * finished again when they have all ended, each counted (the retry's writes to their slots remove
   * `counts_done`), and it failed if one of them did. So the shards of the reopened tasks count those tasks
   * alone (written over: no task of theirs done or failed yet), the others are left as they are (no
   * reopened task counts there), and the run item waits for as many shards and has none complete or failed.
   */
  async runTasksReopened(processId: string, names: readonly string[], shards: number): Promise<void> {
    if (names.length === 0) return;
    const totals = shardTotals(names, shards);
    // The run first: a crash in between leaves shards that still count the tasks as done, on a run item
    // that still waits for them (the run stays failed, and a retry again writes both).
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.run(processId),
        UpdateExpression: 'SET done_shards_total = :total REMOVE done_shards, failed_shards',
        ExpressionAttributeValues: { ':total': totals.size },
      }),
    );
    // Up to ⌈10,000 / 32⌉ shards: within the bound of the engine's other fan-outs to AWS.
    await mapLimited([...totals], AWS_FAN_OUT_CONCURRENCY, ([shard, total]) =>
      this.db.doc.send(new PutCommand({ TableName: this.db.tableName, Item: { ...keys.doneShard(processId, shard), total } })),
    );
  }
}
