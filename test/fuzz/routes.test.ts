/**
 * Property tests (fast-check) against every route of the local mode, over a real socket: generated and
 * mutated paths, query strings, bodies, content types and tokens. Whatever arrives, the answer is never
 * a 5xx, every refusal is a 4xx in the JSON error shape, and a refused request leaves the table exactly
 * as it was. One server for the file; bounded runs keep it to seconds.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTaskToken } from '../../lambdas/domain/task-token';
import { type SeededTask, type TestSundial, isoAt, logEntry, metadataEntry, processDefinition, seedRun, shellTask, startTestSundial } from '../helpers/local';
import { anyJson, expectWellFormed, mutated, raw, snapshot } from './support';

let sundial: TestSundial;
let task: SeededTask;
let otherTask: SeededTask;

const ROUTES = [
  ['GET', '/api/process_definitions'],
  ['GET', '/api/process_definitions/{name}'],
  ['PUT', '/api/process_definitions/{name}'],
  ['DELETE', '/api/process_definitions/{name}'],
  ['POST', '/api/process_definitions/{name}/pause'],
  ['POST', '/api/process_definitions/{name}/resume'],
  ['POST', '/api/process_definitions/{name}/trigger'],
  ['GET', '/api/processes'],
  ['GET', '/api/processes/{id}'],
  ['POST', '/api/processes/{id}/kill'],
  ['POST', '/api/processes/{id}/retry'],
  ['GET', '/api/tasks'],
  ['POST', '/api/tasks/{id}/log_entries'],
  ['POST', '/api/tasks/{id}/metadata'],
  ['POST', '/api/tasks/{id}/succeed'],
  ['POST', '/api/tasks/{id}/fail'],
  ['POST', '/api/tasks/{id}/progress'],
  ['GET', '/_internal_/metrics'],
] as const;

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
const QUERY_KEYS = ['process_definition_name', 'task_definition_name', 'start_time', 'end_time', 'max_records', 'limit', 'allowed_statuses', 'next'];
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** A path segment: tame, hostile, or encoded garbage. */
const segment = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom('', '.', '..', '%', '%zz', '%00', '%2F', 'a%2Fb', '💥', 'no-such-def', '00000000-0000-0000-0000-000000000000', 'x'.repeat(300)),
  fc.uuid(),
);

/** A query string: known keys with any values, repeated keys, or raw bytes. */
const queryString = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })), fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('0', '-1', '1001', '1e3', 'running', 'failed', '2026-03-01T12:00:00Z', 'eyJ4IjoxfQ', 'bm90IGpzb24', '%', '&&', '=='))), { maxLength: 6 })
    .map((pairs) => new URLSearchParams(pairs).toString()),
  fc.string({ maxLength: 60 }),
);

const contentType = fc.oneof(
  fc.constant('application/json'),
  fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json', '', 'json'),
  fc.string({ maxLength: 20 }),
);

/** A body as bytes on the wire: JSON of anything, broken JSON, or garbage. */
const rawBody = fc.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '[', '{"a":', 'null', '""', '[]', '{}', '\u0000', '\ufeff{}', '{"__proto__":{"x":1}}'),
);

async function expectUnchangedIfRefused(act: () => Promise<{ status: number }>): Promise<{ status: number }> {
  const before = await snapshot(sundial.services);
  const res = await act();
  if (res.status >= 400) expect(await snapshot(sundial.services)).toBe(before);
  return res;
}

beforeAll(async () => {
  sundial = await startTestSundial();
  await sundial.api('PUT', '/api/process_definitions/fuzz-def', processDefinition('fuzz-def', { paused: true }));
  await sundial.api('PUT', '/api/process_definitions/fuzz-run', { process_definition_name: 'fuzz-run', task_definitions: [shellTask('only', { executable: { shell_script_command: { script: 'true' } } })] });
  const run = await seedRun(sundial.services, { process_definition_name: 'fuzz-def', start_time: isoAt(0), tasks: [{ task_definition_name: 'a' }, { task_definition_name: 'b' }] });
  [task, otherTask] = run.tasks as [SeededTask, SeededTask];
});

afterAll(async () => {
  await sundial?.close();
});

describe(`fuzzing every route (seed ${FUZZ_SEED}, FUZZ_SEED to replay)`, () => {
  it('any method, path and query string: no 5xx, refusals in the JSON error shape, nothing written by a refusal', async () => {
    // Prepare
    const before = await snapshot(sundial.services);
    const request = fc.record({
      route: fc.constantFrom(...ROUTES),
      method: fc.oneof(fc.constant(undefined), fc.constantFrom(...METHODS)),
      params: fc.array(segment, { minLength: 2, maxLength: 2 }),
      extra: fc.oneof(fc.constant(''), segment.map((s) => `/${s}`), fc.constant('/'), fc.constant('//')),
      query: queryString,
    });
    let writes = 0;

    // Act
    await fc.assert(
      fc.asyncProperty(request, async ({ route, method, params, extra, query }) => {
        const routeMethod: string = route[0];
        const template: string = route[1];
        const m = method ?? routeMethod;
        let i = 0;
        const path = template.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++] ?? ''));
        const full = `${path}${extra}${query ? `?${query}` : ''}`;
        const res = await raw(sundial.url, m, full);

        // Assess (each answer)
        expectWellFormed(res, m, `${m} ${full}`);
        if (m !== 'GET' && m !== 'HEAD' && res.status < 400) writes++;
      }),
      { numRuns: 1500, seed: FUZZ_SEED },
    );

    // Assess: no name or id the generator made exists, so every write was refused and nothing changed
    expect(writes).toBe(0);
    expect(await snapshot(sundial.services)).toBe(before);
  }, 60_000);

  it('PUT of mutated definitions and raw bodies: accepted or a 4xx that writes nothing', async () => {
    // Prepare
    const valid = processDefinition('fuzz-put', {
      paused: true,
      task_definitions: [shellTask('a'), shellTask('b', { dependencies: [{ task_definition_name: 'a', success_required: false }], max_runtime_seconds: 60 })],
      notifications: [{ email: { name: 'ops', email: 'ops@example.com', notify_when: 'on_failure' } }],
    });
    // The valid body itself is in the mix (a fuzzer's seed corpus): mutations alone may all be refused,
    // and then the accepting side would go untested for that seed.
    const body = fc.oneof(
      { weight: 4, arbitrary: mutated(valid as never).map((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify({ ...v, paused: true }) : JSON.stringify(v))) },
      { weight: 1, arbitrary: fc.constant(JSON.stringify(valid)) },
      { weight: 1, arbitrary: rawBody },
    );
    const outcomes = new Map<number, number>();

    // Act
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('fuzz-put', 'other-name'), contentType, async (b, name, type) => {
        const res = await expectUnchangedIfRefused(() => raw(sundial.url, 'PUT', `/api/process_definitions/${name}`, b, { 'content-type': type }));

        // Assess (each answer)
        expectWellFormed(res as never, 'PUT', `PUT ${name} ${b.slice(0, 200)}`);
        outcomes.set(res.status, (outcomes.get(res.status) ?? 0) + 1);
      }),
      { numRuns: 400, seed: FUZZ_SEED },
    );

    // Assess: the fuzzing reached both sides of validation
    expect([...outcomes.keys()].some((s) => s < 300)).toBe(true);
    expect(outcomes.get(400) ?? 0).toBeGreaterThan(0);
  }, 60_000);

  it('callbacks with mutated entries, forged and other tasks\' tokens: 401 for a bad token, 4xx that writes nothing for a bad body', async () => {
    // Prepare
    const key = await sundial.services.tokenKey();
    const token = fc.oneof(
      { weight: 3, arbitrary: fc.constant(task.token) },
      { weight: 1, arbitrary: fc.constant(otherTask.token) }, // valid, but for task B
      { weight: 1, arbitrary: fc.string({ maxLength: 120 }) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(task.token.length - 1), fc.string({ minLength: 1, maxLength: 1 })).map(([at, c]) => `${task.token.slice(0, at)}${c}${task.token.slice(at + 1)}`) },
      { weight: 1, arbitrary: fc.uuid().map((tid) => signTaskToken(Buffer.from('not-the-key'), { tid, pid: task.process_id })) },
      { weight: 1, arbitrary: fc.constant(signTaskToken(key, { tid: otherTask.task_id, pid: task.process_id })) },
    );
    const route = fc.constantFrom('log_entries', 'metadata', 'succeed', 'fail', 'progress');
    const entries = fc.oneof(
      mutated([logEntry(), logEntry()] as never),
      mutated([metadataEntry()] as never),
      mutated({ percent: 50, message: 'half way' }),
      // numbers JSON carries and DynamoDB cannot store as they are
      fc.constantFrom({ percent: 5e-324 }, { percent: 1e-200 }, { percent: Number.MAX_VALUE }, { percent: 100 - Number.EPSILON * 64 }),
      fc.array(fc.constant(logEntry()), { minLength: 501, maxLength: 502 }),
    );
    let authorized = 0;

    // Act
    await fc.assert(
      fc.asyncProperty(route, token, fc.oneof(entries.map((e) => JSON.stringify(e)), rawBody), fc.constantFrom('Bearer ', 'bearer ', 'Basic ', '', 'Bearer  '), async (r, t, b, scheme) => {
        // /succeed and /fail are only sent with a bad token: a good one would end the seeded attempt's story.
        const goodToken = t === task.token && scheme.trim().toLowerCase() === 'bearer';
        if ((r === 'succeed' || r === 'fail') && goodToken) return;
        const res = await expectUnchangedIfRefused(() =>
          raw(sundial.url, 'POST', `/api/tasks/${task.task_id}/${r}`, b, { 'content-type': 'application/json', authorization: `${scheme}${t}` }),
        );

        // Assess (each answer)
        expectWellFormed(res as never, 'POST', `POST ${r} with ${scheme}${t.slice(0, 40)}`);
        if (!goodToken) expect(res.status).toBe(401);
        else authorized++;
      }),
      { numRuns: 600, seed: FUZZ_SEED },
    );

    // Assess
    expect(authorized).toBeGreaterThan(0);
  }, 60_000);

  it('trigger with mutated bodies and queries: a 4xx never starts a run', async () => {
    // Prepare
    // Runs ever created: a status move keeps the sum of the run counters (one cheap read of the counter shards).
    const runsOf = async () => {
      const c = await sundial.services.store.stats.read();
      return (c.runs_running ?? 0) + (c.runs_succeeded ?? 0) + (c.runs_failed ?? 0);
    };
    const body = fc.oneof(
      fc.constant(undefined),
      mutated({ environment_variables: [{ variable_name: 'A', value: '1' }] } as never).map((v) => JSON.stringify(v)),
      rawBody,
    );
    const query = fc.oneof(fc.constant(''), fc.constantFrom('task_definition_name=only', 'task_definition_name=nope', 'task_definition_name=', 'task_definition_name=only&task_definition_name=only'), queryString);
    let started = 0;

    // Act
    await fc.assert(
      fc.asyncProperty(body, query, async (b, q) => {
        const before = await runsOf();
        // force=true: a trigger while a run is in progress would otherwise be queued (overlap_action wait),
        // and its run would start during a later case. It goes first: a `#` in the fuzzed query starts the
        // URL's fragment, which the server never sees.
        const res = await raw(sundial.url, 'POST', `/api/process_definitions/fuzz-run/trigger?force=true${q ? `&${q}` : ''}`, b, b === undefined ? {} : { 'content-type': 'application/json' });

        // Assess (each answer)
        expectWellFormed(res, 'POST', `trigger ?${q} ${String(b).slice(0, 200)}`);
        expect(await runsOf(), `trigger answered ${res.status}`).toBe(before + (res.status === 201 ? 1 : 0));
        if (res.status === 201) started++;
      }),
      { numRuns: 80, seed: FUZZ_SEED },
    );

    // Assess
    expect(started).toBeGreaterThan(0);
  }, 60_000);
});
