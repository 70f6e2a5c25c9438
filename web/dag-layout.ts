/**
 * Where the console's DAG puts its nodes, at any size (web/dag.ts draws them). Pure: no DOM.
 *
 * Up to {@link DRAWN_TASKS_MAX} tasks, every task is a node and dagre lays them out, as the console always
 * drew a DAG (web/dag.ts). dagre's layout grows far faster than the DAG: in Chromium a 1,000-task DAG took
 * ~20 s and a 10,000-task one overflowed its recursion (docs/PERFORMANCE.md, "Console at 10,000 tasks").
 * A larger DAG is drawn collapsed, laid out here in O(tasks + dependencies):
 *
 * - each task's layer is its longest path from a root (Kahn's topological order);
 * - consecutive layers share a column when there are more than {@link COLUMNS_MAX} of them (a chain of
 *   10,000 tasks is 40 columns of 250);
 * - a column of more than {@link TASKS_PER_COLUMN_MAX} tasks is one group node (web/dag.ts shows its counts
 *   by status and lists its tasks when expanded), a smaller one its tasks;
 * - the dependencies between two drawn nodes are one edge; the columns stand side by side, left to right
 *   in layer order, each with its nodes stacked and centred.
 */

export interface DagTaskDef {
  task_definition_name: string;
  dependencies: ReadonlyArray<{ task_definition_name: string; success_required?: boolean }>;
}

/** A DAG of more tasks than this is drawn collapsed. */
export const DRAWN_TASKS_MAX = 150;
/** Columns of a collapsed DAG at most. */
export const COLUMNS_MAX = 40;
/** A column of a collapsed DAG with more tasks than this is one group node. */
export const TASKS_PER_COLUMN_MAX = 4;

export const TASK_NODE = { width: 170, height: 64 };
export const GROUP_NODE = { width: 220, height: 96 };
const MARGIN = 12;
const NODE_GAP = 24;
const COLUMN_GAP = 70;

/** Each task's layer: 0 for a task without dependencies, else one more than its deepest dependency. */
export function layersOf(taskDefs: readonly DagTaskDef[]): Map<string, number> {
  const names = new Set(taskDefs.map((t) => t.task_definition_name));
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const t of taskDefs) {
    const deps = t.dependencies.filter((d) => names.has(d.task_definition_name));
    waitingOn.set(t.task_definition_name, deps.length);
    for (const d of deps) {
      const list = dependents.get(d.task_definition_name);
      if (list) list.push(t.task_definition_name);
      else dependents.set(d.task_definition_name, [t.task_definition_name]);
    }
  }
  const layer = new Map<string, number>();
  const order = taskDefs.filter((t) => waitingOn.get(t.task_definition_name) === 0).map((t) => t.task_definition_name);
  for (const name of order) layer.set(name, 0);
  for (let i = 0; i < order.length; i++) {
    const name = order[i] as string;
    const next = (layer.get(name) ?? 0) + 1;
    for (const d of dependents.get(name) ?? []) {
      layer.set(d, Math.max(layer.get(d) ?? 0, next));
      const left = (waitingOn.get(d) ?? 0) - 1;
      waitingOn.set(d, left);
      if (left === 0) order.push(d);
    }
  }
  // A cycle (PUT refuses one): its tasks in one layer after every other, rather than lost.
  const after = order.reduce((max, name) => Math.max(max, layer.get(name) ?? 0), -1) + 1;
  for (const t of taskDefs) if (waitingOn.get(t.task_definition_name) !== 0) layer.set(t.task_definition_name, after);
  return layer;
}

export interface DrawnNode {
  /** The task's name, or for a group `#` and its first layer, counted from 1 (`#9`: layer 9 or layers 9–…). */
  id: string;
  kind: 'task' | 'group';
  column: number;
  /** The layers the node's tasks are in (0-based, first and last). */
  layers: [number, number];
  /** Its tasks, in the definition's order. */
  tasks: string[];
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DrawnEdge {
  from: string;
  to: string;
  /** Dependencies it stands for. */
  count: number;
  /** Every one of them optional (`success_required: false`). */
  optional: boolean;
  /** A cubic Bézier from the right side of `from` to the left side of `to`. */
  d: string;
}

export interface CollapsedDag {
  nodes: DrawnNode[];
  edges: DrawnEdge[];
  width: number;
  height: number;
  layers: number;
}

/** The collapsed drawing of a DAG (see the header), in O(tasks + dependencies). */
export function collapse(taskDefs: readonly DagTaskDef[]): CollapsedDag {
  const layer = layersOf(taskDefs);
  const layers = Math.max(0, deepest(layer)) + 1;
  const perColumn = Math.ceil(layers / COLUMNS_MAX);
  const columns: string[][] = Array.from({ length: Math.ceil(layers / perColumn) }, () => []);
  for (const t of taskDefs) columns[Math.floor((layer.get(t.task_definition_name) ?? 0) / perColumn)]?.push(t.task_definition_name);

  const nodes: DrawnNode[] = [];
  const nodeOf = new Map<string, DrawnNode>();
  const columnHeights = columns.map((names, c) => {
    const span: [number, number] = [c * perColumn, Math.min(layers - 1, (c + 1) * perColumn - 1)];
    const drawn: DrawnNode[] = names.length > TASKS_PER_COLUMN_MAX
      ? [{ id: `#${span[0] + 1}`, kind: 'group', column: c, layers: span, tasks: names, x: 0, y: 0, ...GROUP_NODE }]
      : names.map((name) => ({ id: name, kind: 'task', column: c, layers: [layer.get(name) ?? 0, layer.get(name) ?? 0], tasks: [name], x: 0, y: 0, ...TASK_NODE }));
    for (const n of drawn) for (const name of n.tasks) nodeOf.set(name, n);
    nodes.push(...drawn);
    return drawn.reduce((h, n) => h + n.height, 0) + NODE_GAP * (drawn.length - 1);
  });
  const height = Math.max(0, ...columnHeights);
  const offsets = columns.map((_, c) => MARGIN + (height - (columnHeights[c] ?? 0)) / 2);
  for (const n of nodes) {
    n.x = MARGIN + n.column * (GROUP_NODE.width + COLUMN_GAP) + (GROUP_NODE.width - n.width) / 2;
    n.y = offsets[n.column] ?? MARGIN;
    offsets[n.column] = n.y + n.height + NODE_GAP;
  }

  const edges = new Map<string, DrawnEdge>();
  for (const t of taskDefs) {
    const to = nodeOf.get(t.task_definition_name);
    for (const dep of t.dependencies) {
      const from = nodeOf.get(dep.task_definition_name);
      if (!to || !from || from === to) continue;
      const key = `${from.id}\n${to.id}`;
      const seen = edges.get(key);
      const optional = dep.success_required === false;
      if (seen) {
        seen.count++;
        seen.optional &&= optional;
      } else {
        edges.set(key, { from: from.id, to: to.id, count: 1, optional, d: curve(from, to) });
      }
    }
  }
  const width = columns.length === 0 ? 0 : 2 * MARGIN + columns.length * GROUP_NODE.width + (columns.length - 1) * COLUMN_GAP;
  return { nodes, edges: [...edges.values()], width, height: height + 2 * MARGIN, layers };
}

/** The deepest layer (-1 when none): a loop, since spreading 10,000 values into Math.max risks the stack. */
function deepest(layer: ReadonlyMap<string, number>): number {
  let max = -1;
  for (const l of layer.values()) if (l > max) max = l;
  return max;
}

function curve(from: DrawnNode, to: DrawnNode): string {
  const [x1, y1] = [from.x + from.width, from.y + from.height / 2];
  const [x2, y2] = [to.x, to.y + to.height / 2];
  const bend = Math.max(COLUMN_GAP / 2, (x2 - x1) / 3);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}
