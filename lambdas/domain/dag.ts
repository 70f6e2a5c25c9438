/**
 * The task DAG of a process definition: structural checks (unique names, known dependencies, no cycle),
 * and the engine's planning over it, without I/O: each task's dependents and dependency count when a
 * run starts, what a completed dependency means for its dependent, which tasks start (or are blocked)
 * once their dependencies complete, and which completed dependencies a retry undoes.
 */
import type { FieldError } from './errors';
import type { SlotStatus } from './engine';
import type { TaskDefinition } from './models';
import { MAX_PROBLEMS } from './validate';

/**
 * Every structural problem of a definition's tasks (the first `max`), each with its field, in the order of
 * the definition: duplicate task names, duplicate or unknown dependencies, self-dependencies, and — when
 * the structure is otherwise sound — a cycle (named, e.g. `a -> b -> a`). Linear in tasks and dependencies.
 */
export function dagProblems(tasks: readonly TaskDefinition[], max = MAX_PROBLEMS): FieldError[] {
  const problems: FieldError[] = [];
  const problem = (message: string, field: string, code: string) => {
    if (problems.length < max) problems.push({ code, message, field });
  };
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
      const field = () => `task_definitions.${i}.dependencies.${j}.task_definition_name`;
      const depName = dep.task_definition_name;
      if (depName === task.task_definition_name) problem(`task "${depName}" depends on itself`, field(), 'dependency_cycle');
      else if (!index.has(depName)) problem(`task "${task.task_definition_name}" depends on unknown task "${depName}"`, field(), 'unknown_dependency');
      else if (seen.has(depName)) problem(`task "${task.task_definition_name}" lists dependency "${depName}" twice`, field(), 'duplicate_dependency');
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

/**
 * A cycle as a list of names whose first and last are the same, or undefined for a DAG. Iterative DFS,
 * each task and dependency visited once (the path is searched only to name a cycle found).
 */
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

/** A task that depends on another: told when that one completes; blocked by it if it needs it to succeed. */
export interface Dependent {
  name: string;
  success_required: boolean;
}

/** One task of a new run as the engine plans it. */
export interface PlannedTask {
  definition: TaskDefinition;
  /** The tasks that depend on it, in definition order. */
  dependents: Dependent[];
  /** Dependencies it waits for before it starts. */
  deps_total: number;
  /**
   * One character per dependent, in their order: `1` where this task is that dependent's only
   * dependency (its completion alone starts it), `0` elsewhere. A byte per dependent, where a field on
   * each would pass DynamoDB's 400 KB item at 10,000 dependents.
   */
  only_dependency_of: string;
}

/** The tasks of a new run, in definition order, each with its dependents and how many dependencies it waits for. */
export function planTasks(tasks: readonly TaskDefinition[]): PlannedTask[] {
  // Appended in place: copying a task's list at each dependent made a fan-out of n quadratic.
  const dependents = new Map<string, Dependent[]>();
  for (const t of tasks) {
    for (const dep of t.dependencies) {
      const list = dependents.get(dep.task_definition_name);
      const dependent = { name: t.task_definition_name, success_required: dep.success_required };
      if (list) list.push(dependent);
      else dependents.set(dep.task_definition_name, [dependent]);
    }
  }
  const depsTotal = new Map(tasks.map((t) => [t.task_definition_name, t.dependencies.length]));
  return tasks.map((t) => {
    const of = dependents.get(t.task_definition_name) ?? [];
    return { definition: t, dependents: of, deps_total: t.dependencies.length, only_dependency_of: of.map((d) => (depsTotal.get(d.name) === 1 ? '1' : '0')).join('') };
  });
}

/**
 * The names of the tasks no other task of `tasks` depends on: those whose ends the engine counts to know
 * that a run is finished (lambdas/store/slots.ts `countsDone`).
 */
export function tasksWithoutDependents(tasks: readonly TaskDefinition[]): string[] {
  const dependedOn = new Set(tasks.flatMap((t) => t.dependencies.map((d) => d.task_definition_name)));
  return tasks.map((t) => t.task_definition_name).filter((name) => !dependedOn.has(name));
}

/**
 * A dependency is complete when it succeeded or failed irrevocably (blocked counts as failed). It
 * blocks its dependent only when the dependent requires its success and it did not succeed.
 */
export function blocksDependent(dependencyStatus: 'succeeded' | 'failed' | 'blocked', successRequired: boolean): boolean {
  return successRequired && dependencyStatus !== 'succeeded';
}

/** Where a task of a run stands with its dependencies (what the engine keeps of it in its slot). */
export interface DependencyState {
  status: SlotStatus;
  deps_total: number;
  /** Names of its completed dependencies. */
  deps_done?: ReadonlySet<string>;
  /** Completed dependencies that block it ({@link blocksDependent}). */
  deps_blocking?: ReadonlySet<string>;
}

/**
 * What a task does next by its dependencies: a waiting task whose dependencies have all completed
 * starts, or is blocked when one of them blocks it; anything else waits (a dependency is still to
 * complete, or the task is not waiting). A task without dependencies starts at once.
 */
export function nextStep(task: DependencyState): 'wait' | 'start' | 'block' {
  if (task.status !== 'waiting' || (task.deps_done?.size ?? 0) < task.deps_total) return 'wait';
  return (task.deps_blocking?.size ?? 0) > 0 ? 'block' : 'start';
}

/** The dependencies of `task` among `names` (a retry undoes the completion of the tasks it reopens). */
export function dependenciesAmong(task: TaskDefinition, names: ReadonlySet<string>): string[] {
  return task.dependencies.map((d) => d.task_definition_name).filter((n) => names.has(n));
}
