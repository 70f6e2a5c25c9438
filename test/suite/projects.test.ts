/**
 * The suite's files share their fork's loaded modules (vitest.config.mts, project `shared`) but for those of
 * test/projects.ts's ISOLATED list: this holds that list to what it is for. A test file that stubs an SDK client
 * class, `process.env` or the timers and is not listed would leave that behind for the files after it in its
 * fork, which then pass or fail by the order vitest picks. And a helper that registers a hook at its module's top
 * level would have it for the first file that imports it only: hooks go in test/setup.ts or in the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIsolated, ISOLATED, LEAKS, matches } from '../projects';

const root = join(import.meta.dirname, '..', '..');
const files = (readdirSync(join(root, 'test'), { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && !f.startsWith('browser/'))
  .map((f) => `test/${f.split('\\').join('/')}`);

describe("the suite's projects", () => {
  it('run every test file that leaves state behind in a fork of its own', () => {
    const unlisted = files
      .filter((f) => f.endsWith('.test.ts') && !isIsolated(f))
      .flatMap((f) => {
        const source = readFileSync(join(root, f), 'utf8');
        return LEAKS.filter((leak) => leak.pattern.test(source)).map((leak) => `${f}: ${leak.what}`);
      });
    expect(unlisted, 'add these files to ISOLATED in test/projects.ts').toEqual([]);
  });

  it('list only files that exist', () => {
    for (const entry of ISOLATED) expect(files.some((f) => matches(entry, f)), entry).toBe(true);
  });

  it('have no helper that registers a hook at its top level', () => {
    const hooked = files
      .filter((f) => !f.endsWith('.test.ts') && f !== 'test/setup.ts')
      .filter((f) => /^(beforeAll|afterAll|beforeEach|afterEach)\(/m.test(readFileSync(join(root, f), 'utf8')));
    expect(hooked, 'move these hooks into test/setup.ts or the test files').toEqual([]);
  });
});
