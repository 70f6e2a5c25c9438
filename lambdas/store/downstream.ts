/**
 * The downstream index (keys.ts `downstream`): for each upstream name, a string set `names` of the
 * definitions whose `upstream` lists it. PUT and DELETE of a downstream definition keep it; a run's end
 * reads one item of it. It is a hint: whoever reads it checks the downstream definition itself, so that
 * an entry left by a PUT that failed after linking starts nothing.
 */
import { GetCommand, UpdateCommand } from './sdk';
import type { Db } from './client';
import { keys } from './keys';

export class DownstreamStore {
  constructor(private readonly db: Db) {}

  /** The definitions whose `upstream` lists `upstreamName`, by name. */
  async of(upstreamName: string): Promise<string[]> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.downstream(upstreamName), ConsistentRead: true }));
    const names = out.Item?.names;
    return names instanceof Set ? [...(names as Set<string>)].sort() : [];
  }

  /** `downstreamName` lists each of `upstreamNames` (ADD: idempotent). */
  async link(downstreamName: string, upstreamNames: readonly string[]): Promise<void> {
    for (const upstream of upstreamNames) await this.update(upstream, 'ADD', downstreamName);
  }

  /** `downstreamName` no longer lists any of `upstreamNames` (DynamoDB drops the set with its last name). */
  async unlink(downstreamName: string, upstreamNames: readonly string[]): Promise<void> {
    for (const upstream of upstreamNames) await this.update(upstream, 'DELETE', downstreamName);
  }

  private async update(upstreamName: string, action: 'ADD' | 'DELETE', downstreamName: string): Promise<void> {
    await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.downstream(upstreamName),
        UpdateExpression: `${action} #names :n`,
        ExpressionAttributeNames: { '#names': 'names' },
        ExpressionAttributeValues: { ':n': new Set([downstreamName]) },
      }),
    );
  }
}
