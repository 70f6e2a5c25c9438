/**
 * How a run leaves the table once it ended: `expires_at` (the TTL attribute) on the items of its
 * partition and on the locators of its attempts written before gsi4, so that DynamoDB's TTL deletes it
 * deployed. Most items stamp their own in the write that ends them (an attempt's end, a slot's, a done
 * shard's count: engine.ts, completion.ts, fan-out.ts), so that the run's end writes only the rest: the
 * run item, items no end write touched, the locators. And, since
 * dynalite has no TTL, the sparse EXPIRING index (gsi3 of the run item) that the local sweep reads and
 * the delete it does (local/sweeper.ts). Entries are not touched: they expire from when they were
 * written (entries.ts). docs/STORAGE.md, "TTL". Callers reach it through the run store (runs.ts).
 */
import { DeleteCommand, QueryCommand, UpdateCommand } from './sdk';
import { mapLimited } from '../domain/concurrency';
import { type Db, isConditionFailed, queryPartition } from './client';
import { INDEXES, keys, runItemKind, TTL_ATTRIBUTE } from './keys';
import { queryNewestFirst } from './pages';
import { isFence } from './run-items';

type Item = Record<string, unknown>;

const [gsi3pk, gsi3sk] = keys.runStateIndexAttributes;

/**
 * A partition's keys, and whether each attempt is in gsi4: one that is not (written before gsi4, or in a
 * local table without it) has a locator item, which expires and goes with its run; a fence (run-items.ts
 * `isFence`) has none.
 */
const KEYS_AND_INDEXED = `pk, sk, ${INDEXES.gsi4.pk}, fenced`;
/** The same, and whether each item has its expiry already (a read costs a fifth of the write it saves). */
const KEYS_INDEXED_AND_EXPIRY = `${KEYS_AND_INDEXED}, #ttl`;
const hasLocator = (item: Item) => runItemKind(String(item.sk)) === 'task' && item[INDEXES.gsi4.pk] === undefined && !isFence(item);

/**
 * The keys whose expiry follows the run's, of these items of its partition (the run item itself unless
 * `skipRun`), with the locators of attempts written before gsi4. `keepStamped`: leave out the items that
 * have an expiry, stamped by the write that ended them (a retry removes them all before it reopens the run,
 * so that what it keeps gets the new end's); a locator is always in (nothing stamps it).
 */
function expiryTargets(items: readonly Item[], skipRun: boolean, keepStamped = false): Item[] {
  const targets: Item[] = [];
  for (const item of items) {
    const kind = runItemKind(String(item.sk));
    if (kind === 'run' && skipRun) continue; // done under its own condition
    if (kind === 'log' || kind === 'metadata') continue; // entries carry their own expiry, from when they were written
    if (!(keepStamped && item[TTL_ATTRIBUTE] !== undefined)) targets.push({ pk: item.pk, sk: item.sk });
    if (hasLocator(item)) targets.push({ ...keys.taskLocator(keys.taskIdOf(String(item.sk))) });
  }
  return targets;
}

export class RunRetention {
  constructor(private readonly db: Db) {}

  /**
   * Sets (or, with `undefined`, removes) `expires_at` (epoch seconds, the table's TTL attribute) on
   * the items of a run's partition but its entries (they expire from when they were written, so never
   * after their run) and on the locators of its attempts written before gsi4; the run item also joins the sparse
   * EXPIRING index the local sweep reads. The run item is written only while the run is not running
   * (a retry that reopened it wins). Answers false when that condition failed. Setting, the items that
   * carry an expiry already (stamped when they ended) are left as they are: the Query reads whether
   * each has one. Removing, every one goes. `runItemOnly`: the run item alone (a large retry's request;
   * {@link clearExpiryPage} does the rest, in the engine function).
   */
  async setRunExpiry(processId: string, expiresAt: number | undefined, options: { runItemOnly?: boolean } = {}): Promise<boolean> {
    if (expiresAt !== undefined) {
      try {
        await this.db.doc.send(
          new UpdateCommand({
            TableName: this.db.tableName,
            Key: keys.run(processId),
            UpdateExpression: `SET #ttl = :e, ${gsi3pk} = :gpk, ${gsi3sk} = :gsk`,
            ConditionExpression: 'attribute_exists(pk) AND #status <> :running',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE, '#status': 'status' },
            ExpressionAttributeValues: (() => {
              const index = keys.expiringRunIndex(new Date(expiresAt * 1000).toISOString(), processId);
              return { ':e': expiresAt, ':gpk': index[gsi3pk], ':gsk': index[gsi3sk], ':running': 'running' };
            })(),
          }),
        );
      } catch (err) {
        if (isConditionFailed(err)) return false;
        throw err;
      }
    }
    const items: Item[] = options.runItemOnly
      ? [{ ...keys.run(processId) }]
      : await queryPartition(this.db, keys.runPartition(processId), undefined, KEYS_INDEXED_AND_EXPIRY, { '#ttl': TTL_ATTRIBUTE });
    const setting = expiresAt !== undefined;
    await this.setExpiryOf(expiryTargets(items, setting, setting), expiresAt);
    return true;
  }

  /**
   * The removal of {@link setRunExpiry}, a page of the run's partition at a time and its run item left
   * out (done first, under the retry's condition): how the engine function reopens a run too large for
   * its request (lambdas/engine/fan-out.ts). Answers the sort key to go on after, if more may follow.
   */
  async clearExpiryPage(processId: string, after: string | undefined, limit: number): Promise<string | undefined> {
    const out = await this.db.doc.send(
      new QueryCommand({
        TableName: this.db.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.runPartition(processId) },
        ProjectionExpression: KEYS_AND_INDEXED,
        Limit: limit,
        ...(after === undefined ? {} : { ExclusiveStartKey: { pk: keys.runPartition(processId), sk: after } }),
      }),
    );
    await this.setExpiryOf(expiryTargets((out.Items ?? []) as Item[], true), undefined);
    return out.LastEvaluatedKey ? String(out.LastEvaluatedKey.sk) : undefined;
  }

  private async setExpiryOf(targets: readonly Item[], expiresAt: number | undefined): Promise<void> {
    await mapLimited(targets, 25, async (key) => {
      try {
        await this.db.doc.send(
          new UpdateCommand({
            TableName: this.db.tableName,
            Key: key,
            UpdateExpression:
              expiresAt === undefined ? (runItemKind(String(key.sk)) === 'run' ? `REMOVE #ttl, ${gsi3pk}, ${gsi3sk}` : 'REMOVE #ttl') : 'SET #ttl = :e',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ...(expiresAt === undefined ? {} : { ExpressionAttributeValues: { ':e': expiresAt } }),
          }),
        );
      } catch (err) {
        if (!isConditionFailed(err)) throw err; // deleted meanwhile: nothing to expire
      }
    });
  }

  /** Ids of finished runs whose `expires_at` is at or before `now` (the EXPIRING index), oldest first. */
  async listExpiredRunIds(now: Date, limit = 100): Promise<string[]> {
    const page = await queryNewestFirst<Item>(this.db, { ...keys.expiringRuns(), to: now.toISOString(), limit });
    return page.items.map((i) => String(i.process_id)).reverse();
  }

  /**
   * Deletes a run's whole partition and its older attempts' locators (the local stand-in for DynamoDB TTL);
   * answers how many items went. The run item goes last, so that a sweep cut short finds it again.
   */
  async deleteRun(processId: string): Promise<number> {
    const items = await queryPartition(this.db, keys.runPartition(processId), undefined, KEYS_AND_INDEXED);
    const locators = items.filter(hasLocator).map((i) => keys.taskLocator(keys.taskIdOf(String(i.sk))));
    const rest = [...locators, ...items.filter((i) => runItemKind(String(i.sk)) !== 'run').map((i) => ({ pk: i.pk, sk: i.sk }))];
    await mapLimited(rest, 25, (key) => this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: key })));
    await this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: keys.run(processId) }));
    return rest.length + 1;
  }
}
