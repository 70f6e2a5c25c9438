/**
 * Builds the web console into static files: `index.html`, `app.js` (web/app.ts and dagre, bundled by
 * esbuild), `style.css` and `config.js` (the API's URL; empty = the same origin). The local mode serves
 * the same bundle from memory (local/console.ts); `npm run build:console [outdir]` writes the files
 * for S3 + CloudFront.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface ConsoleFiles {
  'index.html': string;
  'app.js': string;
  'style.css': string;
}

/** The console's files (esbuild is a devDependency: the local mode needs `npm ci` with dev dependencies). */
export async function buildConsole(): Promise<ConsoleFiles> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [join(here, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
  });
  return {
    'index.html': readFileSync(join(here, 'index.html'), 'utf8'),
    'app.js': out.outputFiles[0]?.text ?? '',
    'style.css': readFileSync(join(here, 'style.css'), 'utf8'),
  };
}

/** `config.js`: where the console finds the API. */
export const consoleConfig = (apiUrl = '') => `window.SUNDIAL_API = ${JSON.stringify(apiUrl)};\n`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? 'dist/console');
  const files = await buildConsole();
  mkdirSync(join(outDir, 'ui'), { recursive: true });
  writeFileSync(join(outDir, 'index.html'), files['index.html']);
  writeFileSync(join(outDir, 'ui', 'app.js'), files['app.js']);
  writeFileSync(join(outDir, 'ui', 'style.css'), files['style.css']);
  writeFileSync(join(outDir, 'ui', 'config.js'), consoleConfig(process.env.SUNDIAL_API_URL ?? ''));
  console.log(`console written to ${outDir}`);
}
