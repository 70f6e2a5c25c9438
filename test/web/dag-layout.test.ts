/**
 * The console's collapsed DAG layout (web/dag-layout.ts): layers, columns, group nodes and the edges
 * between drawn nodes, on DAGs of 10,000 tasks (the browser test draws them: test/browser/scale.browser.ts).
 */
import { describe, expect, it } from 'vitest';
import { collapse, COLUMNS_MAX, type DagTaskDef, GROUP_NODE, layersOf, TASK_NODE } from '../../web/dag-layout';

const task = (name: string, deps: string[] = [], optional = false): DagTaskDef => ({
  task_definition_name: name,
  dependencies: deps.map((d) => ({ task_definition_name: d, success_required: !optional })),
});

/** `layers` × `width`, each task depending on two neighbours of the layer above (as the bench's DAG). */
function layered(layers: number, width: number): DagTaskDef[] {
  const tasks: DagTaskDef[] = [];
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) tasks.push(task(`t${l}-${i}`, l === 0 ? [] : [`t${l - 1}-${(i + width - 1) % width}`, `t${l - 1}-${i}`]));
  }
  return tasks;
}

describe('layersOf', () => {
  it('puts each task one layer after its deepest dependency, ignoring unknown names', () => {
    const layers = layersOf([task('load', ['clean', 'audit']), task('clean', ['extract']), task('extract', ['gone']), task('audit', ['extract', 'clean'], true)]);
    expect(Object.fromEntries(layers)).toEqual({ extract: 0, clean: 1, audit: 2, load: 3 });
  });

  it('puts the tasks of a cycle (which PUT refuses) after every other rather than losing them', () => {
    const layers = layersOf([task('a'), task('b', ['a', 'c']), task('c', ['b'])]);
    expect(Object.fromEntries(layers)).toEqual({ a: 0, b: 1, c: 1 });
  });
});

describe('collapse', () => {
  it('draws 10 layers of 1,000 tasks as 10 group nodes side by side, joined by one edge per pair of layers', () => {
    const dag = collapse(layered(10, 1000));

    expect(dag.layers).toBe(10);
    expect(dag.nodes.map((n) => [n.id, n.kind, n.tasks.length, n.layers])).toEqual(Array.from({ length: 10 }, (_, l) => [`#${l + 1}`, 'group', 1000, [l, l]]));
    expect(dag.nodes[3]?.tasks.slice(0, 2)).toEqual(['t3-0', 't3-1']);
    expect(dag.edges.map((e) => [e.from, e.to, e.count, e.optional])).toEqual(Array.from({ length: 9 }, (_, l) => [`#${l + 1}`, `#${l + 2}`, 2000, false]));
    // Left to right in layer order, on one line
    const xs = dag.nodes.map((n) => n.x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(new Set(dag.nodes.map((n) => n.y)).size).toBe(1);
    expect(dag.width).toBeGreaterThan(10 * GROUP_NODE.width);
    expect(dag.height).toBeGreaterThanOrEqual(GROUP_NODE.height);
  });

  it('puts consecutive layers of a long chain in one column each, at most COLUMNS_MAX of them', () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => task(`c${i}`, i === 0 ? [] : [`c${i - 1}`]));
    const dag = collapse(chain);

    expect(dag.nodes).toHaveLength(COLUMNS_MAX);
    expect(dag.nodes[0]).toMatchObject({ id: '#1', kind: 'group', layers: [0, 249] });
    expect(dag.nodes[39]).toMatchObject({ id: '#9751', layers: [9750, 9999] });
    expect(dag.nodes.every((n) => n.tasks.length === 250)).toBe(true);
    // Only the dependency crossing from one column to the next is drawn
    expect(dag.edges).toHaveLength(39);
    expect(dag.edges.every((e) => e.count === 1)).toBe(true);
  });

  it('draws the tasks of a small layer as themselves beside the group of a large one', () => {
    const tasks = [task('start'), ...Array.from({ length: 1000 }, (_, i) => task(`w${i}`, ['start'], i % 2 === 0)), task('end', Array.from({ length: 1000 }, (_, i) => `w${i}`)), task('report', ['end'], true)];
    const dag = collapse(tasks);

    expect(dag.nodes.map((n) => [n.id, n.kind, n.width])).toEqual([
      ['start', 'task', TASK_NODE.width],
      ['#2', 'group', GROUP_NODE.width],
      ['end', 'task', TASK_NODE.width],
      ['report', 'task', TASK_NODE.width],
    ]);
    // An edge is optional only when every dependency it stands for is
    expect(dag.edges.map((e) => [e.from, e.to, e.count, e.optional])).toEqual([
      ['start', '#2', 1000, false],
      ['#2', 'end', 1000, false],
      ['end', 'report', 1, true],
    ]);
    // The nodes of a column are stacked and centred on the tallest column
    expect(dag.nodes[0]?.y).toBe(12 + (GROUP_NODE.height - TASK_NODE.height) / 2);
  });
});
