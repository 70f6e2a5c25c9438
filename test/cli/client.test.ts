/** The CLI's client signs requests with SigV4 (execute-api) from the standard credential chain. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { regionOf, SundialClient } from '../../cli/client';

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

  it('does not sign loopback URLs by default and reads the region from an execute-api host', () => {
    expect(regionOf(new URL('https://abc123.execute-api.eu-central-1.amazonaws.com'))).toBe('eu-central-1');
    expect(new SundialClient({ url: 'http://127.0.0.1:8080/' }).url).toBe('http://127.0.0.1:8080');
  });
});
