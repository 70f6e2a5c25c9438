/**
 * The OpenAPI document (`GET /api/openapi.json`) describes every route of both route tables, and the
 * real responses of the local mode validate against the schemas it gives for them.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorRoutes } from '../../lambdas/api/routes';
import { RESPONSES, routeKey } from '../../lambdas/api/openapi';
import { callbackRoutes } from '../../lambdas/callbacks/routes';
import { type ApiResponse, bearer, mintTaskToken, shellTask, startTestSundial, type TestSundial } from '../helpers/local';

let t: TestSundial;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

beforeAll(async () => {
  t = await startTestSundial();
  doc = (await t.api('GET', '/api/openapi.json')).json;
});
afterAll(async () => {
  await t.close();
});

/** Asserts that `res` is one of the responses the document declares for `method path`, and valid. */
function conforms(method: string, path: string, res: ApiResponse): void {
  const operation = doc.paths[path]?.[method.toLowerCase()];
  expect(operation, `${method} ${path} is in the document`).toBeDefined();
  const declared = operation.responses[String(res.status)];
  expect(declared, `${method} ${path} declares ${res.status} (${res.text})`).toBeDefined();
  const schema = declared.content?.['application/json']?.schema;
  if (!schema) return;
  const validate = ajv.compile(schema);
  expect(validate(res.json), `${method} ${path} ${res.status}: ${JSON.stringify(validate.errors)}\n${res.text.slice(0, 500)}`).toBe(true);
}

async function call(method: string, template: string, params: Record<string, string> = {}, body?: unknown, headers?: Record<string, string>, query = '') {
  const path = template.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(params[k] ?? ''));
  const res = await t.api(method, path + query, body, headers);
  conforms(method, template, res);
  return res;
}


describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and covers every route with its responses', () => {
    // Prepare
    const routes = [...operatorRoutes(t.services), ...callbackRoutes(t.services)];
    // Assess
    expect(doc.openapi).toBe('3.1.0');
    for (const route of routes) {
      expect(RESPONSES[routeKey(route)], routeKey(route)).toBeDefined();
      expect(doc.paths[route.path]?.[route.method.toLowerCase()], routeKey(route)).toBeDefined();
    }
    expect(Object.values(doc.paths).flatMap((p: any) => Object.keys(p))).toHaveLength(routes.length);
    // every schema compiles
    for (const operation of Object.values(doc.paths).flatMap((p: any) => Object.values(p)) as any[]) {
      for (const r of Object.values(operation.responses) as any[]) {
        const schema = r.content?.['application/json']?.schema;
        if (schema) expect(() => ajv.compile(schema)).not.toThrow();
      }
    }
  });

  it('describes the real responses of the local mode', async () => {
    // Prepare
    const name = 'openapi-check';
    const definition = {
      process_definition_name: name,
      process_description: 'checked against the OpenAPI document',
      schedule: { cron_schedule: { minutes: '0', hours: '3', day_of_month: '?', month: '*', day_of_week: 'MON-FRI' } },
      task_definitions: [
        shellTask('a', { executable: { shell_script_command: { script: 'echo out; echo err >&2' } } }),
        shellTask('b', { dependencies: [{ task_definition_name: 'a' }], executable: { shell_script_command: { script: 'exit 3' } } }),
      ],
      notifications: [{ email: { name: 'ops', email: 'ops@example.com' } }],
    };
    const defPath = '/api/process_definitions/{process_definition_name}';
    // Act + Assess: each route's success answer, and some errors
    expect((await call('PUT', defPath, { process_definition_name: name }, definition)).status).toBe(201);
    expect((await call('PUT', defPath, { process_definition_name: name }, definition)).status).toBe(200);
    await call('GET', '/api/process_definitions');
    await call('GET', defPath, { process_definition_name: name });
    await call('POST', `${defPath}/pause`, { process_definition_name: name });
    await call('POST', `${defPath}/resume`, { process_definition_name: name });
    const created = (await call('POST', `${defPath}/trigger`, { process_definition_name: name })).json;
    const run = await t.finished(created.process_id);
    expect(run.status).toBe('failed');
    await call('GET', '/api/processes/{process_id}', { process_id: run.process_id });
    await call('GET', '/api/processes', {}, undefined, undefined, `?process_definition_name=${name}&allowed_statuses=failed`);
    await call('GET', '/api/tasks', {}, undefined, undefined, `?process_definition_name=${name}`);
    const a = run.task.find((x: any) => x.task_definition_name === 'a');
    const output = await call('GET', '/api/tasks/{task_id}/output', { task_id: a.task_id });
    // stdout and stderr are two pipes: their relative order is not guaranteed
    expect(output.json.lines.map((l: any) => `${l.stream}:${l.message}`).sort()).toEqual(['stderr:err', 'stdout:out']);
    expect((await call('POST', '/api/processes/{process_id}/retry', { process_id: run.process_id })).status).toBe(201);
    await t.finished(run.process_id);
    const long = (await call('POST', `${defPath}/trigger`, { process_definition_name: name })).json;
    expect((await call('POST', '/api/processes/{process_id}/kill', { process_id: long.process_id })).status).toBe(201);
    // Monday 2026-11-02 03:00 UTC: one occurrence, backfilled once the killed run is no longer in the way
    const backfill = (await call('POST', `${defPath}/backfill`, { process_definition_name: name }, { start_time: '2026-11-02T00:00:00Z', end_time: '2026-11-02T23:59:59Z' })).json;
    expect(backfill.occurrences).toHaveLength(1);
    await t.finished(backfill.occurrences[0].process_id);
    await call('GET', '/api/openapi.json');
    const token = await mintTaskToken(t.services, a.task_id, run.process_id);
    const when = new Date().toISOString();
    await call('POST', '/api/tasks/{task_id}/log_entries', { task_id: a.task_id }, [{ log_entry_id: crypto.randomUUID(), when, source: 'x', message: 'm' }], bearer(token));
    await call('POST', '/api/tasks/{task_id}/metadata', { task_id: a.task_id }, [{ metadata_entry_id: crypto.randomUUID(), when, key: 'k', value: 'v' }], bearer(token));
    expect((await call('POST', '/api/tasks/{task_id}/progress', { task_id: a.task_id }, { percent: 99.5, message: 'm' }, bearer(token))).json.applied).toBe(true);
    expect((await call('POST', '/api/tasks/{task_id}/progress', { task_id: a.task_id }, { percent: 101 }, bearer(token))).status).toBe(400);
    await call('GET', '/api/processes/{process_id}', { process_id: run.process_id });
    await call('GET', '/api/tasks', {}, undefined, undefined, `?process_definition_name=${name}`);
    expect((await call('POST', '/api/tasks/{task_id}/succeed', { task_id: a.task_id }, undefined, bearer(token))).status).toBe(409);
    expect((await call('GET', defPath, { process_definition_name: 'missing' })).status).toBe(404);
    expect((await call('GET', '/api/processes/{process_id}', { process_id: 'not-a-uuid' })).status).toBe(400);
    expect((await call('GET', '/api/tasks/{task_id}/output', { task_id: crypto.randomUUID() })).status).toBe(404);
    expect((await call('DELETE', defPath, { process_definition_name: name })).status).toBe(204);
  });
});
