/**
 * The engine's state of a run, in the run's own partition: one *slot* per task definition of the run
 * (`SLOT#<name>`: its definition, dependents, dependencies completed, status, attempts made) and, on
 * the run item, the sets of finished and failed task names. Every step is a single-item conditional
 * write (dynalite has no transactions), and every step may be replayed (Step Functions and Lambda
 * deliver at least once) without doing its work twice.
 */
import { BatchWriteCommand, GetCommand, QueryCommand, UpdateCommand } from './sdk';
import type { SlotStatus } from '../domain/engine';
import type { TaskDefinition } from '../domain/models';
import { type Db, isConditionFailed, transitionItem } from './client';
import { keys } from './keys';

export interface Dependent {
  name: string;
  success_required: boolean;
}

export interface Slot {
  process_id: string;
  name: string;
  definition: TaskDefinition;
  dependents: Dependent[];
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
  /** Name of the current orchestrator execution (one per task per round). */
  execution_name?: string;
  /** Incremented by each retry of the run, so that executions get fresh names. */
  round: number;
  /** Set by a retry of the run: the next attempt starts without backoff. */
  skip_backoff?: boolean;
  reason?: string;
}

type Item = Record<string, unknown>;

const setSize = (s: unknown) => (s instanceof Set ? s.size : 0);

export class SlotStore {
  constructor(private readonly db: Db) {}

  /** Writes the slots of a new run (BatchWrite, retrying what DynamoDB leaves unprocessed). */
  async createSlots(slots: readonly Slot[]): Promise<void> {
    for (let i = 0; i < slots.length; i += 25) {
      let requests = slots.slice(i, i + 25).map((slot) => ({
        PutRequest: { Item: { ...keys.slot(slot.process_id, slot.name), ...slot } as Item },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB left slot writes unprocessed');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const out = await this.db.doc.send(new BatchWriteCommand({ RequestItems: { [this.db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.db.tableName] ?? []) as typeof requests;
      }
    }
  }

  async get(processId: string, name: string): Promise<Slot | undefined> {
    const out = await this.db.doc.send(
      new GetCommand({ TableName: this.db.tableName, Key: keys.slot(processId, name), ConsistentRead: true }),
    );
    return out.Item as Slot | undefined;
  }

  async list(processId: string): Promise<Slot[]> {
    const slots: Slot[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.db.doc.send(
        new QueryCommand({
          TableName: this.db.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.runPartition(processId), ':prefix': keys.slotPrefix },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      slots.push(...((out.Items ?? []) as Slot[]));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return slots;
  }

  /**
   * Moves a slot between statuses if it is in `from`; answers the slot after the update, or undefined
   * when it was not in `from` (someone else moved it).
   */
  async transition(processId: string, name: string, from: readonly SlotStatus[], to: SlotStatus, set: Partial<Slot> = {}): Promise<Slot | undefined> {
    const slot = await transitionItem(this.db, {
      key: keys.slot(processId, name),
      from,
      set: { ...set, status: to },
      returnValues: 'ALL_NEW',
    });
    return slot as Slot | undefined;
  }

  /**
   * Claims attempt number `attempts` (0-based) of a running slot for `taskId`. Answers the slot when
   * this call claimed it or had already claimed it (a replay), undefined when the slot is not running
   * or that attempt went to another task id.
   */
  async claimAttempt(processId: string, name: string, attemptsSoFar: number, taskId: string): Promise<Slot | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.slot(processId, name),
          UpdateExpression: 'SET attempts = :next, current_task_id = :tid REMOVE skip_backoff',
          ConditionExpression: '#status = :running AND attempts = :n',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':running': 'running', ':n': attemptsSoFar, ':next': attemptsSoFar + 1, ':tid': taskId },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as Slot;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      const slot = await this.get(processId, name);
      return slot?.current_task_id === taskId && slot.status === 'running' ? slot : undefined;
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
   * Marks task `name` finished on the run item (sets `done`, and `failed` unless it succeeded).
   * Idempotent. Answers how many tasks are done and failed now.
   */
  async runTaskFinished(processId: string, name: string, failed: boolean): Promise<{ done: number; failed: number }> {
    let item: Item | undefined;
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.run(processId),
          UpdateExpression: failed ? 'ADD done_tasks :name, failed_tasks :name' : 'ADD done_tasks :name',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(done_tasks, :plain)',
          ExpressionAttributeValues: { ':name': new Set([name]), ':plain': name },
          ReturnValues: 'ALL_NEW',
        }),
      );
      item = out.Attributes;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      item = (await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.run(processId), ConsistentRead: true }))).Item;
    }
    return { done: setSize(item?.done_tasks), failed: setSize(item?.failed_tasks) };
  }

  /** Takes tasks out of the run's finished sets (retry of a run). */
  async runTasksReopened(processId: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.run(processId),
        UpdateExpression: 'DELETE done_tasks :names, failed_tasks :names',
        ExpressionAttributeValues: { ':names': new Set(names) },
      }),
    );
  }
}

export const slotDepsDone = (slot: Slot) => setSize(slot.deps_done);
export const slotBlocked = (slot: Slot) => setSize(slot.deps_blocking) > 0;
