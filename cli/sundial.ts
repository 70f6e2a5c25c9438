/**
 * `sundial`: the operators' command line. Talks to the local mode (http://127.0.0.1:8080) by default;
 * `--url` / `SUNDIAL_URL` points it at a deployed API, which it calls SigV4-signed with credentials from
 * the standard AWS chain (environment, profile, SSO, instance role).
 *
 * Exit codes: 0 done (a waited run succeeded), 1 a waited run failed, 2 usage, 3 the API refused,
 * 4 the API could not be reached (nothing listens on the URL, unknown host, no answer in time).
 * `exec` talks to no API (./exec.ts): 0 the attempt succeeded, 1 it failed, 2 usage or an invalid definition.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ApiError, isLoopback, SundialClient, UnreachableError } from './client';
import { renderProgress, type RunView } from './progress';

const USAGE = `usage: sundial [--url URL] [--sign|--no-sign] [--region R] [--timeout SECONDS] <command> [args]

  apply -f FILE               create or replace the definitions in FILE (JSON or YAML; one, a list, or YAML documents)
  list                        definitions: schedule, paused, next run, last run
  get NAME                    a definition (JSON)
  trigger NAME [--task T] [--param K=V ...] [--env K=V ...] [--wait]
                              start a run, --param giving the definition's declared parameters;
                              --wait shows the DAG's progress until it ends, each running task
                              with the percent and message it reported (exit 1 if the run failed)
  backfill NAME --from TIME --to TIME [--max-runs N]
                              queue one run per cron occurrence from TIME to TIME (both included, ISO 8601 with
                              Z or an offset), run one after another; prints each occurrence and its run id
  runs NAME [--limit N] [--kind K]
                              runs of a definition, newest first, with what started each (TRIGGER: manual,
                              schedule, backfill, upstream, retry; --kind K[,K] only those) and by whom
  run RUN_ID                  a run (JSON)
  logs RUN_ID|TASK_ID [--follow]
                              per attempt of a run (or one attempt): its number (from 1), status and failure
                              reason, its log entries from callbacks ([source] message), and its output
  kill RUN_ID | retry RUN_ID
  pause NAME | resume NAME | delete NAME
  exec -f FILE PROCESS TASK [--env K=V ...]
                              try one task of a definition in FILE on this machine, as Sundial runs an attempt,
                              no Sundial needed: validated as the API validates it; its environment (its
                              variables, the definition's parameters (--env gives them), --env, SUNDIAL_URL,
                              SUNDIAL_TASK_ID, SUNDIAL_PROCESS_ID, SUNDIAL_TASK_TOKEN, SUNDIAL_TASK_PREVIOUS_ATTEMPTS,
                              SUNDIAL_SCHEDULED_TIME); the callback routes served on 127.0.0.1;
                              /bin/sh -c, or docker run for an image; max_runtime_seconds, require_explicit_success.
                              Streams its output, then prints the outcome, exit code, log entries and metadata
                              (exit 0 it succeeded, 1 it failed, 2 an unknown name or an invalid definition)

  --url defaults to $SUNDIAL_URL, else http://127.0.0.1:8080. Requests to a non-loopback host are
  SigV4-signed (service execute-api) unless --no-sign. --timeout bounds each request (default 30).
  Exit codes: 0 done, 1 a waited run failed (or exec's attempt), 2 usage, 3 the API refused, 4 the API could not be reached.`;

class UsageError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      sign: { type: 'boolean' },
      'no-sign': { type: 'boolean' },
      region: { type: 'string' },
      file: { type: 'string', short: 'f' },
      task: { type: 'string' },
      env: { type: 'string', multiple: true },
      param: { type: 'string', multiple: true },
      kind: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'max-runs': { type: 'string' },
      wait: { type: 'boolean' },
      follow: { type: 'boolean' },
      limit: { type: 'string' },
      interval: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return { values, positionals };
}

/** Definitions in a JSON or YAML file: one object, a list of them, or several YAML documents. */
export function readDefinitions(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const docs = path.endsWith('.json') ? [parseJson(path, text)] : parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new UsageError(`${path}: ${d.errors[0]?.message}`);
    return d.toJS() as unknown;
  });
  const defs = docs.flatMap((d) => (Array.isArray(d) ? d : d === null || d === undefined ? [] : [d]));
  for (const d of defs) {
    if (typeof d !== 'object' || d === null || typeof (d as Record<string, unknown>).process_definition_name !== 'string') {
      throw new UsageError(`${path}: every definition needs a process_definition_name`);
    }
  }
  return defs as Record<string, unknown>[];
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
}

/** `--env K=V ...` as the trigger's environment variables (`--param K=V ...` is read the same way). */
function envOption(pairs: string[] | undefined, option = '--env') {
  return (pairs ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new UsageError(`${option} takes K=V, got "${kv}"`);
    return { variable_name: kv.slice(0, i), value: kv.slice(i + 1) };
  });
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  ')).join('\n');
}

function scheduleText(schedule: any): string {
  if (!schedule) return '-';
  if (schedule.cron_schedule) {
    const c = schedule.cron_schedule;
    return `cron ${c.minutes} ${c.hours} ${c.day_of_month} ${c.month} ${c.day_of_week}${c.time_zone ? ` ${c.time_zone}` : ''}`;
  }
  if (schedule.continuous_schedule) return `continuous +${schedule.continuous_schedule.buffer_seconds ?? 0}s`;
  if (schedule.interval_schedule) return `interval ${schedule.interval_schedule.repeat}`;
  return '?';
}

async function main(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...args] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return command || values.help ? 0 : 2;
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout takes seconds, got "${values.timeout}"`);
  const client = new SundialClient({
    url: values.url ?? process.env.SUNDIAL_URL ?? 'http://127.0.0.1:8080',
    ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
    ...(values.sign ? { sign: true } : values['no-sign'] ? { sign: false } : {}),
    ...(values.region ? { region: values.region } : {}),
  });
  const need = (what: string) => {
    const v = args[0];
    if (!v) throw new UsageError(`${command} needs ${what}`);
    return encodeURIComponent(v);
  };
  const interval = Number(values.interval ?? 1000);

  switch (command) {
    case 'apply': {
      if (!values.file) throw new UsageError('apply needs -f FILE');
      for (const def of readDefinitions(values.file)) {
        const name = String(def.process_definition_name);
        const res = await client.request('PUT', `/api/process_definitions/${encodeURIComponent(name)}`, { body: def });
        out(`${name} ${res.status === 201 ? 'created' : 'updated'}`);
      }
      return 0;
    }
    case 'list': {
      const defs = (await client.request<any[]>('GET', '/api/process_definitions')).body;
      const rows = [['NAME', 'SCHEDULE', 'PAUSED', 'NEXT RUN', 'LAST RUN'], ...defs.map((d) => [
        d.process_definition_name,
        scheduleText(d.schedule),
        d.paused ? 'yes' : 'no',
        d.next_run_time ?? '-',
        d.last_run ? `${d.last_run.status} ${d.last_run.start_time}` : '-',
      ])];
      out(table(rows));
      return 0;
    }
    case 'get':
      out(JSON.stringify((await client.request('GET', `/api/process_definitions/${need('a definition name')}`)).body, null, 2));
      return 0;
    case 'run':
      out(JSON.stringify((await client.request('GET', `/api/processes/${need('a run id')}`)).body, null, 2));
      return 0;
    case 'delete':
      await client.request('DELETE', `/api/process_definitions/${need('a definition name')}`);
      out(`${args[0]} deleted`);
      return 0;
    case 'pause':
    case 'resume': {
      const def = (await client.request('POST', `/api/process_definitions/${need('a definition name')}/${command}`)).body;
      out(`${def.process_definition_name} ${def.paused ? 'paused' : 'resumed'}`);
      return 0;
    }
    case 'kill':
    case 'retry': {
      const run = (await client.request('POST', `/api/processes/${need('a run id')}/${command}`)).body;
      out(`${run.process_id} ${run.status}${run.reason ? ` (${run.reason})` : ''}`);
      return 0;
    }
    case 'runs': {
      const runs = (await client.request<any[]>('GET', '/api/processes', {
        query: { process_definition_name: args[0] ? args[0] : undefined, limit: values.limit ?? '20', trigger_kind: values.kind },
      })).body;
      out(table([['RUN', 'STATUS', 'STARTED', 'ENDED', 'TRIGGER', 'BY'], ...runs.map((r) => [r.process_id, r.status, r.start_time, r.end_time ?? '-', r.trigger?.kind ?? '-', r.trigger?.by ?? '-'])]));
      return 0;
    }
    case 'trigger': {
      const name = need('a definition name');
      const env = envOption(values.env);
      const parameters = Object.fromEntries(envOption(values.param, '--param').map((v) => [v.variable_name, v.value]));
      const body = { ...(env.length > 0 ? { environment_variables: env } : {}), ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
      const run = (await client.request('POST', `/api/process_definitions/${name}/trigger`, {
        query: { task_definition_name: values.task },
        ...(Object.keys(body).length > 0 ? { body } : {}),
      })).body;
      if (!values.wait) {
        out(run.process_id);
        return 0;
      }
      const def = (await client.request('GET', `/api/process_definitions/${name}`)).body;
      const ended = await watch(client, def, run.process_id, out, interval);
      return ended.status === 'succeeded' ? 0 : 1;
    }
    case 'backfill': {
      const name = need('a definition name');
      if (!values.from || !values.to) throw new UsageError('backfill needs --from TIME and --to TIME');
      const maxRuns = values['max-runs'] === undefined ? undefined : Number(values['max-runs']);
      if (maxRuns !== undefined && !Number.isInteger(maxRuns)) throw new UsageError(`--max-runs takes a whole number, got "${values['max-runs']}"`);
      const queued = (await client.request('POST', `/api/process_definitions/${name}/backfill`, {
        body: { start_time: values.from, end_time: values.to, ...(maxRuns !== undefined ? { max_runs: maxRuns } : {}) },
      })).body;
      const rows: string[][] = queued.occurrences.map((o: { scheduled_time: string; process_id: string }) => [o.scheduled_time, o.process_id]);
      out(rows.length > 0 ? table([['SCHEDULED', 'RUN'], ...rows]) : 'no occurrence of the schedule in that window');
      return 0;
    }
    case 'logs':
      return follow(client, need('a run id or task id'), Boolean(values.follow), out, interval);
    case 'exec': {
      const [processName, taskName, ...extra] = args;
      if (!values.file || !processName || !taskName || extra.length > 0) throw new UsageError('exec needs -f FILE PROCESS TASK');
      const environment = envOption(values.env);
      // Loaded only here: the store, the routes and the spawner are exec's alone.
      const { execTask } = await import('./exec');
      return execTask({ file: values.file, definitions: readDefinitions(values.file), processName, taskName, environment }, out, err);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * A run with every attempt (`processId` as it goes in the path): a run too large for one answer holds part
 * of them and `attempts_next`, from which `GET /api/tasks/?process_id=` pages through the rest
 * (lambdas/domain/response-size.ts).
 */
async function wholeRun(client: SundialClient, processId: string): Promise<RunView> {
  const run = (await client.request<RunView & { attempts_next?: string }>('GET', `/api/processes/${processId}`)).body;
  let next = run.attempts_next;
  while (next !== undefined) {
    const page = await client.request<RunView['task']>('GET', '/api/tasks/', { query: { process_id: run.process_id, limit: '1000', next } });
    run.task.push(...page.body);
    next = page.headers.get('x-next-cursor') ?? undefined;
  }
  return run;
}

/** Draws the run's DAG progress until it ends: redrawn in place on a terminal, a line per change otherwise. */
async function watch(client: SundialClient, def: any, processId: string, out: (s: string) => void, interval: number): Promise<RunView> {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let last = '';
  for (;;) {
    const run = await wholeRun(client, processId);
    const text = renderProgress(def, run, new Date(), tty);
    if (tty) {
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
      process.stdout.write(`${text}\n`);
      drawn = text.split('\n').length;
    } else if (text.replace(/\d+(\.\d+)?s/g, '') !== last) {
      out(text);
      last = text.replace(/\d+(\.\d+)?s/g, '');
    }
    if (run.status !== 'running') return run;
    await sleep(interval);
  }
}

interface EntryView {
  log_entry_id: string;
  source: string;
  message: string;
}

/** What `logs` has printed of one attempt, so that `--follow` prints only what is new. */
interface AttemptLog {
  shown?: string;
  /** The cursor of the last page of entries read (read again next time: entries are told apart by id). */
  entries?: string;
  seen: Set<string>;
  reason?: string;
  output?: string;
  note?: boolean;
}

const OUTPUT_SOURCES = new Set(['stdout', 'stderr']);
/** The entry the engine writes when it ends an attempt (lambdas/engine/engine.ts endAttempt): `attempt failed: <why>`. */
const OUTCOME = /^attempt (?:succeeded|failed): (.*)$/s;

/**
 * Prints a run's attempts (or one attempt): per attempt a header with its number (from 1, as the console
 * counts), its status and the reason it failed, then its callback log entries (every source but
 * stdout/stderr, read page by page: a run embeds only the last few) and its output. With `following`, prints
 * what is new until the run ends.
 */
async function follow(client: SundialClient, id: string, following: boolean, out: (s: string) => void, interval: number): Promise<number> {
  let only: string | undefined;
  let run: RunView;
  try {
    run = await wholeRun(client, id);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    // Not a run: an attempt's id. Its entries name its run.
    const page = (await client.request<{ process_id: string }>('GET', `/api/tasks/${id}/log_entries`, { query: { limit: '1' } })).body;
    run = await wholeRun(client, encodeURIComponent(page.process_id));
    only = decodeURIComponent(id);
  }
  const logs = new Map<string, AttemptLog>();
  let endedAt: number | undefined;
  let settledPasses = 0;
  for (;;) {
    const attempts = run.task.filter((t) => only === undefined || t.task_id === only);
    if (only !== undefined && attempts.length === 0) attempts.push({ task_id: only, task_definition_name: '?', previous_attempt_count: -1, status: '?', start_time: '' });
    for (const a of attempts) {
      const log = logs.get(a.task_id) ?? { seen: new Set<string>() };
      logs.set(a.task_id, log);
      const label = only !== undefined ? '' : `${a.task_definition_name}#${a.previous_attempt_count + 1} `;
      const fresh = await newEntries(client, a.task_id, run.process_id, log);
      for (const e of fresh) {
        const outcome = e.source === 'sundial' ? OUTCOME.exec(e.message) : null;
        if (outcome) log.reason = outcome[1];
      }
      const header = `${a.task_definition_name} attempt ${a.previous_attempt_count + 1}: ${a.status}${log.reason && a.status !== 'running' ? ` (${log.reason})` : ''}`;
      if (header !== log.shown) out(header);
      log.shown = header;
      for (const e of fresh) {
        if (OUTPUT_SOURCES.has(e.source) || (e.source === 'sundial' && OUTCOME.test(e.message))) continue;
        out(`${label}[${e.source}] ${e.message}`);
      }
      await newOutput(client, a.task_id, run.process_id, log, label, out);
    }
    if (!following || settledPasses >= 2) return 0;
    await sleep(interval);
    run = await wholeRun(client, run.process_id);
    // A killed run ends before its attempts do, and an attempt's reason is written just after it ends: stop
    // after two passes an interval apart once the run and all its attempts have ended (or a minute after the run).
    if (run.status !== 'running') endedAt ??= Date.now();
    if (endedAt !== undefined && (run.task.every((t) => t.status !== 'running') || Date.now() - endedAt > 60_000)) settledPasses++;
  }
}

/** The attempt's log entries not read before, oldest first. */
async function newEntries(client: SundialClient, taskId: string, processId: string, log: AttemptLog): Promise<EntryView[]> {
  const fresh: EntryView[] = [];
  for (;;) {
    const page = (await client.request<{ log_entries: EntryView[]; next?: string }>('GET', `/api/tasks/${taskId}/log_entries`, {
      query: { process_id: processId, limit: '1000', next: log.entries },
    })).body;
    for (const e of page.log_entries) {
      if (log.seen.has(e.log_entry_id)) continue;
      log.seen.add(e.log_entry_id);
      fresh.push(e);
    }
    if (page.next === undefined || page.next === log.entries) return fresh;
    log.entries = page.next;
  }
}

/** Prints the attempt's output (stdout/stderr) not printed before. */
async function newOutput(client: SundialClient, taskId: string, processId: string, log: AttemptLog, label: string, out: (s: string) => void): Promise<void> {
  for (;;) {
    const page = (await client.request('GET', `/api/tasks/${taskId}/output`, { query: { next: log.output, process_id: processId } })).body;
    for (const line of page.lines) out(`${label}${line.stream === 'stderr' ? '[stderr] ' : ''}${line.message}`);
    const moved = page.next !== undefined && page.next !== log.output;
    if (page.next !== undefined) log.output = page.next;
    if (page.note && page.lines.length === 0 && !log.note) {
      log.note = true;
      process.stderr.write(`${label}(${page.note})\n`);
    }
    if (!moved || page.lines.length === 0) return;
  }
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv, (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`));
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sundial: ${(e as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof ApiError) {
      process.stderr.write(`sundial: ${e.message}\n`);
      return 3;
    }
    if (e instanceof UnreachableError) {
      // Name the URL and the two ways to change it (the ones main() reads), and how to start the local mode.
      const local = isLoopback(new URL(e.url).hostname);
      const from = argv.some((a) => a === '--url' || a.startsWith('--url=')) ? ', from --url' : process.env.SUNDIAL_URL ? ', from SUNDIAL_URL' : '';
      const hint = local ? 'Start it with "npm start", or pass --url / set SUNDIAL_URL' : 'Check the URL: pass --url / set SUNDIAL_URL';
      process.stderr.write(`sundial: cannot reach Sundial at ${e.url} (${e.why}${from}). ${hint}\n`);
      return 4;
    }
    process.stderr.write(`sundial: ${(e as Error).message}\n`);
    return 3;
  }
}

process.exitCode = await run(process.argv.slice(2));
