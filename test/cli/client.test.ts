/**
 * The CLI's client signs requests with SigV4 (execute-api) from the standard credential chain, and sends a
 * body too large for the API as text gzip-compressed.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { COMPRESS_BODIES_OVER, regionOf, SundialClient } from '../../cli/client';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('SundialClient', () => {
  it('signs with SigV4 for execute-api when asked, with credentials from the environment', async () => {
    // Prepare
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    let seen: IncomingHttpHeaders = {};
    const server = createServer((req, res) => {
      seen = req.headers;
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = new SundialClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sign: true, region: 'eu-west-1' });
    // Act
    const res = await client.request('GET', '/api/processes', { query: { allowed_statuses: ['failed', 'running'] } });
    server.close();
    // Assess
    expect(res.body).toEqual([]);
    expect(seen.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    expect(seen['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it(`sends a body of more than ${COMPRESS_BODIES_OVER} bytes as JSON gzip-compressed, and a smaller one as JSON`, async () => {
    // Prepare
    const seen: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = new SundialClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const large = { padding: 'x'.repeat(COMPRESS_BODIES_OVER) };

    // Act
    await client.request('PUT', '/api/process_definitions/large', { body: large });
    await client.request('PUT', '/api/process_definitions/small', { body: { a: 1 } });
    server.close();

    // Assess
    expect(seen[0]?.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' });
    expect(JSON.parse(gunzipSync(seen[0]!.body).toString('utf8'))).toEqual(large);
    expect(seen[1]?.headers['content-encoding']).toBeUndefined();
    expect(seen[1]?.headers['content-type']).toBe('application/json');
    expect(seen[1]?.body.toString('utf8')).toBe('{"a":1}');
  });

  it('does not sign loopback URLs by default and reads the region from an execute-api host', () => {
    expect(regionOf(new URL('https://abc123.execute-api.eu-central-1.amazonaws.com'))).toBe('eu-central-1');
    expect(new SundialClient({ url: 'http://127.0.0.1:8080/' }).url).toBe('http://127.0.0.1:8080');
  });
});
