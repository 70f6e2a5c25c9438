/** Unknown routes and wrong methods, over a real socket. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, test } from 'vitest';
import { sundialPerFile } from '../helpers/local';

const { api } = sundialPerFile();

describe('routing', () => {
  test.each([
    ['GET', '/nothing-here'], // `/` and `/ui/*` are the web console (test/local/console.test.ts)
    ['GET', '/api'],
    ['GET', '/api/nothing-here'],
    ['GET', '/api/process_definitions/a/b/c'],
    ['POST', '/api/tasks/whatever/unknown'],
    ['DELETE', '/_internal_/health'],
  ])('answers 404 JSON for %s %s', async (method, path) => {
    // Act
    const res = await api(method, path);

    // Assess
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toEqual({ error: { code: 'not_found', message: `no route for ${method} ${path}` } });
  });

  test.each([
    ['POST', '/api/process_definitions/some-name', 'GET, PUT, DELETE'],
    ['PATCH', '/api/process_definitions/some-name', 'GET, PUT, DELETE'],
    ['DELETE', '/api/process_definitions', 'GET'],
    ['POST', '/api/processes', 'GET'],
    ['DELETE', `/api/processes/${randomUUID()}`, 'GET'],
    ['PUT', '/api/tasks/', 'GET'],
    ['DELETE', `/api/tasks/${randomUUID()}/log_entries`, 'GET, POST'],
    ['PUT', `/api/tasks/${randomUUID()}/metadata`, 'GET, POST'],
    ['GET', `/api/tasks/${randomUUID()}/succeed`, 'POST'],
  ])('answers 405 JSON for %s %s, naming the allowed methods', async (method, path, allowed) => {
    // Act
    const res = await api(method, path);

    // Assess
    expect(res.status).toBe(405);
    expect(res.json.error.code).toBe('method_not_allowed');
    expect(res.json.error.message).toContain(`use ${allowed}`);
  });

  it('sends the Allow header a 405 must carry (RFC 9110 §15.5.6)', async () => {
    // Act
    const res = await api('POST', '/api/process_definitions/some-name');

    // Assess
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});
