/** The `sundial` CLI when no Sundial answers on its URL: it names the URL, why, and how to change it. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

function sundial(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { SUNDIAL_URL: _, ...inherited } = process.env;
    execFile(process.execPath, ['cli/bin.mjs', ...args], { timeout: 30_000, env: { ...inherited, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The first of ports 20000, 20001, … below the kernel's ephemeral range that refuses a connection now. */
async function refusingPort(): Promise<number> {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let port = 20_000; port < ephemeralLow; port++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error(`no port from 20000 to ${ephemeralLow} refuses connections`);
}

const silent: Server[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(silent.map(close));
});

describe('sundial CLI, Sundial unreachable', () => {
  it('a port with nothing listening: names the URL, "connection refused", npm start, --url and SUNDIAL_URL; exit 4, no stack', async () => {
    // Prepare: a port nothing listens on, below the range the kernel picks port 0 from, so that no other test
    // file's server (they all listen on port 0) takes it while this test runs
    const port = await refusingPort();
    // Act
    const viaFlag = await sundial(['--url', `http://127.0.0.1:${port}`, 'list']);
    const viaEnv = await sundial(['runs', 'x'], { SUNDIAL_URL: `http://127.0.0.1:${port}` });
    // Assess
    expect(viaFlag.code).toBe(4);
    expect(viaFlag.stdout).toBe('');
    expect(viaFlag.stderr).toBe(
      `sundial: cannot reach Sundial at http://127.0.0.1:${port} (connection refused, from --url). Start it with "npm start", or pass --url / set SUNDIAL_URL\n`,
    );
    expect(viaEnv.code).toBe(4);
    expect(viaEnv.stderr).toContain(`cannot reach Sundial at http://127.0.0.1:${port} (connection refused, from SUNDIAL_URL)`);
  });

  it('a host name that does not resolve (RFC 6761 .invalid): says so, exit 4', async () => {
    const res = await sundial(['--no-sign', '--url', 'http://sundial.invalid:8080', 'list']);
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/^sundial: cannot reach Sundial at http:\/\/sundial\.invalid:8080 \((host not found|host name lookup failed), from --url\)\. Check the URL: pass --url \/ set SUNDIAL_URL\n$/);
  });

  it('a server that accepts and never answers: gives up after --timeout, exit 4', async () => {
    // Prepare
    const server = createServer((socket) => void sockets.push(socket));
    silent.push(server);
    const port = await listen(server);
    // Act
    const res = await sundial(['--timeout', '0.5', '--url', `http://127.0.0.1:${port}`, 'list']);
    // Assess
    expect(res.code).toBe(4);
    expect(res.stderr).toContain(`cannot reach Sundial at http://127.0.0.1:${port} (no answer within 0.5 s, from --url)`);
  });
});
