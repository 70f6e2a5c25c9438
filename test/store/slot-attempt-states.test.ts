/**
 * A run's slots as the reaper's sweep reads them (`SlotStore.listAttemptStates`, lambdas/store/slots.ts), on
 * the local table through the real SDK: each slot's state and current attempt, and of its definition only
 * `max_runtime_seconds` (a nested path of the projection), never the rest of the definition nor the dependents.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { processDefinition } from '../../lambdas/domain/models';
import { plannedSlots } from '../../lambdas/engine/fan-out';
import { SlotStore } from '../../lambdas/store/slots';
import { startDynamo } from '../../local/dynalite';
import { shellTask } from '../helpers/factories';
import { perFile } from '../helpers/per-file';

const dynamo = perFile('dynalite', () => startDynamo(undefined));

it('answers each slot with its state, its current attempt and execution, and its max_runtime_seconds alone of its definition', async () => {
  // Prepare: a running task with a time bound and a dependent, a waiting one without a bound
  const slots = new SlotStore(dynamo().db);
  const processId = randomUUID();
  const tasks = processDefinition.parse({
    process_definition_name: 'projected',
    task_definitions: [shellTask('bounded', { max_runtime_seconds: 600 }), shellTask('unbounded', { dependencies: [{ task_definition_name: 'bounded' }] })],
  }).task_definitions;
  const [bounded, unbounded] = plannedSlots(processId, tasks, 'projected');
  await slots.createSlots([{ ...bounded!, status: 'running', attempts: 1, current_task_id: 't-1', execution_name: 'x-1' }, unbounded!]);

  // Act
  const states = await slots.listAttemptStates(processId);

  // Assess
  expect(states).toEqual([
    { process_id: processId, name: 'bounded', status: 'running', round: 0, attempts: 1, current_task_id: 't-1', execution_name: 'x-1', definition: { max_runtime_seconds: 600 } },
    { process_id: processId, name: 'unbounded', status: 'waiting', round: 0, attempts: 0 },
  ]);
});
