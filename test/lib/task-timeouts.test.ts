/**
 * No Task state relies on an interpreter's default timeout: Step Functions waits 99,999,999 s for a Task
 * state without `TimeoutSeconds` (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html),
 * aws-local-stepfunctions 60 s, so a local attempt longer than a minute would fail where AWS's would not.
 * Walks every state machine of the synthesized stack, and the task definition the local runtime runs.
 */
import { describe, expect, it } from 'vitest';
import { loadTaskDefinition } from '../../local/engine/asl';
import { extractDefinition } from '../../lib/asl';
import { synthSundial } from './support';

type States = Record<string, Record<string, any>>;

/** Every state of a definition, nested ones (Parallel branches, Map processors) included, by path. */
function allStates(definition: { States: States }, path = ''): Array<[string, Record<string, any>]> {
  const out: Array<[string, Record<string, any>]> = [];
  for (const [name, state] of Object.entries(definition.States)) {
    out.push([`${path}${name}`, state]);
    for (const [i, branch] of (state.Branches ?? []).entries()) out.push(...allStates(branch, `${path}${name}[${i}]/`));
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) out.push(...allStates(processor, `${path}${name}/`));
  }
  return out;
}

/** Task states without an explicit TimeoutSeconds of Step Functions' range (1 to 99,999,999 s). */
function tasksWithoutTimeout(definition: { States: States }): string[] {
  return allStates(definition)
    .filter(([, s]) => s.Type === 'Task')
    .filter(([, s]) => !(Number.isInteger(s.TimeoutSeconds) && s.TimeoutSeconds >= 1 && s.TimeoutSeconds <= 99_999_999))
    .map(([path]) => path);
}

describe('Task state timeouts', () => {
  const { template } = synthSundial();
  const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));

  it.each(machines)('%s: every Task state sets TimeoutSeconds', (logicalId) => {
    // Prepare
    const definition = extractDefinition(template.toJSON(), logicalId) as { States: States };
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    // Assess
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasksWithoutTimeout(definition)).toEqual([]);
  });

  it('the task state machine the local runtime runs sets TimeoutSeconds on every Task state', async () => {
    // Prepare: the definition test/global-setup.ts synthesized for the local mode
    const definition = (await loadTaskDefinition()) as { States: States };
    // Assess
    expect(allStates(definition).filter(([, s]) => s.Type === 'Task').map(([p]) => p).sort()).toEqual(
      ['EcsAttempt[0]/RunEcsTask', 'Prepare', 'Record', 'RunBatchJob'].sort(),
    );
    expect(tasksWithoutTimeout(definition)).toEqual([]);
  });

  it('finds a Task state without one', () => {
    expect(tasksWithoutTimeout({ States: { A: { Type: 'Parallel', Branches: [{ States: { B: { Type: 'Task' } } }] } } })).toEqual(['A[0]/B']);
  });
});
