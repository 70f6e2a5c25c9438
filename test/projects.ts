/**
 * Which test files run in a fresh fork of their own (vitest.config.mts, project `isolated`); every other file
 * shares its fork's loaded modules with the files that ran there before it (project `shared`,
 * `isolate: false`; docs/VERIFICATION.md, "The suite's time"). test/suite/projects.test.ts holds the list to
 * {@link LEAKS}: a file that uses one of them and is not listed fails it.
 */

/**
 * Files that change what the process holds for the files after them: they stub AWS SDK clients
 * (aws-sdk-client-mock's `mockClient` of a client class stubs every instance's `send` until restored), replace
 * or stub `process.env`, fake the timers, or read state that another file sets for good (local/function-context.ts's
 * marks). Entries are paths, or a folder's `/**\/*.test.ts`.
 */
export const ISOLATED = [
  'test/adapters/**/*.test.ts', // mockClient, vi.spyOn
  'test/notify/ses.test.ts', // mockClient(SESClient)
  'test/notify/dispatch.test.ts', // mockClient(LambdaClient), process.env
  'test/iam/deployed-calls.test.ts', // mockClient of eight client classes, process.env replaced
  'test/cli/client.test.ts', // process.env replaced
  'test/functions/engine.test.ts', // vi.stubEnv
  'test/local/engine/long-timers.test.ts', // vi.useFakeTimers
  'test/local/function-context.test.ts', // no marks before markFunctions(), which any local server calls for good
];

/** What in a test file's source leaves state behind for the next file in its fork (what {@link ISOLATED} is for). */
export const LEAKS: ReadonlyArray<{ what: string; pattern: RegExp }> = [
  { what: "aws-sdk-client-mock's mockClient (stubs a client class's send for every instance)", pattern: /\bmockClient\(/ },
  { what: 'vi.stubEnv / vi.stubGlobal', pattern: /\bvi\.stub(Env|Global)\(/ },
  { what: 'vi.useFakeTimers', pattern: /\bvi\.useFakeTimers\(/ },
  { what: 'vi.mock of a module', pattern: /\bvi\.(do)?[mM]ock\(/ },
  // A variable set and put back in a finally (test/local/engine/spawner.test.ts) is not caught here, nor one left set.
  { what: 'process.env replaced', pattern: /\bprocess\.env\s*=[^=]/ },
];

const FOLDER = '**/*.test.ts';

/** Whether `path` (relative to the repository, `test/…`) is entry `entry` of {@link ISOLATED}. */
export function matches(entry: string, path: string): boolean {
  return entry.endsWith(`/${FOLDER}`) ? path.startsWith(entry.slice(0, -FOLDER.length)) && path.endsWith('.test.ts') : path === entry;
}

/** Whether `path` (relative to the repository, `test/…`) is one of {@link ISOLATED}. */
export function isIsolated(path: string): boolean {
  return ISOLATED.some((entry) => matches(entry, path));
}
