/**
 * A definition's scheduling state, one item per definition (`SCHED#<name>` / `STATE`), and the claims
 * of its ticks (`SCHED#<name>` / `TICK#<scheduled time>`). Every decision the scheduler makes about
 * starting a run is one conditional write on the state item, so that two deliveries, a tick and a
 * catch-up, or a tick and a run ending cannot both start a run (docs/SCHEDULES.md):
 *
 * - `active`: string set of `<start_time>#<process_id>` of the definition's running runs (every run,
 *   manual ones too: a tick must see them). DynamoDB drops a set when its last element goes, so "no run
 *   in progress" is `attribute_not_exists(active)`.
 * - `pending`: the scheduled time of one deferred `wait` tick (a flag, not a queue), or a queued manual
 *   trigger (`manual:` and its {@link QueuedTrigger} as JSON), which ticks deferred after it join.
 * - `last_tick`: the newest tick fired (the local scheduler fires a missed tick once after a restart).
 * - `runs_succeeded`, `runs_failed`: counts kept with ADD when a registered run ends.
 */
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from './sdk';
import { type Db, conditionally, isConditionFailed } from './client';
import { keys, TTL_ATTRIBUTE } from './keys';
import type { TriggerRequest } from '../domain/provenance';

export interface ScheduleState {
  /** `<start_time>#<process_id>` of each running run of the definition. */
  active: string[];
  pending?: string;
  last_tick?: string;
  runs_succeeded: number;
  runs_failed: number;
}

/** The claim of one tick. */
export interface TickClaim {
  /** Who claimed it (the tick state machine's execution, or a local id); its retries may carry on. */
  owner: string;
  /** The run this tick starts, if it starts one (stable per tick). */
  process_id: string;
  /** The start time the run gets (fixed at the first claim, so a retry registers the same run). */
  start_time: string;
  /** Set once the tick is decided: started, deferred, skipped, … */
  outcome?: string;
}

/** A manual trigger queued behind the run in progress (overlap_action `wait`): the run it will start. */
export interface QueuedTrigger {
  process_id: string;
  task_definition_name?: string;
  environment_variables?: Array<{ variable_name: string; value: string }>;
  /** Who asked and when (docs/TRIGGERS.md); absent on a trigger queued before provenance was recorded. */
  trigger?: TriggerRequest;
  /** The parameter values it gave, resolved again when it starts. */
  parameters?: Record<string, string>;
  /** Parameter values passed on from an upstream run (`TriggerOptions.passedOnParameters`). */
  passed_on_parameters?: Record<string, string>;
}

const MANUAL = 'manual:';

/** The queued manual trigger a `pending` value holds, if it holds one (else a deferred tick, or nothing). */
export function queuedTrigger(pending: string | undefined): QueuedTrigger | undefined {
  return pending?.startsWith(MANUAL) ? (JSON.parse(pending.slice(MANUAL.length)) as QueuedTrigger) : undefined;
}

/** An element of `active`. */
export const activeEntry = (startTime: string, processId: string) => `${startTime}#${processId}`;
/** The process id of an element of `active`. */
export const activeProcessId = (entry: string) => entry.slice(entry.indexOf('#') + 1);
/** The start time of an element of `active`. */
export const activeStartTime = (entry: string) => entry.slice(0, entry.indexOf('#'));

/** How long a tick claim is kept (DynamoDB TTL deployed; swept locally). */
export const TICK_CLAIM_TTL_SECONDS = 7 * 24 * 3600;

export class ScheduleStore {
  constructor(private readonly db: Db) {}

  async get(name: string): Promise<ScheduleState> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.scheduleState(name), ConsistentRead: true }));
    const item = out.Item ?? {};
    return {
      active: item.active instanceof Set ? [...(item.active as Set<string>)].sort() : [],
      pending: item.pending as string | undefined,
      last_tick: item.last_tick as string | undefined,
      runs_succeeded: Number(item.runs_succeeded ?? 0),
      runs_failed: Number(item.runs_failed ?? 0),
    };
  }

  /**
   * Claims a tick. The first delivery writes the claim; the same owner (a retry of the same tick
   * execution) may take it again while it has no outcome; anyone else gets `undefined` (a duplicate).
   */
  async claimTick(name: string, scheduledTime: string, claim: Omit<TickClaim, 'outcome'>, now: Date): Promise<TickClaim | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.tickClaim(name, scheduledTime),
          UpdateExpression:
            'SET #owner = :owner, process_id = if_not_exists(process_id, :pid), start_time = if_not_exists(start_time, :start), #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(pk) OR (#owner = :owner AND attribute_not_exists(outcome))',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':owner': claim.owner,
            ':pid': claim.process_id,
            ':start': claim.start_time,
            ':ttl': Math.floor(now.getTime() / 1000) + TICK_CLAIM_TTL_SECONDS,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as TickClaim;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  /** Records what a claimed tick did; later deliveries of it are duplicates whoever sends them. */
  async finishTick(name: string, scheduledTime: string, outcome: string): Promise<void> {
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.tickClaim(name, scheduledTime),
        UpdateExpression: 'SET outcome = :o',
        ExpressionAttributeValues: { ':o': outcome },
      }),
    );
  }

  /** Remembers the newest tick fired (never moves back). */
  async markTick(name: string, scheduledTime: string): Promise<void> {
    await this.conditional({
      UpdateExpression: 'SET last_tick = :t',
      ConditionExpression: 'attribute_not_exists(last_tick) OR last_tick < :t',
      ExpressionAttributeValues: { ':t': scheduledTime },
    }, name);
  }

  /** A run of the definition started (whatever started it). */
  async registerRun(name: string, entry: string): Promise<void> {
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.scheduleState(name),
        UpdateExpression: 'ADD active :e',
        ExpressionAttributeValues: { ':e': new Set([entry]) },
      }),
    );
  }

  /** Registers `entry` only if no other run is in progress (or it is already there: a retry). */
  reserve(name: string, entry: string): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'ADD active :e',
      ConditionExpression: 'attribute_not_exists(active) OR contains(active, :s)',
      ExpressionAttributeValues: { ':e': new Set([entry]), ':s': entry },
    }, name);
  }

  /**
   * Registers a retried run again if no other run is in progress, and takes its first end out of
   * `runs_failed`: a run is counted once, by its latest outcome, when it ends again (runEnded).
   */
  reopenRun(name: string, entry: string): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'ADD active :e, runs_failed :minus',
      ConditionExpression: 'attribute_not_exists(active)',
      ExpressionAttributeValues: { ':e': new Set([entry]), ':minus': -1 },
    }, name);
  }

  /** Defers a `wait` tick while a run is in progress (one flag: a later tick overwrites it). */
  defer(name: string, scheduledTime: string): Promise<boolean> {
    return this.conditional({
      // A queued manual trigger stays: its run is the one catch-up.
      UpdateExpression: 'SET pending = if_not_exists(pending, :t)',
      ConditionExpression: 'attribute_exists(active)',
      ExpressionAttributeValues: { ':t': scheduledTime },
    }, name);
  }

  /**
   * Queues a manual trigger while a run is in progress, unless something is queued already; answers
   * what is queued now (this trigger or the earlier one), or undefined when nothing runs any more.
   */
  async queue(name: string, trigger: QueuedTrigger): Promise<QueuedTrigger | undefined> {
    // A deferred tick is replaced: the queued run is its catch-up too.
    const queued = await this.conditional({
      UpdateExpression: 'SET pending = :p',
      ConditionExpression: 'attribute_exists(active) AND (attribute_not_exists(pending) OR NOT begins_with(pending, :manual))',
      ExpressionAttributeValues: { ':p': MANUAL + JSON.stringify(trigger), ':manual': MANUAL },
    }, name);
    if (queued) return trigger;
    const state = await this.get(name);
    return state.active.length > 0 ? queuedTrigger(state.pending) : undefined;
  }

  /**
   * Takes what is pending (a deferred tick or a queued trigger) and registers its run, if nothing runs;
   * answers the `pending` value taken, or undefined.
   */
  async takePending(name: string, entry: string): Promise<string | undefined> {
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.scheduleState(name),
          UpdateExpression: 'REMOVE pending ADD active :e',
          ConditionExpression: 'attribute_exists(pending) AND attribute_not_exists(active)',
          ExpressionAttributeValues: { ':e': new Set([entry]) },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      return String(out.Attributes?.pending);
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  /**
   * Drops a deferred tick (paused, no longer scheduled); a queued manual trigger stays (manual runs do
   * not depend on the schedule), unless `all` (the definition was deleted).
   */
  async clearPending(name: string, all = false): Promise<void> {
    await this.conditional({
      UpdateExpression: 'REMOVE pending',
      ConditionExpression: all ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND NOT begins_with(pending, :manual)',
      ...(all ? {} : { ExpressionAttributeValues: { ':manual': MANUAL } }),
    }, name);
  }

  /** A registered run ended: unregister it and count it, once (a replay finds it gone). */
  runEnded(name: string, entry: string, status: 'succeeded' | 'failed'): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'DELETE active :e ADD #count :one',
      ConditionExpression: 'contains(active, :s)',
      ExpressionAttributeNames: { '#count': `runs_${status}` },
      ExpressionAttributeValues: { ':e': new Set([entry]), ':s': entry, ':one': 1 },
    }, name);
  }

  /** Unregisters an entry whose run is not running (a crash between registering and creating it). */
  forget(name: string, entry: string): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'DELETE active :e',
      ConditionExpression: 'contains(active, :s)',
      ExpressionAttributeValues: { ':e': new Set([entry]), ':s': entry },
    }, name);
  }

  /**
   * Deletes tick claims that have expired (`expires_at` ≤ now): DynamoDB's TTL does this deployed;
   * dynalite has no TTL, so the local scheduler calls this. Answers how many it deleted.
   */
  async sweepClaims(name: string, now: Date, max = 100): Promise<number> {
    const out = await this.db.doc.send(
      new QueryCommand({
        TableName: this.db.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: '#ttl <= :now',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':pk': keys.schedulePartition(name), ':prefix': keys.tickPrefix, ':now': Math.floor(now.getTime() / 1000) },
        Limit: max,
      }),
    );
    for (const item of out.Items ?? []) {
      await this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: { pk: item.pk, sk: item.sk } }));
    }
    return out.Items?.length ?? 0;
  }

  private async conditional(
    input: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeValues?: Record<string, unknown>; ExpressionAttributeNames?: Record<string, string> },
    name: string,
  ): Promise<boolean> {
    return conditionally(this.db.doc.send(new UpdateCommand({ TableName: this.db.tableName, Key: keys.scheduleState(name), ...input })));
  }
}
