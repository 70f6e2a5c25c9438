/**
 * The local store on disk reads LevelDB on its own thread (local/dynalite-worker.mjs): a read does not wait
 * for a thread of libuv's pool, which the store's writes, the server's file reads and its crypto share. Each
 * hop to that pool cost a read ≈ 30 µs of CPU here and, with the machine busy, milliseconds of waiting
 * (docs/PERFORMANCE.md, "Reads on the store's thread").
 */
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GetCommand, PutCommand } from '../../lambdas/store/sdk';
import { startDynamo } from '../../local/dynalite';

it('a consistent read of the store on disk answers while every thread of the pool is held', async () => {
  // Prepare: a store on disk with an item, and FIFOs whose opens will each hold a thread of the pool
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-reads-'));
  const dynamo = await startDynamo(dataDir);
  const { doc, tableName } = dynamo.db;
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: 'read#1', sk: 'S', n: 7 } }));
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(dataDir, `hold-${i}`));
  execFileSync('mkfifo', fifos);
  // An open for reading of a FIFO no one writes blocks its pool thread until a writer comes.
  const held = fifos.map((fifo) => open(fifo, 'r'));
  try {
    // Act
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: 'read#1', sk: 'S' }, ConsistentRead: true }));

    // Assess: answered with the pool held (before, the read waited for a pool thread: this test timed out)
    expect(Item).toEqual({ pk: 'read#1', sk: 'S', n: 7 });
  } finally {
    // A writer lets each held open through.
    const writers = fifos.map((fifo) => openSync(fifo, constants.O_RDWR));
    for (const handle of await Promise.all(held)) await handle.close();
    writers.forEach((fd) => closeSync(fd));
    await dynamo.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
