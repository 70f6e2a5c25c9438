import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
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
  },
});
