import { describe, expect, it, test } from 'vitest';
import { blocksDependent, dagProblems, dependenciesAmong, findCycle, nextStep, planTasks } from '../../lambdas/domain/dag';
import { type TaskDefinition, taskDefinition } from '../../lambdas/domain/models';
import { shellTask } from '../helpers/factories';

/** Task definitions from `name: [dependencies]` pairs, parsed as the API would; a `?` suffix makes a dependency optional. */
function tasks(graph: Array<[string, string[]]>): TaskDefinition[] {
  return graph.map(([name, deps]) =>
    taskDefinition.parse(
      shellTask(name, {
        dependencies: deps.map((d) => ({ task_definition_name: d.replace(/\?$/, ''), success_required: !d.endsWith('?') })),
      }),
    ),
  );
}

describe('dagProblems', () => {
  test.each([
    ['a single task', [['a', []]]],
    ['a chain', [['a', []], ['b', ['a']], ['c', ['b']]]],
    ['a diamond', [['a', []], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]]],
    ['dependencies listed before their task', [['d', ['b', 'c']], ['c', ['a']], ['b', ['a']], ['a', []]]],
    ['two independent components', [['a', []], ['b', ['a']], ['x', []], ['y', ['x']]]],
  ] as Array<[string, Array<[string, string[]]>]>)('accepts %s', (_case, graph) => {
    // Act + Assess
    expect(dagProblems(tasks(graph))).toEqual([]);
  });

  test.each([
    ['duplicate task names', [['a', []], ['b', []], ['a', []]], 'task_definitions.2.task_definition_name', 'duplicate_task', 'duplicate task_definition_name "a"'],
    ['an unknown dependency', [['a', []], ['b', ['ghost']]], 'task_definitions.1.dependencies.0.task_definition_name', 'unknown_dependency', 'task "b" depends on unknown task "ghost"'],
    ['a self dependency', [['a', []], ['b', ['a', 'b']]], 'task_definitions.1.dependencies.1.task_definition_name', 'dependency_cycle', 'task "b" depends on itself'],
    ['a duplicate dependency', [['a', []], ['b', ['a', 'a']]], 'task_definitions.1.dependencies.1.task_definition_name', 'duplicate_dependency', 'task "b" lists dependency "a" twice'],
    ['a cycle of length 2', [['a', ['b']], ['b', ['a']]], 'task_definitions.0.dependencies', 'dependency_cycle', 'dependency cycle: a -> b -> a'],
    ['a cycle of length 3', [['a', ['b']], ['b', ['c']], ['c', ['a']]], 'task_definitions.0.dependencies', 'dependency_cycle', 'dependency cycle: a -> b -> c -> a'],
    ['a cycle behind an acyclic root', [['root', ['x']], ['x', ['y']], ['y', ['x']]], 'task_definitions.1.dependencies', 'dependency_cycle', 'dependency cycle: x -> y -> x'],
  ] as Array<[string, Array<[string, string[]]>, string, string, string]>)('names %s and its field', (_case, graph, field, code, message) => {
    // Act
    const problems = dagProblems(tasks(graph));

    // Assess
    expect(problems).toEqual([{ field, code, message }]);
  });

  it('names every structural problem at once, and no cycle until the structure is sound', () => {
    // Act
    const problems = dagProblems(tasks([['a', ['b']], ['b', ['a', 'ghost']], ['a', []]]));

    // Assess
    expect(problems.map((p) => p.code)).toEqual(['duplicate_task', 'unknown_dependency']);
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

describe('planTasks', () => {
  it('gives each task its dependents, in definition order, and how many dependencies it waits for', () => {
    // Prepare: a diamond whose d needs b to succeed but not c
    const defs = tasks([['a', []], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c?']]]);

    // Act
    const plan = planTasks(defs);

    // Assess
    expect(plan.map((t) => [t.definition.task_definition_name, t.dependents, t.deps_total])).toEqual([
      ['a', [{ name: 'b', success_required: true }, { name: 'c', success_required: true }], 0],
      ['b', [{ name: 'd', success_required: true }], 1],
      ['c', [{ name: 'd', success_required: false }], 1],
      ['d', [], 2],
    ]);
    expect(plan.map((t) => t.definition)).toEqual(defs);
    expect(plan.map((t) => t.only_dependency_of)).toEqual(['11', '0', '0', '']);
  });
});

describe('blocksDependent', () => {
  test.each([
    ['succeeded', true, false],
    ['failed', true, true],
    ['blocked', true, true],
    ['succeeded', false, false],
    ['failed', false, false],
    ['blocked', false, false],
  ] as const)('dependency %s with success_required=%s blocks: %s', (status, required, expected) => {
    // Act + Assess
    expect(blocksDependent(status, required)).toBe(expected);
  });
});

describe('nextStep', () => {
  const done = (...names: string[]) => new Set(names);

  test.each([
    ['a waiting task without dependencies starts', { status: 'waiting', deps_total: 0 }, 'start'],
    ['a waiting task whose dependencies all completed starts', { status: 'waiting', deps_total: 2, deps_done: done('a', 'b') }, 'start'],
    ['a task with a dependency still to complete waits', { status: 'waiting', deps_total: 2, deps_done: done('a') }, 'wait'],
    ['a task blocked by a dependency waits while another is still to complete', { status: 'waiting', deps_total: 2, deps_done: done('a'), deps_blocking: done('a') }, 'wait'],
    ['a task blocked by a completed dependency is blocked', { status: 'waiting', deps_total: 2, deps_done: done('a', 'b'), deps_blocking: done('b') }, 'block'],
    ['a running task waits', { status: 'running', deps_total: 0 }, 'wait'],
    ['a blocked task waits (it is blocked already)', { status: 'blocked', deps_total: 1, deps_done: done('a'), deps_blocking: done('a') }, 'wait'],
  ] as const)('%s', (_case, task, expected) => {
    // Act + Assess
    expect(nextStep(task)).toBe(expected);
  });
});

describe('dependenciesAmong', () => {
  it('answers the dependencies of a task among the names given, in definition order', () => {
    // Prepare
    const [, , d] = tasks([['a', []], ['b', []], ['d', ['b', 'a', 'c?']], ['c', []]]);

    // Act + Assess
    expect(dependenciesAmong(d!, new Set(['a', 'b', 'x']))).toEqual(['b', 'a']);
    expect(dependenciesAmong(d!, new Set())).toEqual([]);
  });
});

describe('at 10,000 tasks (timings logged, not asserted: the machine decides them)', () => {
  /** `n` tasks: 10 layers of n/10, each task depending on two of the layer before. */
  const layered = (n: number) =>
    tasks(Array.from({ length: n }, (_, i): [string, string[]] => {
      const [layer, j, width] = [Math.floor(i / (n / 10)), i % (n / 10), n / 10];
      return [`l${layer}-${j}`, layer === 0 ? [] : [`l${layer - 1}-${j}`, `l${layer - 1}-${(j + 1) % width}`]];
    }));
  /** One root and `n - 1` tasks depending on it. */
  const fanOut = (n: number) => tasks(Array.from({ length: n }, (_, i): [string, string[]] => [`t${i}`, i === 0 ? [] : ['t0']]));
  /** `n` tasks, each depending on the one before. */
  const chain = (n: number) => tasks(Array.from({ length: n }, (_, i): [string, string[]] => [`t${i}`, i === 0 ? [] : [`t${i - 1}`]]));
  const time = (run: () => unknown) => {
    const started = performance.now();
    run();
    return performance.now() - started;
  };

  test.each([
    ['10 layers', layered],
    ['a fan-out from one root', fanOut],
    ['a chain', chain],
  ])('checks and plans %s in time linear in the tasks (1,000 then 10,000)', (shape, build) => {
    // Prepare
    const [small, large] = [build(1000), build(10_000)];

    // Act
    const ms = (defs: TaskDefinition[]) => ({
      check: time(() => expect(dagProblems(defs)).toEqual([])),
      plan: time(() => planTasks(defs)),
    });
    const [atSmall, atLarge] = [ms(small), ms(large)];
    const plan = planTasks(large);
    console.log(
      `${shape}: dagProblems ${atSmall.check.toFixed(1)} ms at 1,000, ${atLarge.check.toFixed(1)} ms at 10,000; ` +
        `planTasks ${atSmall.plan.toFixed(1)} ms at 1,000, ${atLarge.plan.toFixed(1)} ms at 10,000`,
    );

    // Assess
    expect(plan.reduce((sum, t) => sum + t.dependents.length, 0)).toBe(large.reduce((sum, t) => sum + t.dependencies.length, 0));
    expect(plan.reduce((sum, t) => sum + t.deps_total, 0)).toBe(large.reduce((sum, t) => sum + t.dependencies.length, 0));
  });

  it('names a cycle through 10,000 tasks without overflowing the stack', () => {
    // Prepare: a chain whose first task depends on its last
    const defs = chain(10_000);
    defs[0] = { ...defs[0]!, dependencies: [{ task_definition_name: 't9999', success_required: true }] };

    // Act
    const problems = dagProblems(defs);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]?.code).toBe('dependency_cycle');
  });
});
