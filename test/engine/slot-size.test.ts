/**
 * A definition one of whose tasks a run could not keep in one DynamoDB item (lambdas/engine/slot-size.ts)
 * is refused at its PUT, over HTTP, naming the task: a star of 10,000 tasks with 64-character names (the
 * root's 9,999 dependents; a task's dependencies are at most 100, LIMITS.dependenciesPerTask). What fits
 * stays accepted: the same star with short names, which test/api/large-fan-out.test.ts runs.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LIMITS, processDefinition } from '../../lambdas/domain/models';
import { slotSizeProblems } from '../../lambdas/engine/slot-size';
import { shellTask, sundialPerFile } from '../helpers/local';

const { api } = sundialPerFile();

const longName = (i: number) => `task-${String(i).padStart(4, '0')}-`.padEnd(LIMITS.nameMaxLength, 'x');
const root = (name: (i: number) => string) => [{ task_definition_name: name(0), success_required: true }];

/** One root and `n - 1` tasks depending on it. */
const star = (n: number, name: (i: number) => string) => [shellTask(name(0)), ...Array.from({ length: n - 1 }, (_, i) => shellTask(name(i + 1), { dependencies: root(name) }))];

const parsed = (name: string, tasks: unknown[]) => processDefinition.parse({ process_definition_name: name, task_definitions: tasks }).task_definitions;

describe('slotSizeProblems', () => {
  it('names the root of a 10,000-task star with 64-character names, and nothing else', () => {
    // Act
    const problems = slotSizeProblems(parsed('star', star(10_000, longName)), 'star');

    // Assess
    expect(problems).toEqual([expect.objectContaining({ code: 'task_too_connected', field: 'task_definitions.0' })]);
    expect(problems[0]?.message).toContain(`task "${longName(0)}" has 9999 dependents and 0 dependencies`);
  });

  it('accepts the 10,000-task star with short names (the large fan-out test\'s shape)', () => {
    // Assess
    expect(slotSizeProblems(parsed('star', star(10_000, (i) => `t${i}`)), 'star')).toEqual([]);
  });
});

describe('PUT of a definition a run could not keep', () => {
  it('is a 400 naming the task, and stores nothing', async () => {
    // Prepare: too large for Lambda as text, so gzip-compressed, as a client sends it (test/api/large-definition.test.ts)
    const body = gzipSync(JSON.stringify({ process_definition_name: 'too-connected', task_definitions: star(10_000, longName) }));

    // Act
    const res = await api('PUT', '/api/process_definitions/too-connected', body, { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' });
    const after = await api('GET', '/api/process_definitions/too-connected');

    // Assess
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'task_too_connected', field: 'task_definitions.0' });
    expect(res.json.error.message).toContain('Put a task between the many and the rest');
    expect(after.status).toBe(404);
  });
});
