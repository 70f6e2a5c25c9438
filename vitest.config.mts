import { defineConfig } from 'vitest/config';

/**
 * Files that change what the process holds for the files after them, and so run each in a fresh fork: they
 * stub AWS SDK clients (aws-sdk-client-mock's `mockClient` of a client class stubs every instance's `send`
 * until restored), replace or stub `process.env`, fake the timers, or read state that another file sets for
 * good (local/function-context.ts's marks). Every other file shares its worker's
 * module graph with the files that ran there before it (`isolate: false`, below).
 */
const ISOLATED = [
  'test/adapters/**/*.test.ts', // mockClient, vi.spyOn
  'test/notify/ses.test.ts', // mockClient(SESClient)
  'test/notify/dispatch.test.ts', // mockClient(LambdaClient), process.env
  'test/iam/deployed-calls.test.ts', // mockClient of eight client classes, process.env replaced
  'test/cli/client.test.ts', // process.env replaced
  'test/functions/engine.test.ts', // vi.stubEnv
  'test/local/engine/long-timers.test.ts', // vi.useFakeTimers
  'test/local/function-context.test.ts', // no marks before markFunctions(), which any local server calls for good
];

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
    projects: [
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      // A fresh fork per file loaded the AWS SDK, aws-cdk-lib, dynalite and the local server again for each
      // of them, and synthesized the stack cold (9 s of CPU the first time in a process, 2 s after): the
      // files here reuse their worker and what it has loaded (docs/VERIFICATION.md, "The suite's time").
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
    ],
  },
});
