/** The email about a run: subject, task table (status, attempts, duration), failed tasks' last log lines, link; HTML escaped. */
import { describe, expect, it, test } from 'vitest';
import type { Process, Task } from '../../lambdas/domain/models';
import { attemptsWithLogLines, consoleRunLink, EMAIL_FAILED_WITH_LOGS_MAX, EMAIL_TASK_ROWS_MAX, formatDuration, LOG_LINES_PER_TASK, renderRunEmail, summarizeTasks } from '../../lambdas/notify/render';

const at = (s: number) => new Date(Date.parse('2026-03-01T12:00:00.000Z') + s * 1000).toISOString();

function attempt(name: string, n: number, status: Task['status'], start: number, end: number, logs: string[] = []): Task {
  return {
    task_id: `${name}-${n}`,
    process_id: 'p',
    process_definition_name: 'nightly',
    task_definition_name: name,
    start_time: at(start),
    end_time: at(end),
    previous_attempt_count: n,
    status,
    log_entries: logs.map((message, i) => ({ log_entry_id: `${name}-${n}-${i}`, when: at(start + i), source: 'stderr', message })),
    metadata_entries: [],
  };
}

const run: Process = {
  process_id: '7c1f4f7e-0000-4000-8000-000000000001',
  process_definition_name: 'nightly',
  start_time: at(0),
  end_time: at(185),
  status: 'failed',
  reason: 'killed by operator',
  trigger: { kind: 'manual', by: 'local', at: at(0), scheduled_time: at(0) },
  parameters: [],
  task: [
    attempt('extract', 0, 'succeeded', 0, 2),
    attempt('load', 0, 'failed', 3, 5, ['first attempt']),
    attempt('load', 1, 'failed', 63, 185, [...Array.from({ length: 12 }, (_, i) => `line ${i}`), '<script>alert(1)</script>']),
  ],
};

describe('formatDuration', () => {
  test.each([
    [400, '0.4s'],
    [12_000, '12s'],
    [185_000, '3m 5s'],
    [3_720_000, '1h 2m'],
  ])('%i ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('summarizeTasks', () => {
  it('gives one line per task: last status, attempts, first start to last end, last log lines of failed tasks', () => {
    // Act
    const tasks = summarizeTasks(run.task);

    // Assess
    expect(tasks).toEqual([
      { task_definition_name: 'extract', status: 'succeeded', attempts: 1, duration_ms: 2000, last_log_lines: [] },
      {
        task_definition_name: 'load',
        status: 'failed',
        attempts: 2,
        duration_ms: 182_000,
        last_log_lines: expect.arrayContaining([expect.stringContaining('[stderr] line 3')]),
      },
    ]);
    expect(tasks[1]?.last_log_lines).toHaveLength(LOG_LINES_PER_TASK);
    expect(tasks[1]?.last_log_lines.at(-1)).toBe(`${at(75)} [stderr] <script>alert(1)</script>`);
  });
});

describe('renderRunEmail', () => {
  const email = renderRunEmail({
    run,
    not_run: [{ task_definition_name: 'report', status: 'blocked' }],
    run_url: consoleRunLink('https://d111111abcdef8.cloudfront.net', run.process_id),
    why: 'the run failed',
  });

  it('says process, outcome and run id in the subject', () => {
    expect(email.subject).toBe(`[Sundial] nightly failed - run ${run.process_id}`);
  });

  it('lists facts, tasks and the failed tasks’ last log lines in the text', () => {
    // Assess
    const lines = email.text.split('\n');
    expect(lines.slice(0, 9)).toEqual([
      'nightly failed.',
      '',
      'Process: nightly',
      'Outcome: failed (killed by operator)',
      `Run:     ${run.process_id}`,
      `Started: ${at(0)}`,
      `Ended:   ${at(185)} (3m 5s)`,
      `Link:    https://d111111abcdef8.cloudfront.net/#/run/${run.process_id}`,
      '',
    ]);
    expect(lines.slice(9, 14)).toEqual([
      'Tasks:',
      '  task     status     attempts  duration',
      '  extract  succeeded         1  2s',
      '  load     failed            2  3m 2s',
      '  report   blocked           0  -',
    ]);
    expect(email.text).toContain('  load:\n    ');
    expect(email.text).not.toContain('first attempt'); // the last attempt's lines only
    expect(email.text).toContain('<script>alert(1)</script>');
  });

  it('escapes what it puts in the HTML and links the run', () => {
    expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain(`<a href="https://d111111abcdef8.cloudfront.net/#/run/${run.process_id}">`);
  });

  it('links to nothing without a console: the run id and its API path as text (the API takes signed requests only)', () => {
    // Act
    const plain = renderRunEmail({ run, why: 'the run failed' });

    // Assess
    expect(plain.text).toContain(`\nAPI:     GET /api/processes/${run.process_id} (operator API, IAM-signed requests only)\n`);
    expect(plain.text).not.toContain('Link:');
    expect(plain.text).not.toMatch(/https?:\/\//);
    expect(plain.html).not.toContain('<a ');
    expect(plain.html).toContain(`GET /api/processes/${run.process_id}`);
  });
});

describe('renderRunEmail of a run of 10,000 tasks', () => {
  // Every task but one failed, with long log lines full of characters HTML escapes: about the largest email such a run can make.
  const noisy = '<&>"'.repeat(200);
  const tasks = Array.from({ length: 10_000 }, (_, i) =>
    attempt(`task-${String(i).padStart(5, '0')}-${'x'.repeat(48)}`, 0, i === 9_999 ? 'succeeded' : 'failed', i, i + 1, Array.from({ length: LOG_LINES_PER_TASK }, () => noisy)),
  );
  const email = renderRunEmail({
    run: { ...run, task: tasks },
    not_run: [{ task_definition_name: 'report', status: 'blocked' }],
    run_url: consoleRunLink('https://d111111abcdef8.cloudfront.net', run.process_id),
  });

  it('stays within what SES takes: 10 MB per message after base64 encoding (SES v1 API, "Service quotas in Amazon SES")', () => {
    // Assess: both bodies and the subject, base64-encoded as SES sends them; under 2 MB before encoding
    const encoded = [email.subject, email.text, email.html].reduce((sum, part) => sum + Buffer.from(part, 'utf8').toString('base64').length, 0);
    expect(encoded).toBeLessThan(10 * 1024 * 1024);
    expect(Buffer.byteLength(email.text) + Buffer.byteLength(email.html)).toBeLessThan(2 * 1024 * 1024);
  });

  it(`lists ${EMAIL_TASK_ROWS_MAX} tasks, those that did not succeed first, and the log lines of the first ${EMAIL_FAILED_WITH_LOGS_MAX} failed; counts the rest`, () => {
    // Assess
    const rows = email.text.split('\n').filter((l) => /^ {2}task-\d{5}-x+ +(failed|succeeded) /.test(l));
    expect(rows).toHaveLength(EMAIL_TASK_ROWS_MAX);
    expect(rows.every((l) => / failed /.test(l))).toBe(true); // the one succeeded task is past the bound
    expect(rows[0]).toMatch(/^ {2}task-00000-/);
    expect(email.text).toContain(`… and ${10_001 - EMAIL_TASK_ROWS_MAX} more tasks: the run's page lists them all.`);
    expect(email.text.split('\n').filter((l) => /^ {2}task-\d{5}-x+:$/.test(l))).toHaveLength(EMAIL_FAILED_WITH_LOGS_MAX);
    expect(email.text).toContain(`… and ${9_999 - EMAIL_FAILED_WITH_LOGS_MAX} more failed tasks: their log lines are on the run's page.`);
    expect(email.html).toContain(`… and ${9_999 - EMAIL_FAILED_WITH_LOGS_MAX} more failed tasks`);
  });

  it(`has the notifier read the entries of the ${EMAIL_FAILED_WITH_LOGS_MAX} attempts whose log lines it shows, not of every failed task`, () => {
    // Act
    const read = attemptsWithLogLines(tasks);

    // Assess: the same tasks as the email's log sections, in its order
    const shown = email.text.split('\n').flatMap((l) => /^ {2}(task-\d{5}-x+):$/.exec(l)?.[1] ?? []);
    expect([...read]).toEqual(shown.map((name) => `${name}-0`));
  });
});

describe('consoleRunLink', () => {
  test.each([
    ['https://d111111abcdef8.cloudfront.net', 'run-1', 'https://d111111abcdef8.cloudfront.net/#/run/run-1'],
    ['http://127.0.0.1:8080/', 'a b/c', 'http://127.0.0.1:8080/#/run/a%20b%2Fc'],
  ])('%s, run %s: %s (the console hash route of web/app.ts)', (consoleUrl, id, link) => {
    // Act / Assess
    expect(consoleRunLink(consoleUrl, id)).toBe(link);
  });
});
