/**
 * Temporary directories removed after the test file that made them. The setup file (test/setup.ts), which
 * vitest runs before each test file, registers the removal: a module-level `afterAll` in a helper would be
 * registered once per worker, for the first file that imports it, where files share their worker's modules
 * (vitest.config.mts, project `shared`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh temporary directory, removed after the current test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes the directories {@link tempDir} made (test/setup.ts, after each file). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
