/**
 * The upstream version item (keys.ts `upstreamVersion`): the one item on which PUTs that list upstream
 * definitions serialize, so that two of them closing a cycle together cannot both pass the cycle check
 * (docs/TRIGGERS.md, "Cycles"). It holds a `version` number and `pending`: a map, by claim id, of the
 * upstream edges of each such PUT that has claimed a version and not yet released it (its definition
 * being stored meanwhile).
 *
 * A PUT reads the item, checks for a cycle against the stored definitions and the pending edges, then
 * claims: `version + 1` and its own pending entry, conditional on the version it read. A claim that
 * loses (another PUT claimed since) reads again and checks again, so a PUT's check has seen every PUT
 * that claimed before it: their edges are pending, or released after their definition was stored. It
 * releases its entry once its definition is stored. No transaction: dynalite has none (STORAGE.md), and
 * none is needed, since the claim is the one write that orders the PUTs.
 */
import { GetCommand, UpdateCommand } from './sdk';
import { type Db, conditionally } from './client';
import { keys } from './keys';

/** The upstream edges of a PUT under way: definition `name` lists `upstream`; `at`: when it claimed. */
export interface PendingUpstream {
  name: string;
  upstream: string[];
  at: string;
}

/**
 * The item as read: its version (0 before the first claim), the pending entries by claim id, and the ids
 * of entries older than {@link PENDING_UPSTREAM_AGE_MS} (left by PUTs that died), which do not count.
 */
export interface UpstreamVersion {
  version: number;
  pending: ReadonlyMap<string, PendingUpstream>;
  stale: readonly string[];
}

/**
 * Age past which a pending entry is a PUT that died before releasing it (a Lambda invocation lives 15
 * minutes at most): it no longer counts, and the next claim removes it. Until then its edges count, as if
 * it had stored its definition: an edge counted too many refuses a PUT, it never stores a cycle.
 */
export const PENDING_UPSTREAM_AGE_MS = 15 * 60_000;

interface VersionItem {
  version?: number;
  pending?: Record<string, PendingUpstream>;
}

export class UpstreamVersionStore {
  constructor(private readonly db: Db) {}

  /** The item, read strongly consistently (a check reads it before anything else it checks against), at time `now`. */
  async read(now: string): Promise<UpstreamVersion> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.upstreamVersion, ConsistentRead: true }));
    const item = (out.Item ?? {}) as VersionItem;
    const entries = Object.entries(item.pending ?? {});
    const isStale = (p: PendingUpstream) => Date.parse(now) - Date.parse(p.at) > PENDING_UPSTREAM_AGE_MS;
    return {
      version: item.version ?? 0,
      pending: new Map(entries.filter(([, p]) => !isStale(p))),
      stale: entries.filter(([, p]) => isStale(p)).map(([id]) => id).sort(),
    };
  }

  /**
   * Claims the version after `read` for PUT `id`, with its pending edges, if no claim came since
   * (conditional on the version): true when claimed, false when the version moved on. Removes the stale
   * entries of `read`, on condition that they are still there (a removal of an entry gone would be
   * the same no-op, but the condition makes it one whatever DynamoDB does with a missing map key).
   */
  async claim(read: UpstreamVersion, id: string, entry: PendingUpstream): Promise<boolean> {
    const first = read.version === 0;
    const names: Record<string, string> = { '#version': 'version', '#pending': 'pending', ...(first ? {} : { '#id': id }) };
    read.stale.forEach((staleId, i) => (names[`#stale${i}`] = staleId));
    const stale = read.stale.map((_, i) => `#pending.#stale${i}`);
    return conditionally(this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.upstreamVersion,
        // The first claim creates the map; later ones add to it (removing its entries leaves it, empty).
        UpdateExpression: first
          ? 'SET #version = :next, #pending = :entries'
          : `SET #version = :next, #pending.#id = :entry${stale.length ? ` REMOVE ${stale.join(', ')}` : ''}`,
        ConditionExpression: first ? 'attribute_not_exists(#version)' : ['#version = :read', ...stale.map((path) => `attribute_exists(${path})`)].join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: first ? { ':next': 1, ':entries': { [id]: entry } } : { ':next': read.version + 1, ':read': read.version, ':entry': entry },
      }),
    ));
  }

  /** Removes PUT `id`'s pending entry: its definition is stored (or will not be). The version stays. */
  async release(id: string): Promise<void> {
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.upstreamVersion,
        UpdateExpression: 'REMOVE #pending.#id',
        ExpressionAttributeNames: { '#pending': 'pending', '#id': id },
      }),
    );
  }
}
