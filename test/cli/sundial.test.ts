/** The `sundial` CLI (cli/bin.mjs, the npm bin) against the local mode, as an operator runs it. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hold, release, waitWhileHeld } from '../helpers/hold';
import { cliRunner } from '../helpers/cli';
import { startTestSundial, type TestSundial, UNTIL_STOPPED } from '../helpers/local';
import { until } from '../helpers/until';

let t: TestSundial;

beforeAll(async () => {
  t = await startTestSundial();
});
afterAll(async () => {
  await t.close();
});

const sundial = cliRunner(() => t.url, { before: ['--interval', '100'] });

const YAML = `
process_definition_name: cli-ok
task_definitions:
  - task_definition_name: extract
    dependencies: []
    executable: { shell_script_command: { script: "echo extracting; echo warn >&2" } }
    max_attempts: 1
    backoff_base_seconds: 0
    require_explicit_success: false
  - task_definition_name: load
    dependencies: [{ task_definition_name: extract }]
    executable: { shell_script_command: { script: "echo loading $DAY" } }
    max_attempts: 1
    backoff_base_seconds: 0
    require_explicit_success: false
---
process_definition_name: cli-bad
schedule: { cron_schedule: { minutes: "0", hours: "4", day_of_month: "?", month: "*", day_of_week: "*" } }
task_definitions:
  - task_definition_name: boom
    dependencies: []
    executable: { shell_script_command: { script: "exit 4" } }
    max_attempts: 1
    backoff_base_seconds: 0
    require_explicit_success: false
  - task_definition_name: slow
    dependencies: []
    executable: { shell_script_command: { script: "${UNTIL_STOPPED}" } }
    max_attempts: 1
    backoff_base_seconds: 0
    require_explicit_success: false
`;

describe('sundial CLI', () => {
  // A walk through a dozen CLI calls, each a Node process of its own: over a minute on a machine ten times over-subscribed.
  it('applies YAML, lists, triggers and waits (exit code = outcome), shows logs, kills, pauses, deletes', async () => {
    // Prepare
    const file = join(t.dataDir, 'defs.yaml');
    writeFileSync(file, YAML);
    // Act + Assess
    const applied = await sundial('apply', '-f', file);
    expect(applied.stdout, applied.stderr).toBe('cli-ok created\ncli-bad created\n');
    expect((await sundial('apply', '-f', file)).stdout).toBe('cli-ok updated\ncli-bad updated\n');

    const listed = await sundial('list');
    expect(listed.stdout).toMatch(/^NAME\s+SCHEDULE\s+PAUSED\s+NEXT RUN\s+LAST RUN/);
    expect(listed.stdout).toMatch(/cli-bad\s+cron 0 4 \? \* \*\s+no\s+20\d\d-/);

    const ok = await sundial('trigger', 'cli-ok', '--env', 'DAY=monday', '--wait');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/run [0-9a-f-]{36} of cli-ok: succeeded/);
    expect(ok.stdout).toMatch(/✔ extract\s+succeeded/);
    expect(ok.stdout).toMatch(/✔ load\s+succeeded .*← extract/);
    const runId = /run ([0-9a-f-]{36})/.exec(ok.stdout)?.[1] ?? '';

    const logs = await sundial('logs', runId);
    expect(logs.stdout).toContain('extract attempt 1: succeeded\n');
    expect(logs.stdout).toContain('extract#1 extracting\n');
    expect(logs.stdout).toContain('extract#1 [stderr] warn\n');
    expect(logs.stdout).toContain('load#1 loading monday\n');

    const runs = await sundial('runs', 'cli-ok');
    expect(runs.stdout).toContain(`${runId}  succeeded`);

    const started = await sundial('trigger', 'cli-bad');
    const badId = started.stdout.trim();
    expect(badId).toMatch(/^[0-9a-f-]{36}$/);
    const follow = sundial('logs', badId, '--follow');
    const killed = await sundial('kill', badId);
    expect(killed.stdout).toMatch(/failed \(killed by operator\)/);
    const followed = await follow;
    expect(followed.code).toBe(0);
    // --follow ends with each attempt's final status and reason, even when it first saw them running
    expect(followed.stdout.trimEnd().split('\n').filter((l) => l.startsWith('slow attempt 1: ')).at(-1)).toBe('slow attempt 1: failed (killed by operator)');
    expect(followed.stdout).toMatch(/^boom attempt 1: failed \(exited with code 4\)$/m);
    const waited = await sundial('trigger', 'cli-bad', '--task', 'boom', '--wait');
    expect(waited.code).toBe(1);
    expect(waited.stdout).toMatch(/✘ boom\s+failed/);

    expect((await sundial('pause', 'cli-bad')).stdout).toBe('cli-bad paused\n');
    expect((await sundial('resume', 'cli-bad')).stdout).toBe('cli-bad resumed\n');
    const get = await sundial('get', 'cli-ok');
    expect(JSON.parse(get.stdout).task_definitions).toHaveLength(2);
    expect((await sundial('delete', 'cli-ok')).stdout).toBe('cli-ok deleted\n');
    const missing = await sundial('get', 'cli-ok');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/404 .*does not exist/);
    expect((await sundial('frobnicate')).code).toBe(2);
  }, 180_000);

  it('logs: each attempt numbered from 1 with its status and failure reason, every callback entry, then its output', async () => {
    // Prepare: two failing attempts, each posting 12 callback entries (more than the 10 a run embeds)
    const post = (n: number) =>
      `{"log_entry_id":"$(cat /proc/sys/kernel/random/uuid)","when":"$(date -u +%FT%TZ)","source":"etl","message":"row batch ${n} after $SUNDIAL_TASK_PREVIOUS_ATTEMPTS"}`;
    const script = [
      `curl -sf -o /dev/null -X POST "$SUNDIAL_URL/api/tasks/$SUNDIAL_TASK_ID/log_entries" -H "Authorization: Bearer $SUNDIAL_TASK_TOKEN" -H 'content-type: application/json' -d "[${Array.from({ length: 12 }, (_, i) => post(i + 1).replace(/"/g, '\\"')).join(',')}]" || exit 9`,
      'echo partial',
      'exit 3',
    ].join('\n');
    const file = join(t.dataDir, 'flaky.json');
    writeFileSync(file, JSON.stringify({
      process_definition_name: 'cli-logs',
      task_definitions: [{
        task_definition_name: 'flaky', dependencies: [], max_attempts: 2, backoff_base_seconds: 0, require_explicit_success: false,
        executable: { shell_script_command: { script } },
      }],
    }));
    expect((await sundial('apply', '-f', file)).code).toBe(0);
    const waited = await sundial('trigger', 'cli-logs', '--wait');
    expect(waited.code, waited.stdout).toBe(1);
    const runId = /run ([0-9a-f-]{36})/.exec(waited.stdout)?.[1] ?? '';
    // Act
    const logs = await sundial('logs', runId);
    // Assess
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.stdout.split('\n');
    for (const attempt of [1, 2]) {
      const header = lines.indexOf(`flaky attempt ${attempt}: failed (exited with code 3)`);
      expect(header, logs.stdout).toBeGreaterThanOrEqual(0);
      // Entries posted in the same second come back in id order (not ours to fix here): compare as a set.
      const entries = lines.slice(header + 1, header + 13);
      expect(entries.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `flaky#${attempt} [etl] row batch ${i + 1} after ${attempt - 1}`).sort());
      expect(lines[header + 13]).toBe(`flaky#${attempt} partial`);
    }
    expect(logs.stdout).not.toMatch(/attempt 0|#0 /);
    // One attempt by its id: its own header and lines, unprefixed
    const run = JSON.parse((await sundial('run', runId)).stdout) as { task: { task_id: string; previous_attempt_count: number }[] };
    const second = run.task.find((a) => a.previous_attempt_count === 1)?.task_id ?? '';
    const one = await sundial('logs', second);
    expect(one.stdout.split('\n')[0]).toBe('flaky attempt 2: failed (exited with code 3)');
    expect(one.stdout).toContain('\n[etl] row batch 12 after 1\n');
    expect(one.stdout).not.toContain('after 0');
    expect(one.stdout).toContain('\npartial\n');
  });

  it('trigger --wait shows the progress a running task reports', async () => {
    // Prepare: a task that reports 60 % and then runs until the test has seen it
    const holdFifo = join(t.dataDir, 'progress-hold');
    hold(holdFifo);
    const script = [
      `curl -sf -o /dev/null -X POST "$SUNDIAL_URL/api/tasks/$SUNDIAL_TASK_ID/progress" -H "Authorization: Bearer $SUNDIAL_TASK_TOKEN" -H 'content-type: application/json' -d '{"percent": 60, "message": "three of five"}' || exit 9`,
      waitWhileHeld(holdFifo),
    ].join('\n');
    const file = join(t.dataDir, 'progress.json');
    writeFileSync(file, JSON.stringify({
      process_definition_name: 'cli-progress',
      task_definitions: [{
        task_definition_name: 'copy', dependencies: [], max_attempts: 1, backoff_base_seconds: 0, require_explicit_success: false,
        executable: { shell_script_command: { script } },
      }],
    }));
    expect((await sundial('apply', '-f', file)).code).toBe(0);
    const child = spawn(process.execPath, ['cli/bin.mjs', '--url', t.url, '--interval', '100', 'trigger', 'cli-progress', '--wait']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

    // Act: the task is released once the CLI showed its progress (were it not, closing the server in
    // afterAll stops the task, and so the run and the CLI end)
    await until(async () => stdout, (text) => / copy {2}running \d+\.\ds {2}60% three of five$/m.test(text));
    await release(holdFifo);

    // Assess: the run ends, and its last view shows the state, not the progress
    expect(await exited, stdout).toBe(0);
    expect(stdout.trimEnd().split('\n').at(-1)).toMatch(/✔ copy {2}succeeded \d+\.\ds$/);
  });

  it('trigger --param gives declared parameters (a refusal names them); runs shows what started each and filters by --kind', async () => {
    // Prepare
    await t.define('cli-params', {
      parameters: [{ name: 'REGION', kind: 'required' }],
      task_definitions: [{ task_definition_name: 'print', dependencies: [], max_attempts: 1, backoff_base_seconds: 0, require_explicit_success: false, executable: { shell_script_command: { script: 'echo "REGION=$REGION"' } } }],
    });
    // Act
    const refused = await sundial('trigger', 'cli-params', '--param', 'REGOIN=eu');
    const waited = await sundial('trigger', 'cli-params', '--param', 'REGION=eu', '--wait');
    const runs = await sundial('runs', 'cli-params');
    const scheduled = await sundial('runs', 'cli-params', '--kind', 'schedule');
    const bad = await sundial('trigger', 'cli-params', '--param', 'REGION');
    // Assess
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('parameters.REGOIN is not a parameter of this definition (did you mean REGION?)');
    expect(waited.code, waited.stderr).toBe(0);
    const [header, row, ...rest] = runs.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^RUN +STATUS +STARTED +ENDED +TRIGGER +BY$/);
    expect(row).toMatch(/ succeeded .* manual +local$/);
    expect(rest).toEqual([]);
    expect(scheduled.stdout.trimEnd().split('\n')).toHaveLength(1); // the header only
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--param takes K=V, got "REGION"');
  });

  it('backfill prints each occurrence queued with its run id; a refusal says why; runs shows them as backfill', async () => {
    // Prepare: 03:00 and 04:00 on January 1st
    await t.define('cli-backfill', {
      schedule: { cron_schedule: { minutes: '0', hours: '3,4', day_of_month: '1', month: 'JAN', day_of_week: '?' } },
      task_definitions: [{ task_definition_name: 'a', dependencies: [], max_attempts: 1, backoff_base_seconds: 0, require_explicit_success: false, executable: { shell_script_command: { script: 'true' } } }],
    });
    // Act
    const queued = await sundial('backfill', 'cli-backfill', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-01T04:00:00Z');
    const tooMany = await sundial('backfill', 'cli-backfill', '--from', '2026-01-01T00:00:00Z', '--to', '2027-01-01T04:00:00Z', '--max-runs', '3');
    const missing = await sundial('backfill', 'cli-backfill', '--from', '2026-01-01T00:00:00Z');
    // Assess
    expect(queued.code, queued.stderr).toBe(0);
    const [header, ...rows] = queued.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^SCHEDULED +RUN$/);
    expect(rows.map((r) => r.split(/ +/)[0])).toEqual(['2026-01-01T03:00:00.000Z', '2026-01-01T04:00:00.000Z']);
    for (const row of rows) await t.finished(row.split(/ +/)[1]!);
    expect(tooMany.code).toBe(3);
    expect(tooMany.stderr).toContain('holds 4 occurrences of the schedule, more than max_runs (3)');
    expect(missing.code).toBe(2);
    const runs = await sundial('runs', 'cli-backfill', '--kind', 'backfill');
    expect(runs.stdout.trimEnd().split('\n')).toHaveLength(3);
  });
});
