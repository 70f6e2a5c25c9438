/**
 * What the engine keeps for a fan-out it hands to the engine function (lambdas/engine/fan-out.ts,
 * docs/SCALE.md): the plan of a large run — the task definitions it was triggered with, so that its slots
 * are written from the definition as it was, whatever PUT comes after — and the run item's markers of a
 * fan-out under way (`starting`, `killing`, `reopening`). A marker holds the token of the one step that may
 * act on it: each step hands its successor a new token, so that a replayed or overtaken step finds the
 * marker moved on and does nothing.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { TaskDefinition } from '../domain/models';
import { PutCommand, UpdateCommand } from './sdk';
import { type Db, conditionally, queryPartition } from './client';
import { keys } from './keys';

/** Bytes of one plan part: DynamoDB items hold 400 KB, names and values together. */
export const PLAN_PART_BYTES = 350_000;

/** The run item's marker of each kind of fan-out. */
export type FanOutMarker = 'starting' | 'killing' | 'reopening';

export class FanOutStore {
  constructor(private readonly db: Db) {}

  /** Writes the plan of a run (before its run item, so that a run item's plan always exists). */
  async putPlan(processId: string, tasks: readonly TaskDefinition[]): Promise<void> {
    const gz = gzipSync(JSON.stringify(tasks));
    const parts = Math.max(1, Math.ceil(gz.length / PLAN_PART_BYTES));
    for (let part = 0; part < parts; part++) {
      await this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: { ...keys.planPart(processId, part), parts, plan_gz: gz.subarray(part * PLAN_PART_BYTES, (part + 1) * PLAN_PART_BYTES) },
        }),
      );
    }
  }

  /** The plan of a run, or undefined when it has none (a run started within its request). */
  async getPlan(processId: string): Promise<TaskDefinition[] | undefined> {
    const items = await queryPartition(this.db, keys.runPartition(processId), keys.planPrefix);
    if (items.length === 0) return undefined;
    if (items.length !== Number(items[0]!.parts)) throw new Error(`the plan of run ${processId} has ${items.length} of its ${String(items[0]!.parts)} parts`);
    return JSON.parse(gunzipSync(Buffer.concat(items.map((i) => i.plan_gz as Uint8Array))).toString('utf8')) as TaskDefinition[];
  }

  /**
   * Claims the retry of failed run `processId` for the request of `token`, before the retry writes
   * anything (lambdas/engine/fan-out.ts `reopen`): answers false when the run is not failed, or when
   * another retry's claim is there and not older than `staleBefore` (a token too: an ISO time), or when
   * it is not the failed run the retry read (`endTime`, its end).
   */
  async claimRetry(processId: string, token: string, staleBefore: string, endTime: string | undefined): Promise<boolean> {
    // The run as the retry read it: failed at `endTime` (a run retried and failed again since has another).
    const ended = endTime === undefined ? 'attribute_not_exists(end_time)' : 'end_time = :end';
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.run(processId),
        UpdateExpression: 'SET retrying = :token',
        ConditionExpression: `#status = :failed AND ${ended} AND (attribute_not_exists(retrying) OR retrying < :stale)`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':token': token, ':failed': 'failed', ':stale': staleBefore, ...(endTime === undefined ? {} : { ':end': endTime }) },
      }),
    ));
  }

  /**
   * Moves `marker` of a run from token `from` to `to` (`undefined`: removes it). Answers false when the
   * marker does not hold `from` any more: another step moved it on, and the caller's step is over.
   */
  async moveMarker(processId: string, marker: FanOutMarker | 'retrying', from: string, to: string | undefined): Promise<boolean> {
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.run(processId),
        UpdateExpression: to === undefined ? 'REMOVE #m' : 'SET #m = :to',
        ConditionExpression: '#m = :from',
        ExpressionAttributeNames: { '#m': marker },
        ExpressionAttributeValues: { ':from': from, ...(to === undefined ? {} : { ':to': to }) },
      }),
    ));
  }
}
