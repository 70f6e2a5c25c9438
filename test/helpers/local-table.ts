/**
 * The local mode's table written into a data dir by a dynalite of the test's own, as an earlier start left
 * it (an older set of indexes, or a start that stopped half-way), before a server opens that data dir.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { INDEXES } from '../../lambdas/store/keys';
import { LOCAL_TABLE_NAME, localTableInput } from '../../local/dynalite';
import { until } from './until';

type Index = (typeof INDEXES)[keyof typeof INDEXES];

/**
 * Creates the table in `<dataDir>/dynamodb` as the local mode does, with `indexes` only, then closes its
 * store. With `active` (the default) it waits until dynalite has made the table ACTIVE, as the local mode
 * does: dynalite writes that status `createTableMs` after CreateTable answered CREATING, and a close
 * before it leaves the table CREATING for good. Answers the store's path.
 */
export async function createLocalTable(dataDir: string, options: { indexes: readonly Index[]; active?: boolean; createTableMs?: number }): Promise<string> {
  const { indexes, active = true, createTableMs = 0 } = options;
  const path = join(dataDir, 'dynamodb');
  mkdirSync(path, { recursive: true });
  const dynalite = createRequire(import.meta.url)('dynalite')({ path, createTableMs });
  await new Promise<void>((resolve) => dynalite.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynalite.address().port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    await client.send(new CreateTableCommand(localTableInput(LOCAL_TABLE_NAME, indexes)));
    if (active) {
      await until(
        () => client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME })),
        (d) => d.Table?.TableStatus === 'ACTIVE',
        10_000,
      );
    }
  } finally {
    client.destroy();
    await new Promise((resolve) => dynalite.close(resolve));
  }
  return path;
}
