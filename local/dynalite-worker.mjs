// The embedded DynamoDB's thread: dynalite (and its LevelDB) in a worker thread of the local server.
//
// Why: a store call costs CPU on both sides, the SDK's (serialization, signing, retries) and dynalite's
// (validation, expression parsing, LevelDB): about 0.8 ms in all, 40 % of it dynalite's. In the
// server's one thread that was the bottleneck of the engine (≈ 15 calls per task attempt); here
// dynalite's share runs on another core. Still the real dynalite, answering the SDK's real HTTP
// requests: only the socket is left out (see local/dynalite.ts, WorkerHandler).
//
// Protocol (messages on the worker's port):
//   server → worker  {t:'request', id, method, url, headers, body}   {t:'close'}
//   worker → server  {t:'ready', port}   {t:'response', id, statusCode, headers, body}   {t:'failed', id, message}
//                    {t:'closed', error?}
// 'ready' follows start-up (workerData: {path}, the LevelDB folder, or none for memory); 'closed' follows
// a 'close', once dynalite has closed its LevelDB (it waits for the actions still running).
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { keepParses } from './expression-cache.mjs';

const requireHere = createRequire(import.meta.url);
// Reads of the store on disk on this thread: classic-level's `get` hands each read to a thread of libuv's
// pool and back (≈ 30 µs of CPU, futex wake-ups both ways, and milliseconds of waiting for a pool thread
// when the machine is busy), where its `getSync` reads LevelDB here in ≈ 2 µs: the same read of the same
// database (LevelDB's reads are thread-safe), and this thread has nothing else to do meanwhile. Writes stay
// asynchronous (classic-level has no synchronous put). The store in memory (no data dir) is memory-level's.
// docs/PERFORMANCE.md, "Reads on the store's thread"; test/local/store-reads.test.ts.
// The ClassicLevel that dynalite's own `level` loads, resolved from where each requires it.
const requireDynalite = createRequire(requireHere.resolve('dynalite'));
const requireLevel = createRequire(requireDynalite.resolve('level'));
const { ClassicLevel } = requireLevel('classic-level');
ClassicLevel.prototype._get = async function (key, options) {
  return this._getSync(key, options);
};
const dynalite = requireHere('dynalite');
// One atomic LevelDB batch per item write. dynalite writes an item's index entries first (its deletes, then
// its puts, each its own LevelDB write) and the item after them: two or three writes in a row, each a hop
// through libuv's pool, and a server killed between them leaves an index that disagrees with its table for
// good. Here `updateIndexes` only computes the index entries (dynalite's own `getIndexActions`) and hands them
// to the item's put or delete that dynalite's write actions (put, update, delete, and the batch write through
// them) call next, in the same tick: the three go to LevelDB as one batch. Same keys, same values.
// docs/PERFORMANCE.md, "One write per item"; test/local/store-atomic-writes.test.ts.
const dynaliteDb = requireDynalite('./db/index.js');
/** Index writes computed for the item write that follows in the same tick: {itemDb, ops}. */
let pendingIndexWrites;
const batchedItemDbs = new WeakSet();
/** The item db of `tableName` (dynalite's prefixed wrapper), its put and del taking the index writes along. */
function itemDbTakingIndexWrites(store, tableName) {
  const itemDb = store.getItemDb(tableName);
  if (batchedItemDbs.has(itemDb)) return itemDb;
  const prefix = `item-${tableName}~`;
  const { put, del } = itemDb;
  const withIndexWrites = (own, single) =>
    function (key, ...rest) {
      const pending = pendingIndexWrites;
      if (pending?.itemDb !== itemDb) return single.call(this, key, ...rest);
      pendingIndexWrites = undefined;
      const callback = rest[rest.length - 1];
      store.db.batch([...pending.ops, own(prefix + key, rest)], callback);
    };
  itemDb.put = withIndexWrites((key, [value]) => ({ type: 'put', key, value }), put);
  itemDb.del = withIndexWrites((key) => ({ type: 'del', key }), del);
  batchedItemDbs.add(itemDb);
  return itemDb;
}
dynaliteDb.updateIndexes = function indexWritesWithTheItem(store, table, existingItem, item, cb) {
  countIndexWrites(table, existingItem, item);
  if (!existingItem && !item) return cb();
  const ops = [];
  const puts = [];
  for (const indexType of ['Local', 'Global']) {
    const actions = dynaliteDb.getIndexActions(table[`${indexType}SecondaryIndexes`] || [], existingItem, item, table);
    const prefix = (index) => `index-${indexType.toLowerCase()}~${table.TableName}~${index}~`;
    for (const a of actions.deletes) ops.push({ type: 'del', key: prefix(a.index) + a.key });
    for (const a of actions.puts) puts.push({ type: 'put', key: prefix(a.index) + a.key, value: a.item });
  }
  ops.push(...puts);
  if (ops.length === 0) return cb();
  const pending = { itemDb: itemDbTakingIndexWrites(store, table.TableName), ops };
  pendingIndexWrites = pending;
  try {
    cb();
  } finally {
    // Not taken by an item write in this tick (no dynalite action does that): written on their own.
    if (pendingIndexWrites === pending) {
      pendingIndexWrites = undefined;
      store.db.batch(ops, (err) => err && console.error(`sundial store: index write failed: ${err.message}`));
    }
  }
};

// The write units of an item write as DynamoDB counts them (`ReturnConsumedCapacity: TOTAL` or `INDEXES`): the
// table's, plus each secondary index's the write changes. dynalite 4 answers the table's alone, so the bench's
// write units and its cost per attempt left out the indexes (an attempt's record is in four). Per index, as
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
// has it: an entry put (the item enters the index) or deleted (it leaves) is one write, an index key changed is
// two (the old entry deleted, the new put), projected attributes changed under the same key one, and nothing is
// written when the item is in the index neither before nor after or its entry is unchanged; each write is
// rounded up to 1 KB of the entry (its projected attributes), like the table's. An index that projects the whole
// item counts any write of it under the same key as a change (no comparison of the whole item on each write: the
// engine's writes each change something), a keys-only index none.
// test/limits/dynamodb.test.ts.
/** The capacity object the table's write answered, until `updateIndexes` (called next, in the same tick) adds to it. */
let writeCapacity;
const addConsumedCapacity = dynaliteDb.addConsumedCapacity;
dynaliteDb.addConsumedCapacity = function consumedWithIndexes(data, isRead, ...items) {
  const capacity = addConsumedCapacity.call(this, data, isRead, ...items);
  writeCapacity = isRead ? undefined : capacity;
  return capacity;
};

/** The names of an index's key attributes. */
const indexKeys = (index) => index.KeySchema.map((k) => k.AttributeName);

/** Whether `item` is in `index`: it has every key attribute of the index. */
const inIndex = (index, item) => item != null && indexKeys(index).every((k) => item[k] != null);

/** The entry of `item` in `index` (its projected attributes): the item itself for an index that projects it whole. */
function indexEntry(index, tableKeys, item) {
  if (index.Projection.ProjectionType === 'ALL') return item;
  const entry = {};
  for (const attr of [...indexKeys(index), ...tableKeys, ...(index.Projection.NonKeyAttributes ?? [])]) if (item[attr] !== undefined) entry[attr] = item[attr];
  return entry;
}

/** A DynamoDB JSON value with its maps' keys sorted: two equal entries give the same text. */
const canonical = (value) =>
  JSON.stringify(value, (_, v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));

/** The write units of the indexes of `table` that a write from `before` to `after` (either may be absent) changes, by index. */
function indexWriteUnits(table, before, after) {
  const tableKeys = table.KeySchema.map((k) => k.AttributeName);
  // By entry: the indexes that project the whole item share its size.
  const sizes = new Map();
  const units = (entry) => {
    let n = sizes.get(entry);
    if (n === undefined) sizes.set(entry, (n = Math.max(1, Math.ceil(dynaliteDb.itemSize(entry) / 1024))));
    return n;
  };
  const entry = (index, item) => indexEntry(index, tableKeys, item);
  const byIndex = {};
  for (const index of [...(table.LocalSecondaryIndexes ?? []), ...(table.GlobalSecondaryIndexes ?? [])]) {
    const [wasIn, isIn] = [inIndex(index, before), inIndex(index, after)];
    if (!wasIn && !isIn) continue;
    const projection = index.Projection.ProjectionType;
    let n = 0;
    if (wasIn && isIn) {
      // Key attributes are scalars: their DynamoDB JSON ({"S": …}) compares as text.
      const sameKey = indexKeys(index).every((k) => JSON.stringify(before[k]) === JSON.stringify(after[k]));
      if (!sameKey) n = units(entry(index, before)) + units(entry(index, after));
      else if (projection === 'ALL') n = units(after);
      else if (projection === 'INCLUDE' && canonical(entry(index, before)) !== canonical(entry(index, after))) n = units(entry(index, after));
    } else n = units(entry(index, wasIn ? before : after));
    if (n > 0) byIndex[index.IndexName] = { n, global: (table.GlobalSecondaryIndexes ?? []).includes(index) };
  }
  return byIndex;
}

/** Adds the indexes' write units to the capacity the table's write answered (`writeCapacity`), once. */
function countIndexWrites(table, before, after) {
  const capacity = writeCapacity;
  writeCapacity = undefined;
  if (!capacity) return;
  for (const [name, { n, global }] of Object.entries(indexWriteUnits(table, before, after))) {
    capacity.CapacityUnits += n;
    if (!capacity.Table) continue; // INDEXES: each index's own, beside the table's
    const kind = global ? 'GlobalSecondaryIndexes' : 'LocalSecondaryIndexes';
    capacity[kind] = { ...capacity[kind], [name]: { CapacityUnits: n } };
  }
}

// DynamoDB's `IN` takes at most 100 operands (lambdas/domain/aws-limits.ts, DYNAMODB_IN_MAX_OPERANDS);
// dynalite 4 takes any number, so its condition parser (every ConditionExpression, FilterExpression and
// KeyConditionExpression goes through it) answers DynamoDB's message for a longer list, which dynalite
// turns into its ValidationException "Invalid <kind>: …", as DynamoDB words it. Counted in the parsed tree
// (dynalite's `{type: 'in', args: [operand, ...list]}`), not by scanning each request's raw text as before
// (≈ 35 µs a store call). Never kept by the expression cache below: a parse that answers an error is not.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters
const IN_MAX_OPERANDS = 100;

/** The longest IN list of a parsed condition, 0 when it has none. */
function longestIn(node) {
  if (node === null || typeof node !== 'object') return 0;
  let longest = node.type === 'in' && Array.isArray(node.args) ? node.args.length - 1 : 0;
  for (const child of Array.isArray(node) ? node : node.args ?? []) longest = Math.max(longest, longestIn(child));
  return longest;
}

const conditionParser = requireDynalite('./db/conditionParser.js');
const parseCondition = conditionParser.parse;
conditionParser.parse = function parseWithinInLimit(input, options) {
  const result = parseCondition.call(this, input, options);
  const over = result !== null && typeof result === 'object' ? longestIn(result.expression) : 0;
  return over > IN_MAX_OPERANDS ? `The IN operator is provided with too many operands; number of operands: ${over}` : result;
};

// Each request's expressions parsed once per distinct expression, names and value types, not once per request
// (./expression-cache.mjs).
for (const parser of ['condition', 'update', 'projection']) keepParses(requireDynalite(`./db/${parser}Parser.js`));

const server = dynalite({ path: workerData?.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const listener = server.listeners('request')[0];
if (!listener) throw new Error('dynalite has no HTTP request listener');

/** Hands one request to dynalite's HTTP request listener, as its HTTP server would, and posts the answer. */
function handle({ id, method, url, headers, body }) {
  const req = Object.assign(new EventEmitter(), { method, url, headers });
  const res = {
    statusCode: 200,
    contentType: undefined,
    headers: {},
    setHeader(name, value) {
      this.headers[name.toLowerCase()] = String(value);
    },
    end(data) {
      parentPort.postMessage({ t: 'response', id, statusCode: this.statusCode, headers: this.headers, body: data === undefined ? '' : String(data) });
    },
  };
  listener(req, res);
  if (body !== undefined && body.length > 0) req.emit('data', Buffer.from(body));
  req.emit('end');
}

parentPort.on('message', (message) => {
  if (message.t === 'request') {
    try {
      handle(message);
    } catch (err) {
      parentPort.postMessage({ t: 'failed', id: message.id, message: String(err?.stack ?? err) });
    }
  }
  else if (message.t === 'close') {
    server.close((err) => {
      parentPort.postMessage({ t: 'closed', ...(err ? { error: String(err.message ?? err) } : {}) });
      parentPort.close();
    });
  }
});

// Listening: dynalite's close stops its HTTP server before its LevelDB, and the loopback port answers other
// DynamoDB clients (the endpoint `npm start` prints; the functions' processes of `npm run bench`).
server.listen(0, '127.0.0.1', () => {
  server.unref();
  parentPort.postMessage({ t: 'ready', port: server.address().port });
});
