/**
 * Serves the web console in local mode: `/` (index.html) and `/ui/*` (the bundle, built once on first
 * request with esbuild, see web/build.ts). Every other path goes to the API handler, so unknown `/api`
 * paths keep their 404/405 answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildConsole, type ConsoleFiles, consoleConfig } from '../web/build';

type Listener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'config.js': 'text/javascript; charset=utf-8',
};

/** Wraps the API's listener with the console's routes. */
export function withConsole(api: Listener, log: (line: string) => void): Listener {
  let built: Promise<ConsoleFiles> | undefined;
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = path === '/' || path === '/index.html' ? 'index.html' : path.startsWith('/ui/') ? path.slice(4) : undefined;
    if (file === undefined) return api(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
      return;
    }
    try {
      let body: string | undefined;
      if (file === 'config.js') body = consoleConfig('');
      else if (file in TYPES) {
        built ??= buildConsole();
        body = (await built)[file as keyof ConsoleFiles];
      }
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      } else {
        res.writeHead(200, { 'content-type': TYPES[file] ?? 'text/plain', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      }
    } catch (err) {
      built = undefined;
      log(`error building the console: ${(err as Error).message}`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end('the console could not be built (is esbuild installed? npm ci installs it)');
    }
  };
}
