/**
 * `sundial exec -f FILE PROCESS TASK`: one task run on this machine as Sundial runs an attempt, no Sundial
 * running (cli/exec.ts). Real processes: the CLI as an operator runs it, tasks that call back with the
 * variables they are given.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type JsonObject, shellScript, UNTIL_STOPPED } from '../helpers/factories';

const dir = mkdtempSync(join(tmpdir(), 'sundial-exec-'));

/** A task's callback: `node post.mjs ROUTE [BODY]` posts to its own route with its token; exit 9 when refused. */
const POST = join(dir, 'post.mjs');
writeFileSync(
  POST,
  `const [route, body] = process.argv.slice(2);
const res = await fetch(\`\${process.env.SUNDIAL_URL}/api/tasks/\${process.env.SUNDIAL_TASK_ID}/\${route}\`, {
  method: 'POST',
  headers: { authorization: \`Bearer \${process.env.SUNDIAL_TASK_TOKEN}\`, 'content-type': 'application/json' },
  body: body ?? '',
});
if (!res.ok) process.exit(9);
`,
);
const post = (route: string, body?: unknown) => `"${process.execPath}" ${POST} ${route}${body === undefined ? '' : ` '${JSON.stringify(body)}'`}`;
const logEntry = (message: string) => ({ log_entry_id: randomUUID(), when: new Date().toISOString(), source: 'etl', message });

function sundial(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['cli/bin.mjs', ...args], { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Writes `tasks` as the definition `name` (YAML unless `.json`) and runs `exec` of `task`. */
function exec(tasks: JsonObject[], task: string, options: { file?: string; args?: string[]; env?: Record<string, string> } = {}) {
  const file = join(dir, options.file ?? `${randomUUID()}.yaml`);
  const def = { process_definition_name: 'nightly', task_definitions: tasks };
  writeFileSync(file, file.endsWith('.json') ? JSON.stringify(def) : stringify(def));
  return sundial(['exec', '-f', file, 'nightly', task, ...(options.args ?? [])], options.env);
}

describe('sundial exec', () => {
  it('runs the task with the environment an attempt gets; its output streams, its log entries and metadata are printed; exit 0', async () => {
    // Prepare: a task that shows its variables and calls back
    const script = [
      'echo "own=$OWN day=$DAY previous=$SUNDIAL_TASK_PREVIOUS_ATTEMPTS"',
      'echo "process=$SUNDIAL_PROCESS_ID task=$SUNDIAL_TASK_ID url=$SUNDIAL_URL"',
      'echo "to stderr" >&2',
      post('log_entries', [logEntry('rows loaded')]),
      post('metadata', [{ metadata_entry_id: randomUUID(), when: new Date().toISOString(), key: 'rows', value: '3' }]),
    ].join(' && ');
    const task = shellScript('load', script, {
      executable: { shell_script_command: { script, environment_variables: [{ variable_name: 'OWN', value: 'mine' }, { variable_name: 'DAY', value: 'sunday' }] } },
    });
    // Act: JSON this time (YAML elsewhere), --env overriding the task's own DAY
    const ran = await exec([shellScript('extract', 'exit 7'), task], 'load', { file: 'defs.json', args: ['--env', 'DAY=monday'] });
    // Assess
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('own=mine day=monday previous=0\n');
    expect(ran.stdout).toMatch(/^process=[0-9a-f-]{36} task=[0-9a-f-]{36} url=http:\/\/127\.0\.0\.1:\d+$/m);
    expect(ran.stderr).toContain('to stderr\n');
    expect(ran.stdout).toContain('load attempt 1: succeeded\nexit code: 0\nreported: nothing (no /succeed or /fail)\n');
    expect(ran.stdout).toContain('log entries (1):\n  [etl] rows loaded\n');
    expect(ran.stdout).toContain('metadata (1):\n  rows: 3\n');
  });

  it('exit code 3: failed "exited with code 3", exit 1', async () => {
    const ran = await exec([shellScript('extract', 'echo partial; exit 3')], 'extract');
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stdout).toContain('partial\n');
    expect(ran.stdout).toContain('extract attempt 1: failed (exited with code 3)\nexit code: 3\n');
  });

  it('require_explicit_success: exit 0 without /succeed fails, with /succeed succeeds', async () => {
    const tasks = [
      shellScript('silent', 'echo done', { require_explicit_success: true }),
      shellScript('explicit', post('succeed'), { require_explicit_success: true }),
    ];
    const [silent, explicit] = await Promise.all([exec(tasks, 'silent'), exec(tasks, 'explicit')]);
    expect(silent.code, silent.stderr).toBe(1);
    expect(silent.stdout).toContain('silent attempt 1: failed (exited 0 without calling /succeed (require_explicit_success))\n');
    expect(explicit.code, explicit.stderr).toBe(0);
    expect(explicit.stdout).toContain('explicit attempt 1: succeeded\nexit code: 0\nreported: /succeed\n');
  });

  it('/fail fails an attempt that exits 0; exit 1', async () => {
    const ran = await exec([shellScript('giveup', post('fail'))], 'giveup');
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stdout).toContain('giveup attempt 1: failed (the task called /fail)\nexit code: 0\nreported: /fail\n');
  });

  it('max_runtime_seconds: the task is stopped and fails "exceeded max_runtime_seconds (5 s)"', async () => {
    // 5 s, not 1: the limit counts from the spawn's request, and with three test files side by side at load 15
    // the shell had not yet printed its first line 1 s after it (the line is what shows output streamed first).
    const ran = await exec([shellScript('stuck', `echo started; ${UNTIL_STOPPED}`, { max_runtime_seconds: 5 })], 'stuck');
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stdout).toContain('started\n');
    expect(ran.stdout).toContain('stuck attempt 1: failed (exceeded max_runtime_seconds (5 s))\nexit code: 143\n');
  });

  it('a callback the routes refuse is told on stderr, as the API words it', async () => {
    const ran = await exec([shellScript('sloppy', `${post('log_entries', [{ source: 'etl', message: 'no id' }])} || echo "refused $?"`)], 'sloppy');
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('refused 9\n');
    expect(ran.stderr).toMatch(/callback refused: 400 POST \/api\/tasks\/[0-9a-f-]{36}\/log_entries: .*log_entry_id/);
    expect(ran.stdout).toContain('log entries (0):\n');
  });

  it('an unknown process or task: exit 2, naming it and the known names', async () => {
    const tasks = [shellScript('extract', 'true'), shellScript('load', 'true')];
    const task = await exec(tasks, 'transform');
    expect(task.code).toBe(2);
    expect(task.stderr).toContain('process definition "nightly" has no task "transform"; its tasks: extract, load');
    const file = join(dir, 'one.yaml');
    writeFileSync(file, stringify({ process_definition_name: 'nightly', task_definitions: tasks }));
    const proc = await sundial(['exec', '-f', file, 'weekly', 'extract']);
    expect(proc.code).toBe(2);
    expect(proc.stderr).toContain(`${file} has no process definition "weekly"; it has: nightly`);
  });

  it('an invalid definition: exit 2, every problem named by its field as the API names it', async () => {
    // Past the schema: every problem at once
    const dag = await exec([shellScript('extract', 'true', { dependencies: [{ task_definition_name: 'extract' }] }), shellScript('load', 'true', { dependencies: [{ task_definition_name: 'nope' }] })], 'load');
    expect(dag.code).toBe(2);
    expect(dag.stderr).toMatch(/process definition "nightly" in \S+ is invalid \(the API would answer 400\):\n/);
    expect(dag.stderr).toMatch(/^ {2}task_definitions\.0\.dependencies\.0\.task_definition_name: .*extract.* \[\w+\]$/m);
    expect(dag.stderr).toMatch(/^ {2}task_definitions\.1\.dependencies\.0\.task_definition_name: task "load" depends on unknown task "nope" \[unknown_dependency\]$/m);
    expect(dag.stdout).toBe('');
    // The schema: its messages name their field
    const schema = await exec([shellScript('extract', 'true', { max_attempts: 0 })], 'extract');
    expect(schema.code).toBe(2);
    expect(schema.stderr).toMatch(/^ {2}task_definitions\.0\.max_attempts must be at least 1 \[invalid_field\]$/m);
  });

  it('an image task when no Docker engine answers: a clear message, exit 1', async () => {
    // A `docker` that answers nothing, whatever this machine has
    const bin = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'docker'), 0o755);
    const image = { task_definition_name: 'boxed', dependencies: [], executable: { docker_image_command: { image: 'alpine', command: ['true'] } }, max_attempts: 1, backoff_base_seconds: 0, require_explicit_success: false };
    const ran = await exec([image], 'boxed', { env: { PATH: bin } });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('no Docker engine answers on this machine: cannot run image alpine:latest');
  });

  it("gives the definition's parameters as a manual trigger resolves them (--env gives declared ones) and SUNDIAL_SCHEDULED_TIME", async () => {
    // Prepare
    const file = join(dir, 'parameters.json');
    writeFileSync(file, JSON.stringify({
      process_definition_name: 'nightly',
      parameters: [{ name: 'REGION', kind: 'required' }, { name: 'DAY', kind: 'optional', default: 'today' }],
      task_definitions: [shellScript('print', 'echo "REGION=$REGION DAY=$DAY at=$SUNDIAL_SCHEDULED_TIME"')],
    }));
    // Act
    const missing = await sundial(['exec', '-f', file, 'nightly', 'print']);
    const ran = await sundial(['exec', '-f', file, 'nightly', 'print', '--env', 'REGION=eu']);
    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^ {2}parameters\.REGION is required: a manual trigger must give it \[missing_parameter\]$/m);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^REGION=eu DAY=today at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
  });
});
