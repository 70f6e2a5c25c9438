/**
 * Synthesizes the stack once for the whole run and shares the task state machine definition with the
 * test workers through a file, so that every local-mode server runs the definition `cdk synth` emits
 * without synthesizing it again. Once for the run, not per project (vitest.config.mts has two, and runs
 * each project's global setup in the one main process): the second finds the first's file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../local/polyfills';
import { loadTaskDefinition, TASK_DEFINITION_FILE_ENV } from '../local/engine/asl';

const DONE = Symbol.for('sundial.test.global-setup');

export default async function setup(): Promise<() => void> {
  const run = globalThis as { [DONE]?: Promise<void> };
  if (run[DONE]) {
    await run[DONE];
    return () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sundial-asl-'));
  process.env[TASK_DEFINITION_FILE_ENV] = join(dir, 'task-state-machine.asl.json');
  run[DONE] = loadTaskDefinition().then(() => undefined);
  await run[DONE];
  return () => rmSync(dir, { recursive: true, force: true });
}
