import { describe, expect, it, test } from 'vitest';
import { findCycle, topologicalOrder, validateDag } from '../../lambdas/domain/dag';
import { type TaskDefinition, taskDefinition } from '../../lambdas/domain/models';
import { refusalOf } from '../helpers/assert';
import { shellTask } from '../helpers/factories';

/** Task definitions from `name: [dependencies]` pairs, parsed as the API would. */
function tasks(graph: Array<[string, string[]]>): TaskDefinition[] {
  return graph.map(([name, deps]) =>
    taskDefinition.parse(shellTask(name, { dependencies: deps.map((d) => ({ task_definition_name: d })) })),
  );
}

describe('validateDag', () => {
  test.each([
    ['a single task', [['a', []]]],
    ['a chain', [['a', []], ['b', ['a']], ['c', ['b']]]],
    ['a diamond', [['a', []], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]]],
    ['dependencies listed before their task', [['d', ['b', 'c']], ['c', ['a']], ['b', ['a']], ['a', []]]],
    ['two independent components', [['a', []], ['b', ['a']], ['x', []], ['y', ['x']]]],
  ] as Array<[string, Array<[string, string[]]>]>)('accepts %s', (_case, graph) => {
    // Act + Assess
    expect(() => validateDag(tasks(graph))).not.toThrow();
  });

  test.each([
    ['duplicate task names', [['a', []], ['b', []], ['a', []]], 'task_definitions.2.task_definition_name', 'duplicate_task', 'duplicate task_definition_name "a"'],
    ['an unknown dependency', [['a', []], ['b', ['ghost']]], 'task_definitions.1.dependencies.0.task_definition_name', 'unknown_dependency', 'task "b" depends on unknown task "ghost"'],
    ['a self dependency', [['a', []], ['b', ['a', 'b']]], 'task_definitions.1.dependencies.1.task_definition_name', 'dependency_cycle', 'task "b" depends on itself'],
    ['a duplicate dependency', [['a', []], ['b', ['a', 'a']]], 'task_definitions.1.dependencies.1.task_definition_name', 'duplicate_dependency', 'task "b" lists dependency "a" twice'],
    ['a cycle of length 2', [['a', ['b']], ['b', ['a']]], 'task_definitions.0.dependencies', 'dependency_cycle', 'dependency cycle: a -> b -> a'],
    ['a cycle of length 3', [['a', ['b']], ['b', ['c']], ['c', ['a']]], 'task_definitions.0.dependencies', 'dependency_cycle', 'dependency cycle: a -> b -> c -> a'],
    ['a cycle behind an acyclic root', [['root', ['x']], ['x', ['y']], ['y', ['x']]], 'task_definitions.1.dependencies', 'dependency_cycle', 'dependency cycle: x -> y -> x'],
  ] as Array<[string, Array<[string, string[]]>, string, string, string]>)('refuses %s, naming the field', (_case, graph, field, code, message) => {
    // Act
    const err = refusalOf(() => validateDag(tasks(graph)));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe(field);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
  });

  it('finds a cycle in a DAG of 2 000 tasks without overflowing the stack', () => {
    // Prepare: t0 <- t1 <- ... <- t1999, and t0 depends on t1999
    const graph: Array<[string, string[]]> = Array.from({ length: 2000 }, (_, i) => [`t${i}`, i === 0 ? ['t1999'] : [`t${i - 1}`]]);

    // Act
    const cycle = findCycle(tasks(graph));

    // Assess
    expect(cycle).toHaveLength(2001);
    expect(cycle?.[0]).toBe(cycle?.[2000]);
  });
});

describe('findCycle', () => {
  it('answers undefined for a DAG', () => {
    // Act + Assess
    expect(findCycle(tasks([['a', []], ['b', ['a']]]))).toBeUndefined();
  });
});

describe('topologicalOrder', () => {
  test.each([
    ['a chain', [['c', ['b']], ['b', ['a']], ['a', []]], ['a', 'b', 'c']],
    ['a diamond', [['a', []], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]], ['a', 'b', 'c', 'd']],
    ['independent tasks in definition order', [['z', []], ['y', []], ['x', []]], ['z', 'y', 'x']],
  ] as Array<[string, Array<[string, string[]]>, string[]]>)('orders %s', (_case, graph, expected) => {
    // Act
    const order = topologicalOrder(tasks(graph));

    // Assess
    expect(order).toEqual(expected);
  });

  it('puts every task after all of its dependencies', () => {
    // Prepare
    const defs = tasks([['e', ['c', 'd']], ['d', ['b']], ['c', ['a', 'b']], ['b', []], ['a', []], ['f', []]]);

    // Act
    const order = topologicalOrder(defs);

    // Assess
    expect([...order].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const def of defs) {
      for (const dep of def.dependencies) {
        expect(order.indexOf(dep.task_definition_name)).toBeLessThan(order.indexOf(def.task_definition_name));
      }
    }
  });
});
