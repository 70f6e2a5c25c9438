/**
 * The task state machine the local mode runs is the one `cdk synth` emits: the stack is synthesized
 * (asset bundling skipped, the same context as `cdk.json`) by ./synth-asl.ts in a child process, and its
 * definition taken from the template, intrinsic functions resolved to placeholders (lib/asl.ts).
 * Cached per process.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * When set, a file holding the synthesized definition: read if it exists, written after synthesis
 * otherwise. The test suite synthesizes once per run this way (test/global-setup.ts).
 */
export const TASK_DEFINITION_FILE_ENV = 'SUNDIAL_TASK_DEFINITION_FILE';

let cached: Promise<object> | undefined;

export function loadTaskDefinition(): Promise<object> {
  cached ??= (async () => {
    const file = process.env[TASK_DEFINITION_FILE_ENV];
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as object;
    const definition = await synthesize();
    if (file) writeFileSync(file, JSON.stringify(definition));
    return definition;
  })();
  return cached;
}

/** Runs ./synth-asl.ts with tsx in a fresh Node process and parses what it prints. */
function synthesize(): Promise<object> {
  const script = fileURLToPath(new URL('./synth-asl.ts', import.meta.url));
  // tsx's ES module loader (its package's "." export), as a URL: --import resolves it from anywhere.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/loader.mjs')).href;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', tsx, script], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`could not synthesize the stack for its state machine: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as object);
      } catch (parseErr) {
        reject(new Error(`the stack synthesis printed no definition: ${(parseErr as Error).message}\n${stderr}`));
      }
    });
  });
}
