/**
 * The task state machine the local mode runs is the one `cdk synth` emits: the stack is synthesized
 * (asset bundling skipped, the same context as `cdk.json`) by ./synth-asl.ts in a child process, and its
 * definition taken from the template, intrinsic functions resolved to placeholders (lib/asl.ts).
 * Cached per process, and for `npm start` on disk under a key of everything the synthesis reads (see
 * {@link synthesisKey}): the synthesis costs ≈ 15 s of CPU, and later starts of an unchanged checkout skip it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * When set, a file holding the synthesized definition: read if it exists, written after synthesis
 * otherwise. The test suite synthesizes once per run this way (test/global-setup.ts), never from the
 * on-disk cache, so that every test run checks what the stack emits now.
 */
export const TASK_DEFINITION_FILE_ENV = 'SUNDIAL_TASK_DEFINITION_FILE';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What the synthesis reads: the stack (lib/, which imports names and the route table from lambdas/), the
 * script, the context (cdk.json) and the installed versions (package-lock.json). Any change to one of them
 * gives another key, so a cached definition is never one the stack no longer emits.
 */
export const SYNTHESIS_INPUTS = ['lib', 'lambdas', 'local/engine/synth-asl.ts', 'cdk.json', 'package-lock.json'];

/** A hash of the paths and contents of every file of {@link SYNTHESIS_INPUTS} under `root`. */
export function synthesisKey(root: string = ROOT): string {
  const hash = createHash('sha256');
  for (const input of SYNTHESIS_INPUTS) {
    for (const file of filesUnder(join(root, input))) {
      hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 32);
}

/** Every file at or under `path`, sorted (none when it does not exist). */
function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Where `npm start` keeps synthesized definitions (npm's convention for tools' caches; `npm ci` clears it). */
export function synthesisCacheFile(root: string = ROOT): string {
  return join(root, 'node_modules', '.cache', 'sundial', `task-state-machine-${synthesisKey(root)}.json`);
}
const CACHED_NAME = /^task-state-machine-[0-9a-f]+\.json$/;

let cached: Promise<object> | undefined;

export function loadTaskDefinition(): Promise<object> {
  const file = process.env[TASK_DEFINITION_FILE_ENV];
  cached ??= file ? loadDefinitionFrom(file, synthesize) : loadDefinitionFrom(synthesisCacheFile(), synthesize, { prune: true, onUnwritable: notCached });
  return cached;
}

function notCached(err: Error): void {
  process.stderr.write(`sundial: the synthesized state machine is not cached (${err.message}); the next start synthesizes it again\n`);
}

/**
 * The definition in `file` if it exists, else `synthesize`'s, written there. With `prune`, the other
 * definitions cached beside it are removed: they are of earlier sources and never read again. The cache
 * only saves time: a file that does not parse (torn by a full disk) is synthesized again and replaced, and
 * a cache that cannot be written (a read-only node_modules, a full disk) leaves the start as it would be
 * without one, with `onUnwritable` told why.
 */
export async function loadDefinitionFrom(
  file: string,
  synthesize: () => Promise<object>,
  options: { prune?: boolean; onUnwritable?: (err: Error) => void } = {},
): Promise<object> {
  const stored = readStored(file);
  if (stored) return stored;
  const definition = await synthesize();
  // Written aside and renamed: two servers starting at once never read half a file.
  const dir = dirname(file);
  const partial = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(partial, JSON.stringify(definition));
    renameSync(partial, file);
    if (options.prune) {
      for (const old of readdirSync(dir)) if (CACHED_NAME.test(old) && join(dir, old) !== file) rmSync(join(dir, old), { force: true });
    }
  } catch (err) {
    try {
      rmSync(partial, { force: true });
    } catch {
      // nothing was written where nothing can be
    }
    options.onUnwritable?.(err as Error);
  }
  return definition;
}

/** The definition stored in `file`, or undefined when there is none or it does not parse as one. */
function readStored(file: string): object | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
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
