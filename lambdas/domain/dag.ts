/**
 * The task DAG of a process definition: structural checks (unique names, known dependencies, no cycle)
 * and the order the engine plans in.
 */
import { BadRequestError, type FieldError } from './errors';
import type { TaskDefinition } from './models';

/**
 * Throws a `BadRequestError` naming every problem (each with its field): duplicate task names, duplicate
 * or unknown dependencies, self-dependencies, and — when the structure is otherwise sound — a cycle
 * (named, e.g. `a -> b -> a`).
 */
export function validateDag(tasks: readonly TaskDefinition[]): void {
  const problems = dagProblems(tasks);
  if (problems.length > 0) throw BadRequestError.of(problems);
}

/** Every problem {@link validateDag} refuses, in the order of the definition. */
export function dagProblems(tasks: readonly TaskDefinition[]): FieldError[] {
  const problems: FieldError[] = [];
  const problem = (message: string, field: string, code: string) => problems.push({ code, message, field });
  const index = new Map<string, number>();
  tasks.forEach((task, i) => {
    if (index.has(task.task_definition_name)) {
      problem(`duplicate task_definition_name "${task.task_definition_name}"`, `task_definitions.${i}.task_definition_name`, 'duplicate_task');
    } else {
      index.set(task.task_definition_name, i);
    }
  });

  tasks.forEach((task, i) => {
    const seen = new Set<string>();
    task.dependencies.forEach((dep, j) => {
      const field = `task_definitions.${i}.dependencies.${j}.task_definition_name`;
      const depName = dep.task_definition_name;
      if (depName === task.task_definition_name) problem(`task "${depName}" depends on itself`, field, 'dependency_cycle');
      else if (!index.has(depName)) problem(`task "${task.task_definition_name}" depends on unknown task "${depName}"`, field, 'unknown_dependency');
      else if (seen.has(depName)) problem(`task "${task.task_definition_name}" lists dependency "${depName}" twice`, field, 'duplicate_dependency');
      seen.add(depName);
    });
  });
  if (problems.length > 0) return problems;

  const cycle = findCycle(tasks);
  if (cycle) {
    const first = cycle[0] ?? '';
    problem(`dependency cycle: ${cycle.join(' -> ')}`, `task_definitions.${index.get(first)}.dependencies`, 'dependency_cycle');
  }
  return problems;
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
