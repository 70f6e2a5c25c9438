/**
 * Stopping the local mode while writes are in flight: dynalite closes its LevelDB between two steps
 * of an action still running, and that step's error is thrown out of a callback (an uncaught exception
 * that ends the process). The embedded store must let the requests already sent finish, refuse new
 * ones with a clear error, and only then close.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, UpdateCommand } from '../../lambdas/store/sdk';
import { expect, it } from 'vitest';
import { LocalStoreClosedError, startDynamo } from '../../local/dynalite';
import { until } from '../helpers/until';

const WRITERS = 20;

it('a store closed under a stream of writes finishes those sent and refuses the rest', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-close-'));
  for (let round = 0; round < 3; round++) {
    // Prepare: writers that each write until their first refusal
    const dynamo = await startDynamo(dataDir);
    const { doc, tableName } = dynamo.db;
    const acknowledged = new Map<string, number>();
    const total = () => [...acknowledged.values()].reduce((a, b) => a + b, 0);
    const refusals: unknown[] = [];
    let closing = false;
    let acknowledgedWhileClosing = 0;
    const writer = async (w: number) => {
      const key = { pk: `writer#${w}`, sk: 'count' };
      for (;;) {
        try {
          await doc.send(new UpdateCommand({ TableName: tableName, Key: key, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
          acknowledged.set(key.pk, (acknowledged.get(key.pk) ?? 0) + 1);
          if (closing) acknowledgedWhileClosing++;
        } catch (err) {
          refusals.push(err);
          return;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await until(async () => total(), (n) => n >= WRITERS); // the stream is flowing

    // Act
    closing = true;
    await dynamo.close();
    await Promise.all(writers);

    // Assess: writes in flight when the close began were let through; every writer was then refused, cleanly
    expect(acknowledgedWhileClosing).toBeGreaterThan(0);
    expect(refusals).toHaveLength(WRITERS);
    // the refusal of a store that is stopping, not the failure of one that crashed mid-action
    expect(refusals.filter((err) => !(err instanceof LocalStoreClosedError && err.message === new LocalStoreClosedError().message))).toEqual([]);

    // Every acknowledged write is in the store after a restart: none was cut in half.
    const reopened = await startDynamo(dataDir);
    for (const [pk, count] of acknowledged) {
      const { Item } = await reopened.db.doc.send(new GetCommand({ TableName: reopened.db.tableName, Key: { pk, sk: 'count' } }));
      expect(Item?.n).toBeGreaterThanOrEqual(count);
    }
    await reopened.close();
  }
});
