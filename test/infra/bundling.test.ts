import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, SundialFunction } from '../../lib/index';
import { CDK_JSON_CONTEXT, CLI_CONTEXT, newApp, tempDir } from './support';

const run = promisify(execFile);

/** The function at a construct path ending with `pathSuffix` in a synthesized template. */
function functionAt(template: { Resources: Record<string, any> }, pathSuffix: string): any {
  const fn = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && String(r.Metadata?.['aws:cdk:path']).endsWith(pathSuffix),
  );
  if (!fn) throw new Error(`no function at a path ending with ${pathSuffix}`);
  return fn;
}

/** Directory of the bundled asset of the function at `pathSuffix`. */
function assetDir(outdir: string, template: { Resources: Record<string, any> }, pathSuffix: string): string {
  return join(outdir, functionAt(template, pathSuffix).Metadata['aws:asset:path']);
}

/**
 * Imports a bundle in a fresh Node process with the function's environment
 * (references replaced by plausible values) and reports the type of its
 * `handler` export: a bundle that cannot load takes the whole route table down.
 */
async function loadHandler(dir: string, variables: Record<string, unknown>): Promise<string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    env[name] = typeof value === 'string' ? value : `arn:aws:test:us-east-1:123456789012:${name.toLowerCase()}`;
  }
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', "const m = await import('./index.mjs'); console.log(typeof m.handler);"],
    { cwd: dir, timeout: 20_000, env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env } },
  );
  return stdout.trim();
}

describe('bundling', () => {
  it('bin/sundial.ts synthesizes with cdk-nag and bundles both functions as loadable ES modules', async () => {
    // Prepare: run the app as `cdk synth` does, with cdk.json's context.
    const outdir = tempDir('cdk-infra-app-');

    // Act: a failing cdk-nag check or bundle makes the process exit non-zero and reject.
    await run(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bin', 'sundial.ts')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, ...CLI_CONTEXT }) },
    });

    // Assess
    const template = JSON.parse(readFileSync(join(outdir, 'Sundial.template.json'), 'utf8'));
    for (const path of ['/Api/ApiHandler/Function/Resource', '/Api/CallbacksHandler/Function/Resource']) {
      const dir = assetDir(outdir, template, path);
      expect(statSync(join(dir, 'index.mjs')).size).toBeGreaterThan(0);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toMatch(/export\s*\{[^}]*\bhandler\b[^}]*\}/);
      expect(await loadHandler(dir, functionAt(template, path).Properties.Environment.Variables)).toBe('function');
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((p: { violations: unknown[] }) => p.violations)).toEqual([]);
  }, 60_000);

  it('loads an ESM-only dependency (middy) beside the AWS SDK from a bundle', async () => {
    // Prepare
    const outdir = tempDir('cdk-infra-esm-');
    const app = newApp({ bundle: true, outdir });
    const stack = new Stack(app, 'Probe');
    new SundialFunction(stack, 'Probe', { entry: join(PROJECT_ROOT, 'test', 'infra', 'fixtures', 'esm-probe.ts') });

    // Act
    const dir = assetDir(outdir, app.synth().getStackByName('Probe').template, '/Probe/Function/Resource');
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', "const { handler } = await import('./index.mjs'); console.log(JSON.stringify(await handler({}, {})));"],
      { cwd: dir, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    );

    // Assess
    expect(JSON.parse(stdout)).toEqual({
      statusCode: 200,
      body: JSON.stringify({ sdk: 'function', region: 'eu-west-1' }),
    });
  }, 60_000);
});
