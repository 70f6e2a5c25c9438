/// <reference lib="dom" />
/**
 * Sundial's web console: a hash-routed page over the operator API (the same routes the CLI calls).
 * `#/` definitions, `#/def/<name>` one definition and its runs, `#/run/<id>` one run with its DAG
 * (web/dag.ts), a timeline of attempts, log/metadata entries and task output, a page of attempts at a time.
 * A running run refreshes itself every second (every few seconds past 1,000 attempts).
 */
import { type AuthConfig, type Challenge, ConsoleAuth } from './auth';
import { drawDag } from './dag';
import { count, dur, esc, pill, progressText, stateOf } from './format';

declare global {
  interface Window {
    SUNDIAL_API?: string;
    /** Set by the deployed `config.js` only: sign in with Cognito and sign every call (web/auth.ts). */
    SUNDIAL_AUTH?: AuthConfig;
  }
}

type Any = any;
const API = (window.SUNDIAL_API ?? '').replace(/\/+$/, '');
// Local mode: undefined, calls are unsigned and go to the same origin, as they always did.
const AUTH = window.SUNDIAL_AUTH ? new ConsoleAuth(window.SUNDIAL_AUTH) : undefined;
const app = document.getElementById('app') as HTMLElement;
let timer: number | undefined;

const enc = encodeURIComponent;

async function api(method: string, path: string, body?: unknown): Promise<Any> {
  return (await call(method, path, body)).json;
}

/** An API call's JSON answer, and the cursor of a list's next page (header `x-next-cursor`, exposed by CORS). */
async function call(method: string, path: string, body?: unknown): Promise<{ json: Any; next: string | null }> {
  const res = AUTH ? await signedFetch(AUTH, method, path, body) : await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : undefined;
  if (!res.ok) throw new Error(`${res.status}: ${json?.error?.message ?? text}`);
  return { json, next: res.headers.get('x-next-cursor') };
}

/** Deployed: the same call signed with SigV4 with the signed-in operator's temporary credentials. */
async function signedFetch(auth: ConsoleAuth, method: string, path: string, body?: unknown): Promise<Response> {
  const url = new URL(API + path, location.href);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers = await auth.sign(method, url, text === undefined ? {} : { 'content-type': 'application/json' }, text);
  return fetch(url, { method, headers, body: text });
}

const when = (iso?: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

function schedule(s: Any): string {
  if (!s) return '—';
  if (s.cron_schedule) {
    const c = s.cron_schedule;
    return `cron ${c.minutes} ${c.hours} ${c.day_of_month} ${c.month} ${c.day_of_week}${c.time_zone ? ` (${c.time_zone})` : ''}`;
  }
  if (s.continuous_schedule) return `continuous, +${s.continuous_schedule.buffer_seconds ?? 0}s`;
  if (s.interval_schedule) return `interval ${s.interval_schedule.repeat}`;
  return '?';
}

/** How a run started (its `trigger`): a badge a scheduled run and a run started by hand never share. */
const KIND_LABELS: Record<string, string> = { manual: 'manual', schedule: 'scheduled', backfill: 'backfill', upstream: 'upstream', retry: 'retried' };
function triggerBadge(t: Any): string {
  const kind = String(t?.kind ?? 'manual');
  const title = `${KIND_LABELS[kind] ?? kind} by ${t?.by ?? '?'} at ${t?.at ?? '?'}; scheduled time ${t?.scheduled_time ?? '?'}`;
  return `<span class="trigger ${esc(kind)}" data-trigger="${esc(kind)}" title="${esc(title)}">${esc(KIND_LABELS[kind] ?? kind)}</span>`;
}

function fail(err: unknown): void {
  app.insertAdjacentHTML('afterbegin', `<p class="error" data-testid="error">${esc((err as Error).message)}</p>`);
}

// ---- pages -------------------------------------------------------------------------------------

async function definitionsPage(): Promise<void> {
  const defs: Any[] = await api('GET', '/api/process_definitions');
  const recent = await Promise.all(defs.map((d) => api('GET', `/api/processes?process_definition_name=${enc(d.process_definition_name)}&limit=12`)));
  app.innerHTML = `<h1>Process definitions</h1>
  <table data-testid="definitions"><tr><th>Name</th><th>Schedule</th><th>Paused</th><th>Next run</th><th>Last runs</th></tr>
  ${defs.map((d, i) => `<tr data-name="${esc(d.process_definition_name)}">
    <td><a href="#/def/${enc(d.process_definition_name)}">${esc(d.process_definition_name)}</a><div class="meta">${esc(d.process_description ?? '')}</div></td>
    <td>${esc(schedule(d.schedule))}</td><td>${d.paused ? 'paused' : 'no'}</td><td>${esc(when(d.next_run_time))}</td>
    <td><div class="squares">${(recent[i] as Any[]).slice().reverse().map((r) => `<a class="sq ${stateOf(r.status)}" data-trigger="${esc(r.trigger?.kind)}" title="${esc(`${r.status} ${r.start_time} (${KIND_LABELS[r.trigger?.kind] ?? r.trigger?.kind})`)}" href="#/run/${enc(r.process_id)}"></a>`).join('')}</div></td>
  </tr>`).join('')}</table>${defs.length === 0 ? '<p class="meta">No definitions yet: PUT one with the API or <code>sundial apply -f</code>.</p>' : ''}`;
}

async function definitionPage(name: string): Promise<void> {
  const [def, runs] = await Promise.all([
    api('GET', `/api/process_definitions/${enc(name)}`),
    api('GET', `/api/processes?process_definition_name=${enc(name)}&limit=50`),
  ]);
  app.innerHTML = `<h1>${esc(name)} ${def.paused ? '<span class="pill waiting">paused</span>' : ''}</h1>
  <p class="meta">${esc(def.process_description ?? '')}</p>
  <p>Schedule: ${esc(schedule(def.schedule))} · next run ${esc(when(def.next_run_time))} · overlap ${esc(def.overlap_action)} ·
     ${esc(def.runs_succeeded ?? 0)} succeeded, ${esc(def.runs_failed ?? 0)} failed</p>
  ${def.upstream?.length ? `<p data-testid="upstream">Starts after ${(def.upstream as Any[]).map((u) => `<a href="#/def/${enc(u.process_definition_name)}">${esc(u.process_definition_name)}</a> ${esc(u.when)}`).join(', ')}</p>` : ''}
  ${parameterInputs(def.parameters ?? [])}
  <p><button data-action="trigger">Trigger</button>${def.paused ? '<button data-action="resume">Resume</button>' : '<button data-action="pause">Pause</button>'}</p>
  <h2>Tasks</h2><div id="dag"></div>
  <h2>Runs</h2><table data-testid="runs"><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Started</th><th>Duration</th></tr>
  ${(runs as Any[]).map((r) => `<tr data-run="${esc(r.process_id)}"><td><a href="#/run/${enc(r.process_id)}">${esc(r.process_id)}</a></td><td>${pill(r.status)}</td><td>${triggerBadge(r.trigger)} <span class="meta">${esc(r.trigger?.by ?? '')}</span></td><td>${esc(when(r.start_time))}</td><td>${esc(dur(r.start_time, r.end_time))}</td></tr>`).join('')}</table>`;
  drawDag(document.getElementById('dag') as HTMLElement, def.task_definitions, [], location.hash);
  app.querySelector('[data-action="trigger"]')?.addEventListener('click', () => {
    // The values typed in; an empty field leaves the parameter to its default (a required one: the API says so).
    const given = Object.fromEntries(Array.from(app.querySelectorAll<HTMLInputElement>('input[data-parameter]')).filter((i) => i.value !== '').map((i) => [i.dataset.parameter, i.value]));
    const body = Object.keys(given).length > 0 ? { parameters: given } : undefined;
    api('POST', `/api/process_definitions/${enc(name)}/trigger`, body).then((run) => { location.hash = `#/run/${enc(run.process_id)}`; }, fail);
  });
  for (const action of ['pause', 'resume']) {
    app.querySelector(`[data-action="${action}"]`)?.addEventListener('click', () =>
      api('POST', `/api/process_definitions/${enc(name)}/${action}`).then(() => render(), fail));
  }
}

/** A field per parameter a trigger may give (its default as placeholder); a static one is shown, not asked. */
function parameterInputs(declared: Any[]): string {
  if (declared.length === 0) return '';
  return `<h2>Parameters</h2><div class="parameters" data-testid="parameters">${declared.map((p) => p.kind === 'static'
    ? `<label>${esc(p.name)} <span class="meta">${esc(p.default)} (static)</span></label>`
    : `<label title="${esc(p.description ?? '')}">${esc(p.name)}${p.kind === 'required' ? ' *' : ''} <input data-parameter="${esc(p.name)}" placeholder="${esc(p.default ?? '')}"></label>`).join('')}</div>`;
}

/** Every entry of one kind of an attempt, page after page (a run embeds only its last few). */
async function allEntries(task: Any, processId: string, route: 'log_entries' | 'metadata'): Promise<Any[]> {
  const entries: Any[] = [];
  let next: string | undefined;
  do {
    const page = await api('GET', `/api/tasks/${enc(task.task_id)}/${route}?process_id=${enc(processId)}&limit=1000${next ? `&next=${enc(next)}` : ''}`);
    entries.push(...(route === 'log_entries' ? page.log_entries : page.metadata_entries));
    next = page.next;
  } while (next);
  return entries;
}

/** Attempts shown per page of a run, on its timeline and below it. */
const ATTEMPTS_PER_PAGE = 100;
/** Past this many attempts a running run refreshes every 5 s instead of every second. */
const BIG_RUN_ATTEMPTS = 1000;
/** The page of a run's attempts shown and the task name searched: kept while the run's page refreshes. */
let attemptsView = { key: '', page: 0, query: '', serial: 0 };

/**
 * A run and all its attempts: a run whose attempts do not fit in one answer holds the first ones and
 * `attempts_next`, from which its attempts' list goes on a page at a time; then they are put in start order.
 */
async function getRun(id: string): Promise<Any> {
  const run = await api('GET', `/api/processes/${enc(id)}`);
  if (!run.attempts_next) return run;
  for (let next: string | null = run.attempts_next; next !== null;) {
    const page = await call('GET', `/api/tasks?process_id=${enc(run.process_id)}&limit=1000&next=${enc(next)}`);
    run.task.push(...page.json);
    next = page.next;
  }
  (run.task as Any[]).sort((a, b) => a.start_time.localeCompare(b.start_time) || a.task_id.localeCompare(b.task_id));
  return run;
}

async function runPage(id: string): Promise<void> {
  const run = await getRun(id);
  const def = await api('GET', `/api/process_definitions/${enc(run.process_definition_name)}`).catch(() => undefined);
  const tasks: Any[] = run.task;
  const taskDefs: Any[] = def?.task_definitions ?? [...new Set(tasks.map((t) => t.task_definition_name))].map((n) => ({ task_definition_name: n, dependencies: [] }));
  // A refresh of the same run keeps the attempts shown until their next reading replaces them.
  const shownBefore = attemptsView.key === location.hash ? document.getElementById('attempts') : null;
  if (!shownBefore) attemptsView = { key: location.hash, page: 0, query: '', serial: attemptsView.serial };
  const selected = selectAttempts(run);
  const p = run.progress;
  app.innerHTML = `<h1>Run of <a href="#/def/${enc(run.process_definition_name)}">${esc(run.process_definition_name)}</a> ${pill(run.status)}</h1>
  <p class="meta" data-testid="run-id">${esc(run.process_id)}</p>
  <p data-testid="trigger">${triggerBadge(run.trigger)} by ${esc(run.trigger?.by)} at ${esc(when(run.trigger?.at))} · scheduled time ${esc(when(run.trigger?.scheduled_time))}${run.trigger?.previous ? ` · first ${triggerBadge(run.trigger.previous)} by ${esc(run.trigger.previous.by)}` : ''}${run.trigger?.upstream_process_id ? ` · after <a data-testid="upstream-run" href="#/run/${enc(run.trigger.upstream_process_id)}">its upstream run</a>` : ''}</p>
  ${run.parameters?.length ? `<table data-testid="run-parameters"><tr><th>Parameter</th><th>Value</th><th>From</th></tr>${(run.parameters as Any[]).map((p) => `<tr><td>${esc(p.name)}</td><td>${esc(p.value)}</td><td>${esc(p.source)}</td></tr>`).join('')}</table>` : ''}
  <p>Started ${esc(when(run.start_time))} · ${run.end_time ? `ended ${esc(when(run.end_time))} · ` : ''}${esc(dur(run.start_time, run.end_time))}
  ${p ? ` · ${p.succeeded}/${p.total} succeeded, ${p.failed} failed, ${p.running} running, ${p.waiting} waiting` : ''}${run.reason ? ` · <b>${esc(run.reason)}</b>` : ''}</p>
  <p>${run.status === 'running' ? '<button class="danger" data-action="kill">Kill</button>' : ''}${run.status === 'failed' ? '<button data-action="retry">Retry</button>' : ''}</p>
  <div id="dag"></div>
  <h2>Timeline</h2><div class="timeline" id="timeline"></div>
  <h2>Attempts</h2>
  ${tasks.length > ATTEMPTS_PER_PAGE ? `<p class="pager"><label>Find task <input type="search" data-testid="attempt-search" value="${esc(attemptsView.query)}" placeholder="task name"></label>
    <span class="meta" data-testid="attempt-page"></span><button data-turn="-1">‹ Previous</button><button data-turn="1">Next ›</button></p>` : ''}
  <div id="attempts"></div>`;
  if (shownBefore) document.getElementById('attempts')?.replaceWith(shownBefore);
  drawDag(document.getElementById('dag') as HTMLElement, taskDefs, tasks, location.hash);
  const show = (selection: Selection) => {
    showSelection(run, selection);
    return attemptsWithOutput(run, selection).then((outputs) => showAttempts(selection, outputs));
  };
  let typing: number | undefined;
  app.querySelector('[data-testid="attempt-search"]')?.addEventListener('input', (event) => {
    attemptsView.query = (event.target as HTMLInputElement).value;
    attemptsView.page = 0;
    // Each search reads its page's entries and output: once the typing pauses.
    window.clearTimeout(typing);
    typing = window.setTimeout(() => show(selectAttempts(run)).catch(fail), 200);
  });
  app.querySelectorAll<HTMLButtonElement>('.pager [data-turn]').forEach((button) =>
    button.addEventListener('click', () => {
      attemptsView.page += Number(button.dataset.turn);
      show(selectAttempts(run)).catch(fail);
    }));
  for (const action of ['kill', 'retry']) {
    app.querySelector(`[data-action="${action}"]`)?.addEventListener('click', () =>
      api('POST', `/api/processes/${enc(id)}/${action}`).then(() => render(), fail));
  }
  await show(selected);
  if (run.status === 'running') timer = window.setTimeout(() => render(), tasks.length > BIG_RUN_ATTEMPTS ? 5000 : 1000);
}

/** The attempts of the view's page. */
interface Selection {
  /** The view it was made for: a later one replaces it, an earlier one whose reads end late does not. */
  serial: number;
  /** The task name searched, trimmed and lower case ('' for every attempt). */
  query: string;
  matching: number;
  first: number;
  shown: Any[];
}

function selectAttempts(run: Any): Selection {
  const query = attemptsView.query.trim().toLowerCase();
  const matching: Any[] = query ? (run.task as Any[]).filter((t) => t.task_definition_name.toLowerCase().includes(query)) : run.task;
  const pages = Math.max(1, Math.ceil(matching.length / ATTEMPTS_PER_PAGE));
  attemptsView.page = Math.min(Math.max(attemptsView.page, 0), pages - 1);
  const first = attemptsView.page * ATTEMPTS_PER_PAGE;
  return { serial: ++attemptsView.serial, query, matching: matching.length, first, shown: matching.slice(first, first + ATTEMPTS_PER_PAGE) };
}

/** Reads the entries and output of the selected attempts (of these only: a large run has thousands). */
function attemptsWithOutput(run: Any, { shown }: Selection): Promise<Any[]> {
  return Promise.all(shown.map(async (t) => {
    if (t.entries_omitted || t.log_entries_truncated) t.log_entries = await allEntries(t, run.process_id, 'log_entries');
    if (t.entries_omitted || t.metadata_entries_truncated) t.metadata_entries = await allEntries(t, run.process_id, 'metadata');
    t.entries_omitted = t.log_entries_truncated = t.metadata_entries_truncated = false;
    return api('GET', `/api/tasks/${enc(t.task_id)}/output?process_id=${enc(run.process_id)}`).catch(() => ({ lines: [] }));
  }));
}

/** What needs no reading: the pager's line and buttons, and the selected attempts' timeline. */
function showSelection(run: Any, { query, matching, first, shown }: Selection): void {
  const label = app.querySelector('[data-testid="attempt-page"]');
  if (label) {
    const found = query ? ` matching “${esc(query)}”` : '';
    label.innerHTML = matching === 0 ? `no attempt${found}` : `${count(first + 1)}–${count(first + shown.length)} of ${count(matching)}${found}`;
    app.querySelectorAll<HTMLButtonElement>('.pager [data-turn]').forEach((button) => {
      button.disabled = button.dataset.turn === '-1' ? first === 0 : first + shown.length >= matching;
    });
  }
  drawTimeline(document.getElementById('timeline') as HTMLElement, run, shown);
}

/** Each selected attempt: its state, entries and output. */
function showAttempts({ serial, shown }: Selection, outputs: Any[]): void {
  if (serial !== attemptsView.serial) return;
  (document.getElementById('attempts') as HTMLElement).innerHTML = shown.map((t, i) => `<section data-task="${esc(t.task_definition_name)}">
    <h3>${esc(t.task_definition_name)} · attempt ${t.previous_attempt_count + 1} ${pill(t.status)} <span class="meta">${esc(dur(t.start_time, t.end_time))}</span>${t.progress ? ` <span class="meta" data-testid="progress" title="${esc(`reported ${when(t.progress.when)}`)}">${esc(progressText(t.progress))}</span>` : ''}</h3>
    ${t.metadata_entries.length ? `<table><tr><th>Metadata</th><th>Value</th><th>When</th></tr>${t.metadata_entries.map((m: Any) => `<tr><td>${esc(m.key)}</td><td>${esc(m.value)}</td><td>${esc(when(m.when))}</td></tr>`).join('')}</table>` : ''}
    ${t.log_entries.some((l: Any) => l.source !== 'stdout' && l.source !== 'stderr') ? `<table><tr><th>Log</th><th>Source</th><th>When</th></tr>${t.log_entries.filter((l: Any) => l.source !== 'stdout' && l.source !== 'stderr').map((l: Any) => `<tr><td>${esc(l.message)}</td><td>${esc(l.source)}</td><td>${esc(when(l.when))}</td></tr>`).join('')}</table>` : ''}
    <pre class="output" data-testid="output">${(outputs[i]?.lines ?? []).map((l: Any) => `<span class="${esc(l.stream)}">${esc(l.message)}</span>`).join('\n') || '<span class="meta">(no output)</span>'}${outputs[i]?.note ? `\n<span class="meta">${esc(outputs[i].note)}</span>` : ''}</pre>
  </section>`).join('');
}

// ---- the timeline ------------------------------------------------------------------------------

/** The bars of `shown` on the time axis of the whole run (its start to its last attempt's end). */
function drawTimeline(el: HTMLElement, run: Any, shown: Any[]): void {
  const start = Date.parse(run.start_time);
  let end = Math.max(run.end_time ? Date.parse(run.end_time) : Date.now(), start + 1);
  for (const a of run.task as Any[]) end = Math.max(end, a.end_time ? Date.parse(a.end_time) : Date.now());
  const pct = (t: number) => ((t - start) / (end - start)) * 100;
  el.innerHTML = shown.map((a) => {
    const from = pct(Date.parse(a.start_time));
    const to = pct(a.end_time ? Date.parse(a.end_time) : Date.now());
    return `<div class="row"><div class="bar ${stateOf(a.status)}" style="left:${from}%;width:${Math.max(to - from, 0.8)}%" title="${esc(`${a.task_definition_name} #${a.previous_attempt_count + 1} ${a.status}`)}">${esc(a.task_definition_name)} #${a.previous_attempt_count + 1} ${esc(dur(a.start_time, a.end_time))}</div></div>`;
  }).join('') || '<span class="meta">no attempts yet</span>';
}

// ---- sign-in (deployed only) -------------------------------------------------------------------

function signInPage(auth: ConsoleAuth, challenge?: Challenge, error?: string): void {
  const ask = challenge?.name === 'NEW_PASSWORD_REQUIRED' ? 'New password' : challenge ? 'Authenticator code' : undefined;
  app.innerHTML = `<h1>Sign in</h1>${error ? `<p class="error" data-testid="error">${esc(error)}</p>` : ''}
  <form class="signin" data-testid="signin">
    ${ask ? `<label>${ask} <input name="value" type="${challenge?.name === 'NEW_PASSWORD_REQUIRED' ? 'password' : 'text'}" autocomplete="${challenge?.name === 'NEW_PASSWORD_REQUIRED' ? 'new-password' : 'one-time-code'}" required></label>`
      : `<label>User name <input name="username" autocomplete="username" required></label>
         <label>Password <input name="password" type="password" autocomplete="current-password" required></label>`}
    <button type="submit">${ask ? 'Continue' : 'Sign in'}</button></form>`;
  const form = app.querySelector('form') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const step = challenge ? auth.answer(challenge, String(data.get('value'))) : auth.signIn(String(data.get('username')), String(data.get('password')));
    step.then(
      (next) => (next ? signInPage(auth, next) : (showUser(), render())),
      (err: Error) => signInPage(auth, undefined, err.message),
    );
  });
}

function showUser(): void {
  const el = document.getElementById('api-url') as HTMLElement;
  el.textContent = API || location.origin;
  if (AUTH?.username) {
    el.insertAdjacentHTML('beforeend', ` · ${esc(AUTH.username)} · <a href="#/" data-action="sign-out">Sign out</a>`);
    el.querySelector('[data-action="sign-out"]')?.addEventListener('click', () => { AUTH.signOut(); showUser(); void render(); });
  }
}

// ---- routing -----------------------------------------------------------------------------------

async function render(): Promise<void> {
  window.clearTimeout(timer);
  if (AUTH && !AUTH.signedIn) return signInPage(AUTH);
  const [, page, arg] = /^#\/(def|run)\/(.+)$/.exec(location.hash) ?? [];
  const typing = document.activeElement instanceof HTMLInputElement && document.activeElement.type === 'search' ? document.activeElement : undefined;
  try {
    if (page === 'def' && arg) await definitionPage(decodeURIComponent(arg));
    else if (page === 'run' && arg) await runPage(decodeURIComponent(arg));
    else await definitionsPage();
    // A running run's refresh draws its page anew: the search field being typed in keeps focus and caret.
    const again = typing && app.querySelector<HTMLInputElement>(`input[data-testid="${typing.dataset.testid}"]`);
    if (again && again !== typing) {
      again.focus();
      again.setSelectionRange(typing.selectionStart, typing.selectionEnd);
    }
  } catch (err) {
    app.innerHTML = '';
    fail(err);
  }
}

showUser();
window.addEventListener('hashchange', () => void render());
void render();
