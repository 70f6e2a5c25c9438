/**
 * Stopping the local mode while writes are in flight: dynalite closes its LevelDB between two steps
 * of an action still running, and that step's error is thrown out of a callback (an uncaught exception
 * that ends the process). The embedded store must let the requests already sent finish, refuse new
 * ones with a clear error, and only then close.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect, it } from 'vitest';
import { LocalStoreClosedError, startDynamo } from '../../local/dynalite';

it('a store closed under a stream of writes finishes those sent and refuses the rest', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-close-'));
  for (let round = 0; round < 3; round++) {
    const dynamo = await startDynamo(dataDir);
    const { doc, tableName } = dynamo.db;
    const acknowledged = new Map<string, number>();
    const refusals: unknown[] = [];
    let stop = false;
    const writer = async (w: number) => {
      const key = { pk: `writer#${w}`, sk: 'count' };
      while (!stop) {
        try {
          await doc.send(new UpdateCommand({ TableName: tableName, Key: key, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
          acknowledged.set(key.pk, (acknowledged.get(key.pk) ?? 0) + 1);
        } catch (err) {
          refusals.push(err);
          return;
        }
      }
    };
    const writers = Array.from({ length: 20 }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 100));
    await dynamo.close();
    stop = true;
    await Promise.all(writers);
    expect(refusals.every((err) => err instanceof LocalStoreClosedError)).toBe(true);

    // Every acknowledged write is in the store after a restart: none was cut in half.
    const reopened = await startDynamo(dataDir);
    for (const [pk, count] of acknowledged) {
      const { Item } = await reopened.db.doc.send(new GetCommand({ TableName: reopened.db.tableName, Key: { pk, sk: 'count' } }));
      expect(Item?.n).toBeGreaterThanOrEqual(count);
    }
    await reopened.close();
  }
});
