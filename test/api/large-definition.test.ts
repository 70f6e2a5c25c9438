/**
 * Limits agree with each other: the largest definition the schema allows, written out in full as a
 * generated client sends it, is accepted, stored (within DynamoDB's 400 KB item: the local store,
 * dynalite, enforces it) and run. "Largest" here (README "Limits"): 1,000 tasks, every optional field
 * present, names at their 64-character maximum, a dependency per task, 256-character scripts of
 * incompressible text, two environment variables per task, a 4,096-character description, 50
 * notifications, pretty-printed (≈1.2 MB on the wire, ≈850 KB stored as JSON, ≈210 KB gzipped).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { processDefinition as definitionSchema } from '../../lambdas/domain/models';
import { MAX_DEFINITION_BYTES } from '../../lambdas/engine/definitions';
import { MAX_BODY_BYTES } from '../../lambdas/http/route';
import { type DefinitionBody, encodeDefinition, MAX_STORED_DEFINITION_BYTES } from '../../lambdas/store/definitions';
import { refusalOf } from '../helpers/assert';
import { type JsonObject, processDefinition, shellTask, sundialPerFile } from '../helpers/local';

const { api, finished } = sundialPerFile();

const path = (name: string) => `/api/process_definitions/${name}`;

/** A body as the store receives it: parsed (defaults applied), without `paused`. */
function parsedBody(body: JsonObject): DefinitionBody {
  const { paused: _paused, ...rest } = definitionSchema.parse(body);
  return rest;
}

/** A 64-character task name, unique by index. */
const taskName = (i: number) => `task-${String(i).padStart(4, '0')}-`.padEnd(64, 'x');

/** A script that does nothing, made of `length` characters of random (incompressible) text. */
const noOpScript = (length: number) => `: '${randomBytes(length).toString('base64').slice(0, length - 4)}'`;

/** The largest definition (see the file comment), every field written out, defaults included. */
function largestDefinition(name: string): JsonObject {
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

describe('the largest definition the limits allow', () => {
  it('is accepted written out in full (201), read back equal, and runs', async () => {
    // Prepare
    const name = 'l'.repeat(64);
    const definition = largestDefinition(name);
    const wire = JSON.stringify(definition, null, 2);
    expect(Buffer.byteLength(wire)).toBeGreaterThan(1_000_000);
    expect(Buffer.byteLength(wire)).toBeLessThan(MAX_BODY_BYTES);
    expect(Buffer.byteLength(JSON.stringify(definition))).toBeLessThan(MAX_DEFINITION_BYTES);

    // Act
    const put = await api('PUT', path(name), wire);
    const get = await api('GET', path(name));
    const last = taskName(999);
    const run = await api('POST', `${path(name)}/trigger?task_definition_name=${last}`);
    const ended = run.status === 201 ? await finished(run.json.process_id) : undefined;

    // Assess
    expect(put.status, put.text.slice(0, 300)).toBe(201);
    const { next_run_time: _n, last_run: _l, runs_succeeded: _s, runs_failed: _f, ...stored } = get.json;
    expect(stored).toEqual(definition);
    expect(run.status).toBe(201);
    expect(ended.status).toBe('succeeded');
    expect(ended.task.map((t: JsonObject) => [t.task_definition_name, t.status])).toEqual([[last, 'succeeded']]);
  });

  it('a definition at the compressed storage limit is stored (DynamoDB item under 400 KB); one byte more is a 413', async () => {
    // Prepare: incompressible scripts (random base64 gzips to ~75%) filling the compressed limit exactly, by bisection
    const build = (lastScript: number) =>
      processDefinition('at-the-limit', {
        task_definitions: [
          ...Array.from({ length: 18 }, (_, i) => shellTask(`t${i}`, { executable: { shell_script_command: { script: scripts[i]! } } })),
          shellTask('t18', { executable: { shell_script_command: { script: scripts[18]!.slice(0, lastScript) } } }),
        ],
      });
    // 25,000 characters each: a script must also fit Batch's SubmitJob request (30 KiB) deployed.
    const scripts = Array.from({ length: 19 }, () => noOpScript(25_000));
    // The store compresses the parsed body (defaults applied, the schema's key order): bisect on that.
    const fits = (n: number) => {
      try {
        encodeDefinition(parsedBody(build(n)));
        return true;
      } catch {
        return false;
      }
    };
    let [lo, hi] = [1, 25_000];
    expect(fits(lo)).toBe(true);
    expect(fits(hi)).toBe(false);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid;
    }

    // Act
    const largest = await api('PUT', path('at-the-limit'), build(lo));
    const tooLarge = await api('PUT', path('at-the-limit-plus'), { ...build(hi), process_definition_name: 'at-the-limit-plus' });

    // Assess
    expect(largest.status, largest.text.slice(0, 300)).toBe(201);
    expect(Buffer.byteLength(JSON.stringify(build(lo)))).toBeGreaterThan(400 * 1024); // stored only because compressed
    expect((await api('GET', path('at-the-limit'))).json.task_definitions[18].executable.shell_script_command.script).toHaveLength(lo);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error).toMatchObject({ code: 'payload_too_large', field: 'task_definitions' });
  });

  it('the compressed limit leaves the item under DynamoDB\'s 400 KB with the item\'s other attributes', () => {
    // Prepare: DynamoDB counts attribute names and values (binary: its bytes; string: UTF-8 bytes)
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    const name = 'n'.repeat(64);
    const item: Record<string, string | boolean | number> = {
      pk: 'DEF',
      sk: `DEF#${name}`,
      definition_gz: MAX_STORED_DEFINITION_BYTES,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      paused: false,
    };

    // Act
    const size = Object.entries(item).reduce(
      (sum, [k, v]) => sum + Buffer.byteLength(k) + (typeof v === 'number' ? v : typeof v === 'boolean' ? 1 : Buffer.byteLength(v)),
      0,
    );

    // Assess
    expect(size).toBeLessThan(400 * 1024);
    expect(encodeDefinition(parsedBody(largestDefinition('n'.repeat(64)))).length).toBeLessThan(MAX_STORED_DEFINITION_BYTES);
    const incompressible = processDefinition('x', {
      task_definitions: Array.from({ length: 8 }, (_, i) => shellTask(`t${i}`, { executable: { shell_script_command: { script: noOpScript(65_000) } } })),
    });
    expect(refusalOf(() => encodeDefinition(parsedBody(incompressible))).statusCode).toBe(413);
  });
});
