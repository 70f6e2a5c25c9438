/**
 * Cold start: builds every Lambda entry (`lambdas/<name>/handler.ts`) the way lib/sundial-function.ts
 * has NodejsFunction build it (esbuild, ESM, minified, target node24, AWS SDK bundled, the same
 * `require` banner; the source map is left out of the size: CDK uploads it beside the bundle but the
 * runtime reads it only for a stack trace), then loads each bundle in fresh Node processes and
 * reports the median time of `import()` and the RSS after it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { median, round } from './stats';

const ROOT = join(import.meta.dirname, '..');

const BANNER =
  "import { createRequire as __sundialCreateRequire } from 'node:module';" + 'const require = __sundialCreateRequire(import.meta.url);';

/** What the functions find in their environment deployed (values are placeholders: nothing is called). */
const LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'sundial',
  SUNDIAL_URL: 'https://example.invalid',
  TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
  TASK_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench',
  NOTIFY_FUNCTION_NAME: 'bench',
  NOTIFY_SENDER: 'bench@example.invalid',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_SERVICE_NAME: 'sundial',
};

export interface BundleFigures {
  bytes: number;
  kb: number;
  /** Biggest packages in the bundle, KB. */
  largest: Record<string, number>;
  load_ms_median: number;
  rss_after_load_mb: number;
}

function packageOf(path: string): string {
  const i = path.lastIndexOf('node_modules/');
  if (i < 0) return `(sundial) ${path.split('/').slice(0, 2).join('/')}`;
  const parts = path.slice(i + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}

export async function measureBundles(loads: number): Promise<Record<string, BundleFigures>> {
  const out = join(tmpdir(), `sundial-bench-bundles-${process.pid}`);
  const names = readdirSync(join(ROOT, 'lambdas')).filter((n) => {
    try {
      return statSync(join(ROOT, 'lambdas', n, 'handler.ts')).isFile();
    } catch {
      return false;
    }
  });
  const figures: Record<string, BundleFigures> = {};
  for (const name of names) {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'index.mjs');
    const result = await build({
      entryPoints: [join(ROOT, 'lambdas', name, 'handler.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      mainFields: ['module', 'main'],
      minify: true,
      banner: { js: BANNER },
      metafile: true,
      logLevel: 'silent',
    });
    const output = Object.values(result.metafile.outputs)[0];
    const byPackage: Record<string, number> = {};
    for (const [path, input] of Object.entries(output?.inputs ?? {})) {
      const p = packageOf(path);
      byPackage[p] = (byPackage[p] ?? 0) + input.bytesInOutput;
    }
    const largest = Object.fromEntries(
      Object.entries(byPackage)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([k, v]) => [k, Math.round(v / 1024)]),
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const times: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < loads; i++) {
      const probe = `const t=performance.now();await import(${JSON.stringify(file)});console.log(JSON.stringify({ms:performance.now()-t,rss:process.memoryUsage().rss}))`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
        env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV },
        encoding: 'utf8',
      });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) throw new Error(`loading the ${name} bundle failed: ${child.stderr.slice(0, 500)}`);
      const m = JSON.parse(line) as { ms: number; rss: number };
      times.push(m.ms);
      rss.push(m.rss);
    }
    const bytes = statSync(file).size;
    figures[name] = {
      bytes,
      kb: Math.round(bytes / 1024),
      largest,
      load_ms_median: round(median(times), 1),
      rss_after_load_mb: Math.round(median(rss) / 1024 / 1024),
    };
  }
  return figures;
}
