/**
 * `npm start` keeps the synthesized task state machine under a key of everything the synthesis reads
 * (local/engine/asl.ts): a later start of the same sources skips the synthesis, a change to any of them
 * synthesizes again, and a cached definition is never one the stack no longer emits.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDefinitionFrom, SYNTHESIS_INPUTS, synthesisCacheFile, synthesisKey } from '../../../local/engine/asl';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A checkout-like tree with one file in each input and one outside them. */
function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'sundial-asl-key-'));
  dirs.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('lib/engine.ts', 'export const a = 1;');
  write('lambdas/functions/environment.ts', 'export const TABLE = "TABLE_NAME";');
  write('local/engine/synth-asl.ts', 'synth();');
  write('cdk.json', '{"context":{}}');
  write('package-lock.json', '{"packages":{"node_modules/aws-cdk-lib":{"version":"2.0.0"}}}');
  write('web/app.ts', 'console.log(1);');
  write('README.md', '# readme');
  return root;
}

describe('the synthesis key', () => {
  it('is the same for the same sources, and changes with any file of every input', () => {
    const root = tree();
    const key = synthesisKey(root);
    expect(synthesisKey(root)).toBe(key);
    for (const [path, text] of <[string, string][]>[
      ['lib/engine.ts', 'export const a = 2;'],
      ['lambdas/functions/environment.ts', 'export const TABLE = "TABLE";'],
      ['local/engine/synth-asl.ts', 'synth(1);'],
      ['cdk.json', '{"context":{"x":1}}'],
      ['package-lock.json', '{"packages":{"node_modules/aws-cdk-lib":{"version":"2.0.1"}}}'],
      ['lib/new-construct.ts', 'export {};'],
    ]) {
      const before = synthesisKey(root);
      writeFileSync(join(root, path), text);
      expect(synthesisKey(root), path).not.toBe(before);
    }
    expect(SYNTHESIS_INPUTS).toEqual(expect.arrayContaining(['lib', 'lambdas', 'cdk.json', 'package-lock.json']));
  });

  it('does not change with files the synthesis does not read', () => {
    const root = tree();
    const key = synthesisKey(root);
    writeFileSync(join(root, 'web/app.ts'), 'console.log(2);');
    writeFileSync(join(root, 'README.md'), '# changed');
    expect(synthesisKey(root)).toBe(key);
  });

  it('names the cache file under node_modules/.cache of the checkout', () => {
    const root = tree();
    expect(synthesisCacheFile(root)).toBe(join(root, 'node_modules', '.cache', 'sundial', `task-state-machine-${synthesisKey(root)}.json`));
  });
});

describe('a cached definition', () => {
  it('is synthesized once, read on later starts, and replaces the definitions of earlier sources', async () => {
    const root = tree();
    const old = synthesisCacheFile(root);
    let syntheses = 0;
    const synthesize = async () => ({ StartAt: 'Prepare', made: ++syntheses });

    expect(await loadDefinitionFrom(old, synthesize, { prune: true })).toEqual({ StartAt: 'Prepare', made: 1 });
    expect(await loadDefinitionFrom(old, synthesize, { prune: true })).toEqual({ StartAt: 'Prepare', made: 1 });
    expect(syntheses).toBe(1);

    writeFileSync(join(root, 'lib/engine.ts'), 'export const a = 3;');
    const current = synthesisCacheFile(root);
    expect(await loadDefinitionFrom(current, synthesize, { prune: true })).toEqual({ StartAt: 'Prepare', made: 2 });
    // Only the current one is left, and no partial file.
    expect(readdirSync(dirname(current))).toEqual([current.slice(dirname(current).length + 1)]);
  });

  it('is synthesized again when the file does not parse, and replaced', async () => {
    const root = tree();
    const file = synthesisCacheFile(root);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{"StartAt": "Prep'); // torn by a full disk
    const synthesize = async () => ({ StartAt: 'Prepare' });
    expect(await loadDefinitionFrom(file, synthesize)).toEqual({ StartAt: 'Prepare' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ StartAt: 'Prepare' });
  });

  it('that cannot be written leaves the start as without a cache, and says why', async () => {
    const root = tree();
    // node_modules is a file here: no directory can be made under it, whoever runs the test (root too).
    writeFileSync(join(root, 'node_modules'), 'not a directory');
    const file = synthesisCacheFile(root);
    const reasons: string[] = [];
    let syntheses = 0;
    const load = () => loadDefinitionFrom(file, async () => ({ StartAt: 'Prepare', made: ++syntheses }), { prune: true, onUnwritable: (err) => reasons.push(err.message) });
    expect(await load()).toEqual({ StartAt: 'Prepare', made: 1 });
    expect(await load()).toEqual({ StartAt: 'Prepare', made: 2 });
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/ENOTDIR|EEXIST/);
  });
});
