/** `npm start`: Sundial's local mode on 127.0.0.1:${PORT:-8080}, data in ${SUNDIAL_DATA_DIR:-./.sundial}. */
import { resolve } from 'node:path';
import { startLocal } from './server';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(2);
}
// An empty SUNDIAL_DATA_DIR (`SUNDIAL_DATA_DIR= npm start`) means the default, not the current directory.
const dataDir = resolve(process.env.SUNDIAL_DATA_DIR || '.sundial');

console.log("starting: synthesizing the task state machine from the CDK stack (a few seconds)…");
const sundial = await startLocal({ port, host: process.env.HOST ?? '127.0.0.1', dataDir }).catch((err: NodeJS.ErrnoException) => {
  console.error(err.code === 'EADDRINUSE' ? `port ${port} is in use: set PORT to another port` : `could not start: ${err.stack ?? err}`);
  process.exit(1);
});
console.log(`sundial listening on ${sundial.url} (data in ${dataDir}; its DynamoDB store answers at ${sundial.storeEndpoint})`);

let stopping = false;
// A store that stopped by itself leaves a server that can only answer errors: stop, and say why.
void sundial.storeFailed.then(async (err) => {
  if (stopping) return;
  stopping = true;
  console.error(`the embedded store stopped, so the server stops too: ${err.message}`);
  await sundial.close().catch(() => undefined);
  process.exit(1);
});
// SIGHUP: the terminal closed. Stopping as on Ctrl-C ends the runs with a reason and stops their tasks (the
// spawner's watchdogs stop them anyway should this process die without stopping: see local/engine/spawner.ts).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    sundial.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`error while stopping: ${err}`);
        process.exit(1);
      },
    );
  });
}
