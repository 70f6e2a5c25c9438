/**
 * The email about a run that ended: subject (process, outcome, run id), and a body in plain text and
 * HTML listing each task with its status, attempts and duration, the failed tasks' last log lines, and
 * a link to the run's page in the web console (or, with no console, the run's API path as text).
 */
import type { Process, Task } from '../domain/models';

/** A task of the run as the email shows it. */
export interface TaskSummary {
  task_definition_name: string;
  /** The last attempt's status; `blocked` for a task a failed dependency kept from running. */
  status: string;
  attempts: number;
  /** From the first attempt's start to the last attempt's end, in ms (undefined if it never ran or has no end). */
  duration_ms?: number;
  /** Last log lines of the last attempt, for failed tasks only. */
  last_log_lines: string[];
}

/** What the email is about. */
export interface RunEmail {
  run: Process;
  /** Tasks that never got an attempt (blocked, or not started when the run was killed). */
  not_run?: Array<{ task_definition_name: string; status: string }>;
  /**
   * Link to the run's page in the web console. Absent (no console): the email names the run's API path
   * as text instead, since the API answers SigV4-signed requests only and a link to it opens nothing.
   */
  run_url?: string;
  /** Why the notification went out (e.g. "succeeded -> failed"), shown in the footer. */
  why?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** The web console's page of a run (its hash route `#/run/<id>`, web/app.ts): the `run_url` of emails and incidents. */
export function consoleRunLink(consoleUrl: string, processId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#/run/${encodeURIComponent(processId)}`;
}

/** Log lines per failed task, and characters per line, that the email carries. */
export const LOG_LINES_PER_TASK = 10;
const LOG_LINE_MAX = 500;

/**
 * What one email lists at most: rows of its task table, and failed tasks with their log lines; the rest
 * are counted, and are on the run's page. SES's v1 API (SendEmail) refuses a message over 10 MB after
 * base64 encoding, not adjustable ("Service quotas in Amazon SES", Message quotas:
 * https://docs.aws.amazon.com/ses/latest/dg/quotas.html), and a refused message is not retried: without
 * these bounds a run of 10,000 tasks, or of a few hundred failed ones with long log lines, would tell no
 * one that it ended. With them an email stays under 2 MB (test/notify/render.test.ts).
 */
export const EMAIL_TASK_ROWS_MAX = 1000;
export const EMAIL_FAILED_WITH_LOGS_MAX = 20;

/**
 * At most `max` of a run's tasks (`rows`, in run order), and how many are left out: all of them when they
 * fit; past the bound, the tasks that did not succeed first (they are what a notification about the run is
 * about), each group in run order. The one rule of the email's task table and of a webhook's `tasks`.
 */
export function tasksToTell<T extends { status: string }>(rows: readonly T[], max: number): { shown: T[]; omitted: number } {
  if (rows.length <= max) return { shown: [...rows], omitted: 0 };
  const shown = [...rows.filter((r) => r.status !== 'succeeded'), ...rows.filter((r) => r.status === 'succeeded')].slice(0, max);
  return { shown, omitted: rows.length - shown.length };
}

/** `1h 2m`, `3m 4s`, `12s`, `0.4s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const clip = (line: string) => (line.length > LOG_LINE_MAX ? `${line.slice(0, LOG_LINE_MAX)}…` : line).replace(/[\r\n]+/g, ' ');

/** Each task definition's attempts, first attempt first, in the order the tasks' first attempts appear. */
function attemptsByTask(tasks: readonly Task[]): Array<[string, Task[]]> {
  const byName = new Map<string, Task[]>();
  for (const t of tasks) byName.set(t.task_definition_name, [...(byName.get(t.task_definition_name) ?? []), t]);
  return [...byName.entries()].map(([name, attempts]) => [
    name,
    [...attempts].sort((a, b) => a.previous_attempt_count - b.previous_attempt_count || a.start_time.localeCompare(b.start_time)),
  ]);
}

/**
 * The attempts whose log lines the email shows: the last attempt of each failed task, of the first
 * {@link EMAIL_FAILED_WITH_LOGS_MAX} failed tasks (the notifier reads only their entries: at most 40 Queries
 * however many tasks failed).
 */
export function attemptsWithLogLines(tasks: readonly Task[]): Set<string> {
  const lastOfFailed = attemptsByTask(tasks).flatMap(([, sorted]) => {
    const last = sorted[sorted.length - 1];
    return last?.status === 'failed' ? [last.task_id] : [];
  });
  return new Set(lastOfFailed.slice(0, EMAIL_FAILED_WITH_LOGS_MAX));
}

/** One line per task definition of the run, in the order their first attempts started. */
export function summarizeTasks(tasks: readonly Task[]): TaskSummary[] {
  return attemptsByTask(tasks).map(([name, sorted]) => {
    const first = sorted[0] as Task;
    const last = sorted[sorted.length - 1] as Task;
    const end = last.end_time === undefined ? undefined : Date.parse(last.end_time);
    return {
      task_definition_name: name,
      status: last.status,
      attempts: sorted.length,
      ...(end === undefined ? {} : { duration_ms: end - Date.parse(first.start_time) }),
      last_log_lines:
        last.status === 'failed'
          ? last.log_entries.slice(-LOG_LINES_PER_TASK).map((e) => clip(`${e.when} [${e.source}] ${e.message}`))
          : [],
    };
  });
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Renders the email about a run that ended. */
export function renderRunEmail(email: RunEmail): RenderedEmail {
  const { run } = email;
  const tasks = summarizeTasks(run.task);
  const rows = [
    ...tasks.map((t) => ({
      name: t.task_definition_name,
      status: t.status,
      attempts: String(t.attempts),
      duration: t.duration_ms === undefined ? '-' : formatDuration(t.duration_ms),
    })),
    ...(email.not_run ?? []).map((t) => ({ name: t.task_definition_name, status: t.status, attempts: '0', duration: '-' })),
  ];
  const { shown, omitted: rowsLeft } = tasksToTell(rows, EMAIL_TASK_ROWS_MAX);
  const allFailed = tasks.filter((t) => t.status === 'failed');
  const failed = allFailed.slice(0, EMAIL_FAILED_WITH_LOGS_MAX);
  const failedLeft = allFailed.length - failed.length;
  const moreRows = `… and ${rowsLeft} more ${rowsLeft === 1 ? 'task' : 'tasks'}: the run's page lists them all.`;
  const moreFailed = `… and ${failedLeft} more failed ${failedLeft === 1 ? 'task' : 'tasks'}: their log lines are on the run's page.`;
  const runDuration = run.end_time ? formatDuration(Date.parse(run.end_time) - Date.parse(run.start_time)) : undefined;
  const subject = `[Sundial] ${run.process_definition_name} ${run.status} - run ${run.process_id}`;

  const facts: Array<[string, string]> = [
    ['Process', run.process_definition_name],
    ['Outcome', run.status + (run.reason ? ` (${run.reason})` : '')],
    ['Run', run.process_id],
    ['Started', run.start_time],
    ...(run.end_time ? ([['Ended', `${run.end_time} (${runDuration})`]] as Array<[string, string]>) : []),
    email.run_url === undefined ? ['API', `GET /api/processes/${run.process_id} (operator API, IAM-signed requests only)`] : ['Link', email.run_url],
  ];

  const width = (k: keyof (typeof rows)[number], title: string) => Math.max(title.length, ...shown.map((r) => r[k].length));
  const w = { name: width('name', 'task'), status: width('status', 'status'), attempts: width('attempts', 'attempts') };
  const row = (name: string, status: string, attempts: string, duration: string) =>
    `  ${name.padEnd(w.name)}  ${status.padEnd(w.status)}  ${attempts.padStart(w.attempts)}  ${duration}`.trimEnd();
  const text = [
    `${run.process_definition_name} ${run.status}.`,
    '',
    ...facts.map(([k, v]) => `${`${k}:`.padEnd(9)}${v}`),
    '',
    'Tasks:',
    row('task', 'status', 'attempts', 'duration'),
    ...shown.map((r) => row(r.name, r.status, r.attempts, r.duration)),
    ...(rowsLeft > 0 ? [`  ${moreRows}`] : []),
    ...(failed.length > 0
      ? [
          '',
          `Failed tasks, last ${LOG_LINES_PER_TASK} log lines of the last attempt:`,
          ...failed.flatMap((t) => ['', `  ${t.task_definition_name}:`, ...(t.last_log_lines.length > 0 ? t.last_log_lines : ['(no log entries)']).map((l) => `    ${l}`)]),
          ...(failedLeft > 0 ? ['', `  ${moreFailed}`] : []),
        ]
      : []),
    '',
    '--',
    `Sent by Sundial${email.why ? ` (${email.why})` : ''}. Change who is told in the definition's notifications.`,
    '',
  ].join('\n');

  const cell = (s: string, tag = 'td') => `<${tag} style="text-align:left;padding:2px 12px 2px 0">${escapeHtml(s)}</${tag}>`;
  const html = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:sans-serif">',
    `<h2>${escapeHtml(run.process_definition_name)} <span style="color:${run.status === 'failed' ? '#b00020' : '#1b5e20'}">${escapeHtml(run.status)}</span></h2>`,
    '<table>',
    ...facts.map(([k, v]) =>
      k === 'Link'
        ? `<tr>${cell(k, 'th')}<td><a href="${escapeHtml(v)}">${escapeHtml(v)}</a></td></tr>`
        : `<tr>${cell(k, 'th')}${cell(v)}</tr>`,
    ),
    '</table>',
    '<h3>Tasks</h3>',
    '<table>',
    `<tr>${cell('task', 'th')}${cell('status', 'th')}${cell('attempts', 'th')}${cell('duration', 'th')}</tr>`,
    ...shown.map((r) => `<tr>${cell(r.name)}${cell(r.status)}${cell(r.attempts)}${cell(r.duration)}</tr>`),
    '</table>',
    ...(rowsLeft > 0 ? [`<p>${escapeHtml(moreRows)}</p>`] : []),
    ...(failed.length > 0
      ? [
          `<h3>Failed tasks: last ${LOG_LINES_PER_TASK} log lines of the last attempt</h3>`,
          ...failed.flatMap((t) => [
            `<h4>${escapeHtml(t.task_definition_name)}</h4>`,
            `<pre>${escapeHtml((t.last_log_lines.length > 0 ? t.last_log_lines : ['(no log entries)']).join('\n'))}</pre>`,
          ]),
          ...(failedLeft > 0 ? [`<p>${escapeHtml(moreFailed)}</p>`] : []),
        ]
      : []),
    `<p style="color:#666">Sent by Sundial${email.why ? ` (${escapeHtml(email.why)})` : ''}. Change who is told in the definition's notifications.</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject, text, html };
}
