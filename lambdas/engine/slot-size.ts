/**
 * What a run keeps of each task (its slot, lambdas/store/slots.ts) is one DynamoDB item: the task's
 * definition, its dependents (for a task thousands depend on, every one of their names) and, once its
 * dependencies complete (at most 100, LIMITS.dependenciesPerTask), the set of their names (twice, if they
 * block it). About 4,350 dependents with 64-character names fit (test/engine/slot-size.test.ts). DynamoDB refuses an item over
 * 400 KB, so a definition one of whose slots would pass it could never run: its trigger would fail to
 * write the slot, and the run would never start. Such a definition is refused at its PUT instead, naming
 * the task, with the way out (a join task between the many and the rest, or shorter names).
 */
import { randomUUID } from 'node:crypto';
import type { FieldError } from '../domain/errors';
import type { TaskDefinition } from '../domain/models';
import { DYNAMODB_ITEM_MAX_BYTES, dynamoItemBytes } from '../store/item-size';
import { keys } from '../store/keys';
import { plannedSlots } from './fan-out';

/**
 * What a slot may hold beyond its plan, in the longest forms the engine writes: its execution's name (80,
 * Step Functions' limit), its current attempt's id, an expiry, skip_backoff, its round and attempts, and a
 * reason (a run's or the reaper's: a few hundred characters; 8 KB allowed).
 */
const GROWTH = {
  execution_name: 'x'.repeat(80),
  current_task_id: randomUUID(),
  expires_at: 9_999_999_999,
  skip_backoff: true,
  reason: 'x'.repeat(8 * 1024),
};

/** A 400 per task whose slot would pass DynamoDB's item limit at its largest. `tasks` form a valid DAG. */
export function slotSizeProblems(tasks: readonly TaskDefinition[], definitionName: string): FieldError[] {
  const processId = randomUUID();
  const problems: FieldError[] = [];
  for (const [i, slot] of plannedSlots(processId, tasks, definitionName).entries()) {
    const dependencies = new Set(slot.definition.dependencies.map((d) => d.task_definition_name));
    const largest = { ...keys.slot(processId, slot.name), ...slot, ...GROWTH, deps_done: dependencies, deps_blocking: dependencies };
    const bytes = dynamoItemBytes(largest);
    if (bytes <= DYNAMODB_ITEM_MAX_BYTES) continue;
    problems.push({
      code: 'task_too_connected',
      field: `task_definitions.${i}`,
      message:
        `task "${slot.name}" has ${slot.dependents.length} dependents and ${dependencies.size} dependencies: what a run keeps of it would be ` +
        `${bytes} bytes, over DynamoDB's ${DYNAMODB_ITEM_MAX_BYTES}-byte item, and no run of it could start. ` +
        'Put a task between the many and the rest (one that depends on the many, and that the rest depend on), or shorten the task names',
    });
  }
  return problems;
}
