/**
 * The text view of a run's DAG that `sundial trigger --wait` redraws: tasks in dependency order, each
 * running one with its progress.
 */

export interface TaskView {
  task_id: string;
  task_definition_name: string;
  previous_attempt_count: number;
  status: string;
  start_time: string;
  end_time?: string;
  /** What the attempt last reported through `POST /api/tasks/{task_id}/progress`. */
  progress?: { percent: number; message?: string };
}

export interface RunView {
  process_id: string;
  process_definition_name: string;
  status: string;
  start_time: string;
  end_time?: string;
  reason?: string;
  task: TaskView[];
}

interface DefinitionView {
  task_definitions: { task_definition_name: string; dependencies: { task_definition_name: string; success_required?: boolean }[] }[];
}

/** Task names by depth (longest path from a root), then by name. */
export function dagOrder(def: DefinitionView): { name: string; depth: number; deps: string[] }[] {
  const byName = new Map(def.task_definitions.map((t) => [t.task_definition_name, t]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string> = new Set()): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = byName.get(name)?.dependencies ?? [];
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => depthOf(x.task_definition_name, seen)));
    depth.set(name, d);
    return d;
  };
  return def.task_definitions
    .map((t) => ({ name: t.task_definition_name, depth: depthOf(t.task_definition_name), deps: t.dependencies.map((d) => d.task_definition_name) }))
    .sort((a, b) => a.depth - b.depth || a.name.localeCompare(b.name));
}

const COLOURS: Record<string, string> = { succeeded: '32', failed: '31', running: '33', waiting: '90' };
const SYMBOLS: Record<string, string> = { succeeded: '✔', failed: '✘', running: '●', waiting: '○' };

const seconds = (from: string, to: Date) => `${((to.getTime() - Date.parse(from)) / 1000).toFixed(1)}s`;

/** Characters of a progress message shown on a task's line (the API takes up to 1,000). */
export const PROGRESS_MESSAGE_WIDTH = 60;

/** A running attempt's progress as its line ends: `  42.5% loading partition 3 of 8` (one decimal at most). */
function progressText(progress: TaskView['progress']): string {
  if (!progress) return '';
  const message = progress.message ?? '';
  const shown = message.length > PROGRESS_MESSAGE_WIDTH ? `${message.slice(0, PROGRESS_MESSAGE_WIDTH - 1)}…` : message;
  return `  ${Number(progress.percent.toFixed(1))}%${shown ? ` ${shown}` : ''}`;
}

export function renderProgress(def: DefinitionView, run: RunView, now: Date, colour: boolean): string {
  const paint = (state: string, s: string) => (colour ? `\x1b[${COLOURS[state] ?? '0'}m${s}\x1b[0m` : s);
  // Grouped once: a run has up to 10,000 tasks.
  const byName = new Map<string, TaskView[]>();
  for (const t of run.task) {
    const attempts = byName.get(t.task_definition_name);
    if (attempts) attempts.push(t);
    else byName.set(t.task_definition_name, [t]);
  }
  const rows = dagOrder(def).map(({ name, depth, deps }) => {
    const attempts = (byName.get(name) ?? []).sort((a, b) => a.previous_attempt_count - b.previous_attempt_count);
    const latest = attempts.at(-1);
    const state = !latest ? 'waiting' : latest.status === 'succeeded' || latest.status === 'failed' ? latest.status : 'running';
    const took = latest ? seconds(latest.start_time, latest.end_time ? new Date(latest.end_time) : now) : '';
    const tries = attempts.length > 1 ? ` (${attempts.length} attempts)` : '';
    // Progress only while the task runs: once it ended, its state says what happened.
    const progress = state === 'running' ? progressText(latest?.progress) : '';
    const after = deps.length > 0 ? `  ← ${deps.join(', ')}` : '';
    return `  ${'  '.repeat(depth)}${paint(state, `${SYMBOLS[state]} ${name}`)}  ${state}${tries} ${took}${progress}${after}`;
  });
  const done = run.status === 'running' ? '' : ` in ${seconds(run.start_time, new Date(run.end_time ?? now))}`;
  const head = `run ${run.process_id} of ${run.process_definition_name}: ${paint(run.status === 'running' ? 'running' : run.status, run.status)}${done}${run.reason ? ` (${run.reason})` : ''}`;
  return [head, ...rows].join('\n');
}
