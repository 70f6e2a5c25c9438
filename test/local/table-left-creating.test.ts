/**
 * A data dir whose table a first start left CREATING: dynalite makes a created table ACTIVE by a timer of
 * the process that created it, so a start that stopped in between (a Ctrl-C in the first milliseconds)
 * left a table that refuses every query for good and cannot be deleted while it is CREATING. It never
 * held an item: the next start refuses the data dir with what to do, instead of failing later with
 * DynamoDB's "Requested resource not found".
 */
import { rmSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startTestSundial, tempDataDir } from '../helpers/local';
import { createLocalTable } from '../helpers/local-table';

it('a table left CREATING by an interrupted first start: the start is refused, naming the data to remove', async () => {
  // Prepare: the table created, and its store closed before dynalite's timer made it ACTIVE
  const dataDir = tempDataDir();
  const path = await createLocalTable(dataDir, { indexes: [], active: false, createTableMs: 2_000 });

  try {
    // Act
    const started = startTestSundial(dataDir);

    // Assess
    await expect(started).rejects.toThrow(`was left CREATING by a start that stopped before it was ready; it holds no data: remove ${path} and start again`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);
