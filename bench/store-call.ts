/**
 * The CPU of one store call, local mode (`npm run bench:store`): the store's client (lambdas/store) against the
 * embedded dynalite (local/dynalite.ts), 8 calls in flight, half consistent GetItems and half conditional
 * UpdateItems answering ALL_NEW, after 300 warm-up calls. Prints, per call: the wall time, the server
 * thread's CPU (its own utime + stime from /proc, what bounds the engine locally: docs/PERFORMANCE.md) and
 * the whole process's (with dynalite's thread). To compare two commits, run it in a checkout of each, one
 * after the other, a few times each.
 *
 * Environment: STORE_CALLS (default 6000), STORE_CALL_ROUNDS (default 3: each round a fresh store),
 * STORE_CALL_MARKED=1 (the calls made inside a function mark, local/function-context.ts, with the marks kept
 * as the tests' local mode keeps them: what AsyncLocalStorage costs every call), STORE_CALL_DISK=1 (the store
 * on disk, LevelDB in a temporary data dir, as `npm start` and the engine's bench keep it; else in memory),
 * STORE_CALL_INDEXED=1 (the item carries the keys of the four GSIs, as a task attempt's item does, so that
 * each update writes their entries too).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, UpdateCommand } from '../lambdas/store/sdk';
import { startDynamo } from '../local/dynalite';
import { markFunctions, runAs } from '../local/function-context';
import { median } from './stats';

const CALLS = Number(process.env.STORE_CALLS ?? 6000);
const ROUNDS = Number(process.env.STORE_CALL_ROUNDS ?? 3);
const IN_FLIGHT = 8;
const MARKED = process.env.STORE_CALL_MARKED === '1';
const DISK = process.env.STORE_CALL_DISK === '1';
const INDEXED = process.env.STORE_CALL_INDEXED === '1';
/** An attempt item's index keys (lambdas/store/keys.ts), the same on every update of one item. */
const indexKeys = (i: number): { set: string; names: Record<string, string>; values: Record<string, string> } =>
  INDEXED
    ? {
        set: ', #g1p = :g1p, #g1s = :g1s, #g2p = :g2p, #g2s = :g2s, #g3p = :g3p, #g3s = :g3s, #g4p = :g4p, #g4s = :g4s',
        names: { '#g1p': 'gsi1pk', '#g1s': 'gsi1sk', '#g2p': 'gsi2pk', '#g2s': 'gsi2sk', '#g3p': 'gsi3pk', '#g3s': 'gsi3sk', '#g4p': 'gsi4pk', '#g4s': 'gsi4sk' },
        values: {
          ':g1p': 'TASKS#bench',
          ':g1s': `2026-12-04T00:00:00.000Z#${i % 50}`,
          ':g2p': 'TASKS#bench#t',
          ':g2s': `2026-12-04T00:00:00.000Z#${i % 50}`,
          ':g3p': 'TASKS',
          ':g3s': `2026-12-04T00:00:00.000Z#${i % 50}`,
          ':g4p': `TASKID#${i % 50}`,
          ':g4s': 'bench',
        },
      }
    : { set: '', names: {}, values: {} };
if (MARKED) markFunctions();

/** This thread's CPU time in ms (Linux: the main thread's task has the process's id; 10 ms ticks). */
function serverThreadMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function round(): Promise<{ wall: number; server: number; process: number }> {
  const dataDir = DISK ? mkdtempSync(join(tmpdir(), 'sundial-bench-store-')) : undefined;
  const store = await startDynamo(dataDir);
  const { db } = store;
  const update = (i: number, index = indexKeys(i)) =>
    db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `BENCH#${i % 50}`, sk: 'S' },
        UpdateExpression: `ADD #c :one SET #s = :s${index.set}`,
        ConditionExpression: 'attribute_not_exists(#s) OR #s <> :done',
        ExpressionAttributeNames: { '#c': 'c', '#s': 'status', ...index.names },
        ExpressionAttributeValues: { ':one': 1, ':s': 'running', ':done': 'succeeded', ...index.values },
        ReturnValues: 'ALL_NEW',
      }),
    );
  const call = (i: number) =>
    i % 2 ? db.doc.send(new GetCommand({ TableName: db.tableName, Key: { pk: `BENCH#${i % 50}`, sk: 'S' }, ConsistentRead: true })) : update(i);
  try {
    for (let i = 0; i < 300; i++) await call(i);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const server0 = serverThreadMs();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, () =>
        runAs('engine', async () => {
          while (next < CALLS) await call(next++);
        }),
      ),
    );
    const cpu = process.cpuUsage(cpu0);
    return { wall: (performance.now() - t0) / CALLS, server: (serverThreadMs() - server0) / CALLS, process: (cpu.user + cpu.system) / 1000 / CALLS };
  } finally {
    await store.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

type Round = Awaited<ReturnType<typeof round>>;
const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) rounds.push(await round());
const fmt = (pick: (r: Round) => number) => `${median(rounds.map(pick)).toFixed(3)} ms (${rounds.map((r) => pick(r).toFixed(3)).join(', ')})`;
console.log(`store call${MARKED ? ' (marked)' : ''}${DISK ? ' (on disk)' : ''}, ${CALLS} calls × ${ROUNDS} rounds, ${IN_FLIGHT} in flight: wall ${fmt((r) => r.wall)}; server thread CPU ${fmt((r) => r.server)}; process CPU ${fmt((r) => r.process)}`);
