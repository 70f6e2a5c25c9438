/**
 * Limits agree with each other (README "Limits"): the largest definition the schema allows, written out
 * in full as a generated client sends it (test/helpers/large-definition.ts: 10,000 tasks, every optional
 * field given, names at their 64-character maximum, incompressible scripts and ids), is too large for
 * Lambda as text and travels gzip-compressed; it is accepted, stored in parts (DynamoDB's 400 KB item:
 * the local store, dynalite, enforces it) and answered whole, compressed. A 1,000-task definition written
 * out in full still travels as plain, pretty-printed JSON, and runs.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LAMBDA_SYNC_REQUEST_MAX_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { processDefinition as definitionSchema, type Notification } from '../../lambdas/domain/models';
import { maskNotifications } from '../../lambdas/domain/notification-secrets';
import { MAX_DEFINITION_BYTES } from '../../lambdas/engine/definitions';
import { MAX_BODY_BYTES, MAX_COMPRESSED_BODY_BYTES, MAX_DECOMPRESSED_BODY_BYTES } from '../../lambdas/http/route';
import { DEFINITION_ITEM_BYTES, type DefinitionBody, encodeDefinition, MAX_DEFINITION_GZIP_BYTES } from '../../lambdas/store/definitions';
import { refusalOf } from '../helpers/assert';
import { fullFieldDefinition } from '../helpers/large-definition';
import { type JsonObject, processDefinition, shellTask, sundialPerFile } from '../helpers/local';

const { api, finished } = sundialPerFile();

const path = (name: string) => `/api/process_definitions/${name}`;
const GZIP = { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' };
const READ_ONLY = ['next_run_time', 'last_run', 'runs_succeeded', 'runs_failed'];

/** A body as the store receives it: parsed (defaults applied), without `paused`. */
function parsedBody(body: JsonObject): DefinitionBody {
  const { paused: _paused, ...rest } = definitionSchema.parse(body);
  return rest;
}

/** A definition as a GET answers it: its secrets masked. */
function asAnswered(definition: JsonObject): JsonObject {
  return { ...definition, notifications: maskNotifications(definition.notifications as unknown as Notification[]) as unknown as JsonObject[] };
}

/** A GET answer without the read-only facts beside the definition. */
function definitionOf(answer: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(answer).filter(([k]) => !READ_ONLY.includes(k)));
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

describe('10,000 tasks, every field, as a generated client sends them', () => {
  const name = 'g'.repeat(64);
  const definition = fullFieldDefinition(name);
  const compact = JSON.stringify(definition);
  const compressed = gzipSync(compact);

  it('is too large for Lambda as text and within every limit gzip-compressed (sizes measured)', () => {
    // Act
    const sizes = {
      compact: Buffer.byteLength(compact),
      pretty: Buffer.byteLength(JSON.stringify(definition, null, 2)),
      inTheEventAsText: Buffer.byteLength(JSON.stringify(compact)),
      gzip: compressed.length,
      inTheEventGzipped: Buffer.byteLength(compressed.toString('base64')),
      stored: encodeDefinition(parsedBody(definition)).gz.length,
    };
    console.log(`the full-field 10,000-task definition: ${JSON.stringify(sizes)}`);

    // Assess
    expect(sizes.inTheEventAsText).toBeGreaterThan(LAMBDA_SYNC_REQUEST_MAX_BYTES);
    expect(sizes.compact).toBeGreaterThan(MAX_BODY_BYTES);
    expect(sizes.compact).toBeLessThan(MAX_DEFINITION_BYTES);
    expect(sizes.pretty).toBeLessThan(MAX_DECOMPRESSED_BODY_BYTES);
    expect(sizes.gzip).toBeLessThan(MAX_COMPRESSED_BODY_BYTES);
    expect(sizes.inTheEventGzipped).toBeLessThan(LAMBDA_SYNC_REQUEST_MAX_BYTES - 64 * 1024);
    expect(sizes.stored).toBeGreaterThan(DEFINITION_ITEM_BYTES);
    expect(sizes.stored).toBeLessThan(MAX_DEFINITION_GZIP_BYTES);
  });

  it('is accepted gzip-compressed (201), answered whole by GET (compressed: it passes 6 MB as JSON), and listed without its tasks', async () => {
    // Act
    let started = performance.now();
    const put = await api('PUT', path(name), compressed, GZIP);
    const putSeconds = seconds(started);
    started = performance.now();
    const get = await api('GET', path(name));
    const getSeconds = seconds(started);
    const list = await api('GET', '/api/process_definitions');
    const uncompressed = await api('GET', path(name), undefined, { 'accept-encoding': 'identity' });
    console.log(`10,000-task definition over HTTP: PUT ${putSeconds} s (${compressed.length} bytes gzipped), GET ${getSeconds} s (${get.text.length} characters)`);

    // Assess
    expect(put.status, put.text.slice(0, 300)).toBe(201);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-encoding')).toBe('gzip');
    expect(Buffer.byteLength(get.text)).toBeGreaterThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    expect(definitionOf(get.json)).toEqual(asAnswered(definition));
    expect(definitionOf(put.json)).toEqual(asAnswered(definition));
    const listed = (list.json as JsonObject[]).find((d) => d.process_definition_name === name)!;
    expect(listed.task_definitions).toBeUndefined();
    expect(listed.task_definitions_omitted).toBe(10_000);
    expect(listed.schedule).toEqual(definition.schedule);
    expect(uncompressed.status).toBe(406);
    expect(uncompressed.json.error).toMatchObject({ code: 'response_too_large', field: 'accept-encoding' });
    expect(uncompressed.json.error.message).toContain(String(LAMBDA_SYNC_RESPONSE_MAX_BYTES));
  });

  it('is refused as text: API Gateway answers 413 before the function, the event passing Lambda\'s 6 MB', async () => {
    // Act
    const res = await api('PUT', path(name), compact);

    // Assess
    expect(res.status).toBe(413);
    expect(res.text).toBe('{"message": "Request Too Long"}');
  });
});

/** A 64-character task name, unique by index. */
const taskName = (i: number) => `task-${String(i).padStart(4, '0')}-`.padEnd(64, 'x');

/** A script that does nothing, made of `length` characters of random (incompressible) text. */
const noOpScript = (length: number) => `: '${randomBytes(length).toString('base64').slice(0, length - 4)}'`;

/** 1,000 tasks, every field written out, defaults included, a dependency each (the largest before issue 18). */
function thousandTasks(name: string): JsonObject {
  return {
    process_definition_name: name,
    paused: true,
    process_description: 'd'.repeat(4096),
    schedule: { cron_schedule: { minutes: '0', hours: '3', day_of_month: '1', month: 'JAN', day_of_week: '?', time_zone: 'Europe/Amsterdam' } },
    overlap_action: 'wait',
    notifications: Array.from({ length: 50 }, (_, i) => ({ email: { name: `operator ${i}`, email: `operator-${i}@example.com`, notify_when: 'on_state_change_and_failures' } })),
    task_definitions: Array.from({ length: 1000 }, (_, i) => ({
      task_definition_name: taskName(i),
      dependencies: i === 0 ? [] : [{ task_definition_name: taskName(i - 1), success_required: true }],
      executable: {
        shell_script_command: {
          script: noOpScript(256),
          environment_variables: [
            { variable_name: 'SUNDIAL_EXAMPLE_SETTING', value: 'v'.repeat(64) },
            { variable_name: 'B', value: 'b' },
          ],
        },
      },
      max_attempts: 3,
      max_runtime_seconds: 3600,
      backoff_base_seconds: 30,
      backoff_exponent: 2.5,
      require_explicit_success: false,
    })),
  };
}

describe('1,000 tasks written out in full, pretty-printed', () => {
  it('travel as plain JSON (201), are read back equal, and run', async () => {
    // Prepare
    const name = 'l'.repeat(64);
    const definition = thousandTasks(name);
    const wire = JSON.stringify(definition, null, 2);
    expect(Buffer.byteLength(wire)).toBeGreaterThan(1_000_000);
    expect(Buffer.byteLength(wire)).toBeLessThan(MAX_BODY_BYTES);

    // Act
    const put = await api('PUT', path(name), wire);
    const get = await api('GET', path(name));
    const last = taskName(999);
    const run = await api('POST', `${path(name)}/trigger?task_definition_name=${last}`);
    const ended = run.status === 201 ? await finished(run.json.process_id) : undefined;

    // Assess
    expect(put.status, put.text.slice(0, 300)).toBe(201);
    expect(definitionOf(get.json)).toEqual(definition);
    expect(run.status).toBe(201);
    expect(ended.status).toBe('succeeded');
    expect(ended.task.map((t: JsonObject) => [t.task_definition_name, t.status])).toEqual([[last, 'succeeded']]);
  });
});

describe(`the compressed size limit (${MAX_DEFINITION_GZIP_BYTES} bytes)`, () => {
  // Incompressible scripts (random base64 gzips to ~75%): 265 of 20,000 characters are ~6 KB under the
  // limit gzipped, and a last one of up to 25,000 (a script must also fit Batch's SubmitJob request, 30 KiB,
  // deployed) takes it past.
  const scripts = Array.from({ length: 265 }, () => noOpScript(20_000));
  const lastScript = noOpScript(25_000);
  const build = (name: string, lastLength: number) =>
    processDefinition(name, {
      task_definitions: [
        ...scripts.map((script, i) => shellTask(`t${i}`, { executable: { shell_script_command: { script } } })),
        shellTask('last', { executable: { shell_script_command: { script: lastScript.slice(0, lastLength) } } }),
      ],
    });

  it('stores a definition at the limit; one byte more is a 413 naming it', async () => {
    // Prepare: the store compresses the parsed body (defaults applied, the schema's key order): bisect on
    // that, yielding between steps (the client's pooled sockets see the server close them meanwhile)
    const fits = async (n: number) => {
      await new Promise((resolve) => setImmediate(resolve));
      try {
        encodeDefinition(parsedBody(build('at-the-limit', n)));
        return true;
      } catch {
        return false;
      }
    };
    let [lo, hi] = [1, 25_000];
    expect(await fits(lo)).toBe(true);
    expect(await fits(hi)).toBe(false);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await fits(mid)) lo = mid;
      else hi = mid;
    }

    // Act: the same name (gzip's size moves with every byte of the body), the second PUT refused
    const largest = await api('PUT', path('at-the-limit'), gzipSync(JSON.stringify(build('at-the-limit', lo))), GZIP);
    const tooLarge = await api('PUT', path('at-the-limit'), gzipSync(JSON.stringify(build('at-the-limit', hi))), GZIP);
    const read = await api('GET', path('at-the-limit'));

    // Assess
    expect(largest.status, largest.text.slice(0, 300)).toBe(201);
    expect(read.json.task_definitions.at(-1).executable.shell_script_command.script).toHaveLength(lo);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error).toMatchObject({ code: 'payload_too_large', field: 'task_definitions' });
    expect(tooLarge.json.error.message).toContain(String(MAX_DEFINITION_GZIP_BYTES));
  });

  it("leaves each item under DynamoDB's 400 KB with the item's other attributes", () => {
    // Prepare: DynamoDB counts attribute names and values (binary: its bytes; string: UTF-8 bytes)
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    const name = 'n'.repeat(64);
    const now = new Date().toISOString();
    const version = `${now}~${'f'.repeat(12)}`;
    const items: Array<Record<string, string | boolean | number>> = [
      // A definition in one item.
      { pk: 'DEF', sk: `DEF#${name}`, definition_gz: DEFINITION_ITEM_BYTES, created_at: now, updated_at: now, paused: false },
      // The item of a definition in parts (numbers count as up to 21 bytes).
      { pk: 'DEF', sk: `DEF#${name}`, summary_gz: DEFINITION_ITEM_BYTES, parts_version: version, parts: '9'.repeat(21), task_count: '9'.repeat(21), created_at: now, updated_at: now, paused: false },
      // A part.
      { pk: `DEFPART#${name}`, sk: `${version}#0000`, gz: DEFINITION_ITEM_BYTES },
    ];

    // Act
    const sizes = items.map((item) =>
      Object.entries(item).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + (typeof v === 'number' ? v : typeof v === 'boolean' ? 1 : Buffer.byteLength(v)), 0),
    );

    // Assess
    for (const size of sizes) expect(size).toBeLessThan(400 * 1024);
    expect(refusalOf(() => encodeDefinition(parsedBody(build('x', 25_000)))).statusCode).toBe(413);
  });
});
