/** One instance of something slow to start (a local Sundial, a browser) shared by the tests of a file. */
import { afterAll, beforeAll } from 'vitest';

/**
 * Registers `start` in `beforeAll` (with `timeoutMs`, else the config's hook timeout) and its `close` in
 * `afterAll`; answers a function giving the started instance, for calls inside tests. `what` names the
 * caller in the error of a call made before the instance started.
 */
export function perFile<T extends { close(): Promise<void> }>(what: string, start: () => Promise<T>, timeoutMs?: number): () => T {
  let instance: T | undefined;
  beforeAll(async () => {
    instance = await start();
  }, timeoutMs);
  afterAll(async () => {
    await instance?.close();
  });
  return () => {
    if (!instance) throw new Error(`${what}: used outside a test (it starts in beforeAll)`);
    return instance;
  };
}
