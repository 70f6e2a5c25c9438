/**
 * Cold start: builds every Lambda entry (`lambdas/functions/<name>.ts`) the way lib/sundial-function.ts
 * has NodejsFunction build it (esbuild, ESM, minified, target node24, the same `require` banner, a
 * source map without sources, and the AWS SDK external: `@aws-sdk/*`, plus `@smithy/*` when cdk.json
 * sets `sdkV3ExcludeSmithyPackages`), then loads each bundle in fresh Node processes and reports the
 * median time of `import()` and the RSS after it. The size is `index.mjs` alone: CDK uploads the map
 * beside it, but the runtime reads the map only for a stack trace.
 *
 * Deployed, the external SDK comes from the runtime's own node_modules. Here the bundles are written
 * under `bench/.bundles/<name>/` (gitignored), so that Node's ES module resolution (which ignores
 * NODE_PATH) finds `@aws-sdk/*` in the repository's node_modules, an ancestor directory: the load
 * time includes loading the SDK clients the bundle imports at start-up, as on Lambda.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { median, round } from './stats';

const ROOT = join(import.meta.dirname, '..');

/** The Lambda entry points (lib/sundial-function.ts, `lambdaEntry`). */
const FUNCTIONS_DIR = join(ROOT, 'lambdas', 'functions');

/** Where the bundles are written: under the repository, so that `@aws-sdk/*` resolves from its node_modules. */
export const BUNDLES_DIR = join(import.meta.dirname, '.bundles');

/** What NodejsFunction leaves external with `bundleAwsSDK: false` on a Node.js 18+ runtime. */
function sdkExternals(): string[] {
  const context = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context ?? {};
  return context['@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages'] === true ? ['@aws-sdk/*', '@smithy/*'] : ['@aws-sdk/*'];
}

const BANNER =
  "import { createRequire as __sundialCreateRequire } from 'node:module';" + 'const require = __sundialCreateRequire(import.meta.url);';

/** What the functions find in their environment deployed (values are placeholders: nothing is called). */
export const LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'sundial',
  SUNDIAL_URL: 'https://example.invalid',
  TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
  TASK_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench',
  TICK_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench-tick',
  SCHEDULE_GROUP_NAME: 'bench',
  SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/bench',
  NOTIFY_FUNCTION_NAME: 'bench',
  NOTIFY_SENDER: 'bench@example.invalid',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_SERVICE_NAME: 'sundial',
  // COMMON_ENVIRONMENT of lib/sundial-function.ts: Node reads the bundle's source map at load.
  NODE_OPTIONS: '--enable-source-maps',
};

export interface BundleFigures {
  bytes: number;
  kb: number;
  /** Biggest packages in the bundle, KB. */
  largest: Record<string, number>;
  /** Packages the bundle imports from outside (the runtime's SDK) at load: part of the load time. */
  external: string[];
  /** Packages it imports from outside with `import()`, at first use: not part of the load time. */
  external_lazy: string[];
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
  const externals = sdkExternals();
  rmSync(BUNDLES_DIR, { recursive: true, force: true });
  // The entry points are the files of lambdas/functions/ that export a handler (not its wiring).
  const names = readdirSync(FUNCTIONS_DIR)
    .filter((file) => /\bexport const handler\b/.test(readFileSync(join(FUNCTIONS_DIR, file), 'utf8')))
    .map((file) => file.replace(/\.ts$/, ''));
  const figures: Record<string, BundleFigures> = {};
  for (const name of names) {
    const dir = join(BUNDLES_DIR, name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'index.mjs');
    const result = await build({
      entryPoints: [join(FUNCTIONS_DIR, `${name}.ts`)],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      mainFields: ['module', 'main'],
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      external: externals,
      banner: { js: BANNER },
      metafile: true,
      logLevel: 'silent',
    });
    const output = result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('.mjs')) ?? ''];
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
    const outside = (kind: string) =>
      [...new Set((output?.imports ?? []).filter((i) => i.external && i.kind === kind && !i.path.startsWith('node:')).map((i) => i.path))].sort();
    const external = outside('import-statement');
    const externalLazy = outside('dynamic-import');
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
      external,
      external_lazy: externalLazy,
      load_ms_median: round(median(times), 1),
      rss_after_load_mb: Math.round(median(rss) / 1024 / 1024),
    };
  }
  return figures;
}
