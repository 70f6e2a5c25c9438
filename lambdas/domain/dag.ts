/**
 * The task DAG of a process definition: structural checks (unique names, known dependencies, no cycle)
 * and the order the engine plans in.
 */
import { BadRequestError } from './errors';
import type { TaskDefinition } from './models';

/**
 * Throws a `BadRequestError` naming the field for duplicate task names, duplicate or unknown
 * dependencies, self-dependencies and cycles (the cycle is named, e.g. `a -> b -> a`).
 */
export function validateDag(tasks: readonly TaskDefinition[]): void {
  const index = new Map<string, number>();
  tasks.forEach((task, i) => {
    if (index.has(task.task_definition_name)) {
      throw new BadRequestError(
        `duplicate task_definition_name "${task.task_definition_name}"`,
        `task_definitions.${i}.task_definition_name`,
        'duplicate_task',
      );
    }
    index.set(task.task_definition_name, i);
  });

  tasks.forEach((task, i) => {
    const seen = new Set<string>();
    task.dependencies.forEach((dep, j) => {
      const field = `task_definitions.${i}.dependencies.${j}.task_definition_name`;
      const depName = dep.task_definition_name;
      if (depName === task.task_definition_name) {
        throw new BadRequestError(`task "${depName}" depends on itself`, field, 'dependency_cycle');
      }
      if (!index.has(depName)) {
        throw new BadRequestError(
          `task "${task.task_definition_name}" depends on unknown task "${depName}"`,
          field,
          'unknown_dependency',
        );
      }
      if (seen.has(depName)) {
        throw new BadRequestError(`task "${task.task_definition_name}" lists dependency "${depName}" twice`, field, 'duplicate_dependency');
      }
      seen.add(depName);
    });
  });

  const cycle = findCycle(tasks);
  if (cycle) {
    const first = cycle[0] ?? '';
    throw new BadRequestError(`dependency cycle: ${cycle.join(' -> ')}`, `task_definitions.${index.get(first)}.dependencies`, 'dependency_cycle');
  }
}

/** A cycle as a list of names whose first and last are the same, or undefined for a DAG. Iterative DFS. */
export function findCycle(tasks: readonly TaskDefinition[]): string[] | undefined {
  const deps = new Map(tasks.map((t) => [t.task_definition_name, t.dependencies.map((d) => d.task_definition_name)]));
  const state = new Map<string, 'visiting' | 'done'>();
  for (const root of deps.keys()) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const stack: Array<{ node: string; next: number }> = [{ node: root, next: 0 }];
    state.set(root, 'visiting');
    path.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const children = deps.get(top.node) ?? [];
      if (top.next < children.length) {
        const child = children[top.next++]!;
        const s = state.get(child);
        if (s === 'visiting') return [...path.slice(path.indexOf(child)), child];
        if (s === undefined && deps.has(child)) {
          state.set(child, 'visiting');
          path.push(child);
          stack.push({ node: child, next: 0 });
        }
      } else {
        state.set(top.node, 'done');
        path.pop();
        stack.pop();
      }
    }
  }
  return undefined;
}

/** Task names in an order where every task comes after its dependencies (Kahn's algorithm). */
export function topologicalOrder(tasks: readonly TaskDefinition[]): string[] {
  const indegree = new Map(tasks.map((t) => [t.task_definition_name, t.dependencies.length]));
  const dependents = new Map<string, string[]>();
  for (const t of tasks) {
    for (const d of t.dependencies) {
      dependents.set(d.task_definition_name, [...(dependents.get(d.task_definition_name) ?? []), t.task_definition_name]);
    }
  }
  const ready = tasks.filter((t) => t.dependencies.length === 0).map((t) => t.task_definition_name);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const m of dependents.get(n) ?? []) {
      const left = (indegree.get(m) ?? 0) - 1;
      indegree.set(m, left);
      if (left === 0) ready.push(m);
    }
  }
  return order;
}
