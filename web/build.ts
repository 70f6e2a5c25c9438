/**
 * Builds the web console into static files: `index.html`, `app.js` (web/app.ts and its modules, dagre and
 * the SigV4 signer, bundled by esbuild: ~91 KB minified, ~32 KB gzipped, dagre ~48 KB of it; kept under
 * 120 KB by test/lib/console.test.ts, so no drawing library beyond dagre), `style.css` and `config.js` (the
 * API's URL and, deployed, the Cognito ids; empty = the same origin, no sign-in). The local mode serves the
 * same bundle from memory (local/console.ts); `npm run build:console [outdir]` writes the files;
 * lib/console.ts builds them at synth time (`writeConsoleSync`) for S3 + CloudFront.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

export interface ConsoleFiles {
  'index.html': string;
  'app.js': string;
  'style.css': string;
}

/** Where a deployed console signs in (lib/console.ts writes it into `config.js`). */
export interface ConsoleAuthConfig {
  readonly region: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly identityPoolId: string;
}

const ESBUILD_OPTIONS: BuildOptions = {
  entryPoints: [join(here, 'app.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
};

const staticFiles = () => ({
  'index.html': readFileSync(join(here, 'index.html'), 'utf8'),
  'style.css': readFileSync(join(here, 'style.css'), 'utf8'),
});

/** The console's files (esbuild is a devDependency: the local mode needs `npm ci` with dev dependencies). */
export async function buildConsole(): Promise<ConsoleFiles> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build(ESBUILD_OPTIONS);
  return { ...staticFiles(), 'app.js': out.outputFiles?.[0]?.text ?? '' };
}

/**
 * Writes `index.html`, `ui/app.js` and `ui/style.css` to `outDir` synchronously (a CDK local bundler
 * must be synchronous), and `ui/config.js` unless `config` is `false` (the deployment writes its own).
 */
export function writeConsoleSync(outDir: string, config: string | false = consoleConfig('')): void {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const out = esbuild.buildSync(ESBUILD_OPTIONS);
  const files = { ...staticFiles(), 'app.js': out.outputFiles?.[0]?.text ?? '' };
  mkdirSync(join(outDir, 'ui'), { recursive: true });
  writeFileSync(join(outDir, 'index.html'), files['index.html']);
  writeFileSync(join(outDir, 'ui', 'app.js'), files['app.js']);
  writeFileSync(join(outDir, 'ui', 'style.css'), files['style.css']);
  if (config !== false) writeFileSync(join(outDir, 'ui', 'config.js'), config);
}

/**
 * `config.js`: where the console finds the API (`window.SUNDIAL_API`) and, when given, how it signs in
 * (`window.SUNDIAL_AUTH`: with it every API call is SigV4-signed with Cognito identity pool credentials).
 */
export const consoleConfig = (apiUrl = '', auth?: ConsoleAuthConfig) =>
  `window.SUNDIAL_API = ${JSON.stringify(apiUrl)};\n` + (auth ? `window.SUNDIAL_AUTH = ${JSON.stringify(auth)};\n` : '');

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? 'dist/console');
  writeConsoleSync(outDir, consoleConfig(process.env.SUNDIAL_API_URL ?? ''));
  console.log(`console written to ${outDir}`);
}
