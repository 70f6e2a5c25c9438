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

const dynalite = createRequire(import.meta.url)('dynalite');

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
