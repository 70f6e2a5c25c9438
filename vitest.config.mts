import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';
import { ISOLATED } from './test/projects';

/**
 * The slowest files, slowest first (their durations in the suite, docs/VERIFICATION.md "The suite's time"):
 * they start first, so that the run does not end with one of them alone on a core. vitest orders the files
 * of a project by their last durations when it has them (node_modules/.vite/vitest), else by their size, larger
 * first: on a clean clone (CI) a short file that runs long, such as test/cli/large-run.test.ts (37 lines, 16 s),
 * started among the last and ran alone at the end.
 */
const SLOWEST = [
  'test/cli/exec.test.ts',
  'test/lib/bundling.test.ts',
  'test/local/engine/spawner.test.ts',
  'test/cli/sundial.test.ts',
  'test/engine/large-runs.test.ts',
  'test/api/large-fan-out.test.ts',
  'test/local/store-atomic-writes.test.ts',
  'test/engine/schedules.test.ts',
  'test/api/response-size.test.ts',
  'test/engine/output-order.test.ts',
  'test/iam/deployed-calls.test.ts',
  'test/fuzz/routes.test.ts',
  'test/faults/npm-start.test.ts',
  'test/faults/task-lifecycle.test.ts',
  'test/store/definitions.test.ts',
  'test/cli/large-run.test.ts',
  'test/api/large-definition.test.ts',
  'test/api/large-run.test.ts',
];

/** vitest's order (projects one after the other, each file's last duration), the {@link SLOWEST} first within their project. */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const projects = [...new Set(sorted.map((f) => f.project.name))];
    const rank = (f: TestSpecification) => {
      const i = SLOWEST.findIndex((path) => f.moduleId.endsWith(`/${path}`));
      return i < 0 ? SLOWEST.length : i;
    };
    const position = new Map(sorted.map((f, i) => [f, i]));
    return [...sorted].sort((a, b) => projects.indexOf(a.project.name) - projects.indexOf(b.project.name) || rank(a) - rank(b) || position.get(a)! - position.get(b)!);
  }
}

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Generous: CI machines are busy, and a test waits for an event, never for a fixed time.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Files side by side: vitest's default on 2 cores is one fork (availableParallelism() - 1), and the suite
    // ran its files one after another (1,105 s in CI). Many files mostly wait (child processes, local
    // servers, timers), so three forks keep 2 cores busy (docs/VERIFICATION.md, "The suite's time").
    // `npx vitest run --maxWorkers=1` runs them one at a time again.
    maxWorkers: 3,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    sequence: { sequencer: SlowestFirst },
    projects: [
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      // A fresh fork per file loaded the AWS SDK, aws-cdk-lib, dynalite and the local server again for each
      // of them, and synthesized the stack cold (9 s of CPU the first time in a process, 2 s after): the
      // files here reuse their worker and what it has loaded (docs/VERIFICATION.md, "The suite's time").
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
    ],
  },
});
