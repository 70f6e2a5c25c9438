/**
 * The local store writes an item and its index entries as one LevelDB batch (local/dynalite-worker.mjs), so a
 * server killed in the middle of a write leaves the table and its GSIs in agreement: dynalite alone wrote the
 * index entries first and the item after them, each its own write, and a SIGKILL between them left an entry
 * that no item has (or an item without its entry) for good (docs/PERFORMANCE.md, "One write per item").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ScanCommand } from '../../lambdas/store/sdk';
import { startDynamo } from '../../local/dynalite';
import { until } from '../helpers/until';

/** Kills a store writer after `after` answered updates (8 in flight), and returns the store's data dir. */
async function killedWhileWriting(after: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sundial-atomic-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/local/store-writer.ts', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await until(async () => out, (o) => o.includes(`wrote ${after}\n`) || child.exitCode !== null, 60_000);
  child.kill('SIGKILL');
  await exited;
  expect(out).toContain(`wrote ${after}\n`);
  return dataDir;
}

type Item = Record<string, unknown>;
async function scan(send: (c: ScanCommand) => Promise<{ Items?: Item[] }>, tableName: string, indexName?: string): Promise<Item[]> {
  return (await send(new ScanCommand({ TableName: tableName, ...(indexName ? { IndexName: indexName } : {}) }))).Items ?? [];
}

it('a store killed while it writes indexed items has, after its restart, each item in its indexes exactly as in its table', async () => {
  // 8 kills at different points of the writes: with dynalite's own order (index entries, then the item), the
  // first or the second kill already left the indexes and the table apart, in each of three runs.
  for (const after of [10, 30, 50, 80, 110, 150, 200, 260]) {
    // Prepare
    const dataDir = await killedWhileWriting(after);
    const dynamo = await startDynamo(dataDir);
    try {
      const { doc, tableName } = dynamo.db;
      const send = (c: ScanCommand) => doc.send(c);
      // Act
      const items = (await scan(send, tableName)).filter((i) => String(i.pk).startsWith('W#'));
      const gsi1 = await scan(send, tableName, 'gsi1');
      const gsi3 = await scan(send, tableName, 'gsi3');
      // Assess: every entry is its item, whole (projection ALL); every item has its entries
      const byKey = (entries: Item[]) => [...entries].sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
      expect(items.length, `killed after ${after}`).toBeGreaterThan(0);
      expect(byKey(gsi1.filter((e) => e.gsi1pk === 'WRITES')), `gsi1, killed after ${after}`).toEqual(byKey(items));
      expect(byKey(gsi3.filter((e) => String(e.pk).startsWith('W#'))), `gsi3, killed after ${after}`).toEqual(byKey(items));
    } finally {
      await dynamo.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}, 240_000);
