/// <reference lib="dom" />
/**
 * The DAG of a definition or a run, coloured by each task's latest attempt. A small DAG (up to
 * DRAWN_TASKS_MAX tasks) is every task as a node laid out by dagre. A larger one is drawn collapsed
 * (web/dag-layout.ts): a layer of many tasks is one node with its counts by status; clicking it lists its
 * tasks below the graph, a page at a time, and "Find task" marks the layers whose task names match and
 * filters those lists. What is expanded and searched survives the page's refresh (per page, by `key`).
 * Each drawing is measured as the User Timing entry `sundial:dag` (DevTools' Performance panel shows it).
 */
import dagre from '@dagrejs/dagre';
import { collapse, type DagTaskDef, DRAWN_TASKS_MAX, type DrawnNode } from './dag-layout';
import { COLOURS, count, cut, dur, esc, pill, progressText, type State, stateOf } from './format';

type Any = any;

/** Tasks listed per page of an expanded layer. */
const TASKS_PER_PAGE = 50;
const STATES: readonly State[] = ['succeeded', 'failed', 'running', 'waiting'];

/** Each task's latest attempt and how many it had. */
interface Latest {
  last: Any;
  attempts: number;
}

interface View {
  key: string;
  expanded: Set<string>;
  query: string;
  pages: Map<string, number>;
}
let view: View = { key: '', expanded: new Set(), query: '', pages: new Map() };

export function drawDag(el: HTMLElement, taskDefs: DagTaskDef[], attempts: Any[], key: string): void {
  const start = performance.now();
  const latest = new Map<string, Latest>();
  for (const a of attempts) {
    const seen = latest.get(a.task_definition_name);
    if (!seen) latest.set(a.task_definition_name, { last: a, attempts: 1 });
    else {
      seen.attempts++;
      if (a.previous_attempt_count > seen.last.previous_attempt_count) seen.last = a;
    }
  }
  const ran = attempts.length > 0;
  if (taskDefs.length <= DRAWN_TASKS_MAX) drawAll(el, taskDefs, latest, ran);
  else {
    if (view.key !== key) view = { key, expanded: new Set(), query: '', pages: new Map() };
    drawCollapsed(el, taskDefs, latest, ran);
  }
  performance.measure('sundial:dag', { start, detail: { tasks: taskDefs.length } });
}

/** Every task a node, laid out by dagre. */
function drawAll(el: HTMLElement, taskDefs: DagTaskDef[], latest: Map<string, Latest>, ran: boolean): void {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(taskDefs.map((t) => t.task_definition_name));
  for (const t of taskDefs) g.setNode(t.task_definition_name, { width: 170, height: 64 });
  for (const t of taskDefs) {
    for (const d of t.dependencies) if (names.has(d.task_definition_name)) g.setEdge(d.task_definition_name, t.task_definition_name, { optional: d.success_required === false });
  }
  dagre.layout(g);
  const graph = g.graph();
  const edges = g.edges().map((e) => {
    const edge = g.edge(e) as Any;
    const pts: Any[] = edge.points ?? [];
    const d = pts.map((pt, i) => `${i === 0 ? 'M' : 'L'}${pt.x},${pt.y}`).join(' ');
    return `<path class="edge${edge.optional ? ' optional' : ''}" data-edge="${esc(`${e.v}->${e.w}`)}" d="${d}" marker-end="url(#arrow)"/>`;
  });
  const nodes = g.nodes().map((name) => {
    const n = g.node(name);
    return taskNode(name, n.x - n.width / 2, n.y - n.height / 2, latest.get(name), ran);
  });
  el.innerHTML = svg(graph.width ?? 0, graph.height ?? 0, edges.join('') + nodes.join(''));
}

function svg(width: number, height: number, body: string): string {
  return `<svg class="dag" data-testid="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b747c"/></marker></defs>
    ${body}</svg>`;
}

/** One task's node (170 × 64): its name, attempts and duration, and a running task's reported progress. */
function taskNode(name: string, x: number, y: number, latest: Latest | undefined, ran: boolean, match = false): string {
  const [width, height] = [170, 64];
  const last = latest?.last;
  const state = stateOf(last?.status);
  const detail = latest ? `${latest.attempts} attempt${latest.attempts > 1 ? 's' : ''} · ${dur(last.start_time, last.end_time)}` : ran ? 'not started' : '';
  // A running task's reported progress: a bar along the node's foot and its text (in full in the title).
  const progress = state === 'running' ? last?.progress : undefined;
  const bar = progress
    ? `<rect class="progress" data-testid="progress" data-percent="${esc(progress.percent)}" x="0" y="${height - 5}" width="${(width * progress.percent) / 100}" height="5"/>
      <text x="10" y="52">${esc(cut(progressText(progress), 24))}</text>`
    : '';
  return `<g class="node${match ? ' match' : ''}" data-node="${esc(name)}" data-status="${state}" transform="translate(${x},${y})">
      <title>${esc(`${name}: ${last?.status ?? 'not started'}${progress ? ` · ${progressText(progress)}` : ''}`)}</title>
      <rect width="${width}" height="${height}" rx="6" fill="${COLOURS[state]}"/>
      <text x="10" y="20" font-weight="600">${esc(cut(name, 22))}</text>
      <text x="10" y="36">${esc(detail)}</text>${bar}</g>`;
}

// ---- collapsed ---------------------------------------------------------------------------------

function drawCollapsed(el: HTMLElement, taskDefs: DagTaskDef[], latest: Map<string, Latest>, ran: boolean): void {
  const dag = collapse(taskDefs);
  el.innerHTML = `<p class="dag-tools"><label>Find task <input type="search" data-testid="dag-search" value="${esc(view.query)}" placeholder="task name"></label>
    <span class="meta">${count(taskDefs.length)} tasks in ${count(dag.layers)} layers: click a layer to list its tasks</span></p>
    <div data-part="graph" class="dag-scroll"></div><div data-part="layers"></div>`;
  const graph = el.querySelector('[data-part="graph"]') as HTMLElement;
  const lists = el.querySelector('[data-part="layers"]') as HTMLElement;
  const rows = ran ? attemptRows(latest) : definitionRows(new Map(taskDefs.map((t) => [t.task_definition_name, t])));
  const groups = new Map(dag.nodes.filter((n) => n.kind === 'group').map((n) => [n.id, n]));
  const redraw = () => {
    const query = view.query.trim().toLowerCase();
    const matches = (name: string) => query !== '' && name.toLowerCase().includes(query);
    const edges = dag.edges.map((e) => `<path class="edge${e.optional ? ' optional' : ''}" data-edge="${esc(`${e.from}->${e.to}`)}" d="${e.d}" marker-end="url(#arrow)"><title>${esc(`${count(e.count)} dependenc${e.count > 1 ? 'ies' : 'y'}`)}</title></path>`);
    const nodes = dag.nodes.map((n) => (n.kind === 'task' ? taskNode(n.id, n.x, n.y, latest.get(n.id), ran, matches(n.id)) : groupNode(n, latest, ran, n.tasks.filter(matches).length)));
    graph.innerHTML = svg(dag.width, dag.height, edges.join('') + nodes.join(''));
    lists.innerHTML = [...groups.values()].filter((n) => view.expanded.has(n.id)).map((n) => layerList(n, rows, query, matches)).join('');
  };
  redraw();
  el.querySelector('[data-testid="dag-search"]')?.addEventListener('input', (event) => {
    view.query = (event.target as HTMLInputElement).value;
    view.pages.clear();
    redraw();
  });
  el.addEventListener('click', (event) => {
    const target = event.target as Element;
    const group = target.closest<SVGGElement>('[data-group]')?.dataset.group ?? target.closest<HTMLElement>('[data-close]')?.dataset.close;
    const turn = target.closest<HTMLElement>('[data-turn]');
    if (group !== undefined && groups.has(group)) {
      if (!view.expanded.delete(group)) view.expanded.add(group);
    } else if (turn) {
      const id = turn.dataset.layer as string;
      view.pages.set(id, (view.pages.get(id) ?? 0) + Number(turn.dataset.turn));
    } else return;
    redraw();
  });
  // A group is a button: Enter or Space opens or closes its list as a click does.
  el.addEventListener('keydown', (event) => {
    const group = (event.target as Element).closest?.('[data-group]');
    if (!group || (event.key !== 'Enter' && event.key !== ' ')) return;
    event.preventDefault();
    const id = (group as SVGGElement).dataset.group as string;
    group.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    el.querySelector<SVGGElement>(`[data-group="${id}"]`)?.focus();
  });
}

/** The name of a node's layers, 1-based as operators count: `layer 3`, `layers 3–7`. */
const layerName = (n: DrawnNode) => (n.layers[0] === n.layers[1] ? `layer ${n.layers[0] + 1}` : `layers ${n.layers[0] + 1}–${n.layers[1] + 1}`);

/**
 * A group: its layers, how many tasks, a bar and counts by state. Its colour is the most pressing of its
 * tasks' states: failed if one failed, else running if one runs, else waiting if one waits, else succeeded.
 */
function groupNode(n: DrawnNode, latest: Map<string, Latest>, ran: boolean, matches: number): string {
  const counts: Record<State, number> = { succeeded: 0, failed: 0, running: 0, waiting: 0 };
  for (const name of n.tasks) counts[stateOf(latest.get(name)?.last?.status)]++;
  const state: State = counts.failed ? 'failed' : counts.running ? 'running' : counts.waiting ? 'waiting' : 'succeeded';
  let x = 10;
  const bar = STATES.filter((s) => counts[s] > 0).map((s) => {
    const w = ((n.width - 20) * counts[s]) / n.tasks.length;
    x += w;
    return `<rect class="share" x="${x - w}" y="46" width="${w}" height="10" fill="${COLOURS[s]}"/>`;
  });
  const said = (states: readonly State[]) => states.filter((s) => counts[s] > 0).map((s) => `${count(counts[s])} ${s}`).join(' · ');
  const summary = said(STATES);
  const data = ran ? STATES.map((s) => ` data-${s}="${counts[s]}"`).join('') : '';
  return `<g class="node group${matches ? ' match' : ''}${view.expanded.has(n.id) ? ' expanded' : ''}" data-group="${esc(n.id)}" data-tasks="${n.tasks.length}"${data} data-status="${ran ? state : 'waiting'}" data-matches="${matches}" transform="translate(${n.x},${n.y})" tabindex="0" role="button">
      <title>${esc(`${layerName(n)}: ${count(n.tasks.length)} tasks${ran ? ` · ${summary}` : ''}; click to list them`)}</title>
      <rect width="${n.width}" height="${n.height}" rx="6" fill="${ran ? COLOURS[state] : '#5b6670'}"/>
      <text x="10" y="20" font-weight="600">${esc(layerName(n))}</text>
      <text x="10" y="38" data-testid="group-count">${count(n.tasks.length)} tasks${matches ? ` · ${count(matches)} found` : ''}</text>
      ${ran ? `<rect class="track" x="10" y="46" width="${n.width - 20}" height="10"/>${bar.join('')}
      <text data-testid="group-summary"><tspan x="10" y="72">${esc(said(['succeeded', 'failed']))}</tspan><tspan x="10" y="86">${esc(said(['running', 'waiting']))}</tspan></text>` : ''}</g>`;
}

/** How an expanded group lists a task: its columns' names, and a task's row. */
interface Rows {
  head: string[];
  row: (name: string) => string;
}

/** A run's tasks: each one's latest attempt. */
const attemptRows = (latest: Map<string, Latest>): Rows => ({
  head: ['Task', 'Status', 'Attempts', 'Duration', 'Progress'],
  row: (name) => {
    const l = latest.get(name);
    return `<tr data-node="${esc(name)}" data-status="${stateOf(l?.last?.status)}"><td>${esc(name)}</td><td>${l ? pill(l.last.status) : '<span class="meta">not started</span>'}</td>
      <td>${l?.attempts ?? 0}</td><td>${esc(dur(l?.last?.start_time, l?.last?.end_time))}</td><td class="meta">${esc(progressText(l?.last?.progress))}</td></tr>`;
  },
});

/** A definition's tasks: each one's dependencies. */
const definitionRows = (defs: Map<string, DagTaskDef>): Rows => ({
  head: ['Task', 'Depends on'],
  row: (name) => `<tr data-node="${esc(name)}"><td>${esc(name)}</td><td>${esc(cut((defs.get(name)?.dependencies ?? []).map((d) => d.task_definition_name).join(', '), 120))}</td></tr>`,
});

/** An expanded group's tasks, a page at a time, filtered by the search. */
function layerList(n: DrawnNode, rows: Rows, query: string, matches: (name: string) => boolean): string {
  const names = query === '' ? n.tasks : n.tasks.filter(matches);
  const pages = Math.max(1, Math.ceil(names.length / TASKS_PER_PAGE));
  const page = Math.min(Math.max(view.pages.get(n.id) ?? 0, 0), pages - 1);
  view.pages.set(n.id, page);
  const shown = names.slice(page * TASKS_PER_PAGE, (page + 1) * TASKS_PER_PAGE);
  const found = query === '' ? '' : ` matching “${esc(query)}”`;
  return `<section class="dag-layer" data-layer="${esc(n.id)}">
    <h3>${esc(layerName(n))} · ${count(n.tasks.length)} tasks <button data-close="${esc(n.id)}">Close</button></h3>
    <table data-testid="layer-tasks"><tr>${rows.head.map((h) => `<th>${h}</th>`).join('')}</tr>${shown.map(rows.row).join('')}</table>
    <p class="meta" data-testid="layer-page">${names.length === 0 ? `no task${found}` : `${count(page * TASKS_PER_PAGE + 1)}–${count(page * TASKS_PER_PAGE + shown.length)} of ${count(names.length)}${found}`}
      <button data-layer="${esc(n.id)}" data-turn="-1"${page === 0 ? ' disabled' : ''}>‹ Previous</button><button data-layer="${esc(n.id)}" data-turn="1"${page >= pages - 1 ? ' disabled' : ''}>Next ›</button></p>
  </section>`;
}
