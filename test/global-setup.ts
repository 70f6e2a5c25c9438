/**
 * Synthesizes the stack once for the whole run and shares the task state machine definition with the
 * test workers through a file, so that every local-mode server runs the definition `cdk synth` emits
 * without synthesizing it again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../local/polyfills';
import { loadTaskDefinition, TASK_DEFINITION_FILE_ENV } from '../local/engine/asl';

export default async function setup(): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-asl-'));
  process.env[TASK_DEFINITION_FILE_ENV] = join(dir, 'task-state-machine.asl.json');
  await loadTaskDefinition();
  return () => rmSync(dir, { recursive: true, force: true });
}
