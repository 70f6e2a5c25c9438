/**
 * Step Functions' limits on one Standard execution (lambdas/domain/aws-limits.ts), applied by the local
 * orchestrator to what aws-local-stepfunctions runs: the execution name and input at StartExecution, each
 * state's output (256 KB) and the history (25,000 events) while it runs.
 *
 * History: aws-local-stepfunctions logs fewer events than Step Functions does, so each of its events is
 * weighed as the events AWS writes for it (approximately, erring high):
 *
 * | aws-local-stepfunctions | AWS history events | count |
 * |---|---|---|
 * | ExecutionStarted, ExecutionSucceeded/Failed | ExecutionStarted, ExecutionSucceeded/Failed | 1 each |
 * | StateEntered of a Task | TaskStateEntered, (Lambda)TaskScheduled, (Lambda)TaskStarted, + TaskSubmitted for `.sync` | 3, or 4 |
 * | StateEntered of a Parallel | ParallelStateEntered, ParallelStateStarted | 2 |
 * | StateEntered of any other state | …StateEntered | 1 |
 * | StateExited of a Task or Parallel | (Lambda)TaskSucceeded / ParallelStateSucceeded, …StateExited | 2 |
 * | StateExited of any other state | …StateExited | 1 |
 * | StateFailed (an attempt of a Task or a Parallel failed) | (Lambda)TaskFailed / ParallelStateFailed | 1 |
 * | StateRetried | the retry's (Lambda)TaskScheduled, (Lambda)TaskStarted (+ TaskSubmitted for `.sync`) | 2, or 3 |
 *
 * A caught failure counts one event more than AWS writes (the StateExited after it counts a success too).
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import {
  isValidSfnName,
  SFN_HISTORY_MAX_EVENTS,
  SFN_NAME_FORBIDDEN,
  SFN_NAME_MAX_LENGTH,
  SFN_PAYLOAD_MAX_BYTES,
} from '../../lambdas/domain/aws-limits';

/** An error as the Step Functions API or an execution names it (`InvalidName`, `States.DataLimitExceeded`). */
export class StepFunctionsError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? 'null');

/**
 * What StartExecution answers for a name or input it refuses, or undefined: a name over 80 characters or an
 * input over 256 KB fails the request's own validation (`ValidationException`, as the SDK reports it: e.g.
 * https://github.com/wolfeidau/buildkite-serverless-agent/issues/37), a character outside the allowed ones is
 * `InvalidName` (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
 */
export function startExecutionRefusal(name: string, input: unknown): StepFunctionsError | undefined {
  if (name.length > SFN_NAME_MAX_LENGTH) {
    return new StepFunctionsError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to ${SFN_NAME_MAX_LENGTH}`,
    );
  }
  if (!isValidSfnName(name)) {
    const bad = SFN_NAME_FORBIDDEN.exec(name)?.[0];
    return new StepFunctionsError('InvalidName', `Invalid Name: '${name}'${bad === undefined ? '' : ` (contains ${JSON.stringify(bad)})`}`);
  }
  const size = byteLength(input);
  if (size > SFN_PAYLOAD_MAX_BYTES) {
    return new StepFunctionsError(
      'ValidationException',
      `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${SFN_PAYLOAD_MAX_BYTES}`,
    );
  }
  return undefined;
}

/** A state's output over the payload quota: the error Step Functions fails the execution with. */
export function dataLimitExceeded(stateName: string): StepFunctionsError {
  return new StepFunctionsError(
    'States.DataLimitExceeded',
    `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`,
  );
}

interface AslState {
  Type: string;
  Resource?: string;
  Branches?: Array<{ States: Record<string, AslState> }>;
  Iterator?: { States: Record<string, AslState> };
  ItemProcessor?: { States: Record<string, AslState> };
}

/** Every state of a definition by name, nested ones (Parallel branches, Map iterators) too. */
function statesByName(definition: { States?: Record<string, AslState> }): Map<string, AslState> {
  const out = new Map<string, AslState>();
  const visit = (states: Record<string, AslState> | undefined) => {
    for (const [name, state] of Object.entries(states ?? {})) {
      out.set(name, state);
      for (const branch of state.Branches ?? []) visit(branch.States);
      visit(state.Iterator?.States);
      visit(state.ItemProcessor?.States);
    }
  };
  visit(definition.States);
  return out;
}

/** The parts of an aws-local-stepfunctions event log the limits read. */
export interface ExecutionEvent {
  type: string;
  state?: { name: string; type: string; output?: unknown };
}

/** aws-local-stepfunctions' Task handlers, by state name. */
type TaskHandlers = NonNullable<NonNullable<NonNullable<Parameters<StateMachine['run']>[1]>['overrides']>['taskResourceLocalHandlers']>;

/**
 * One execution's limits while it runs. `guard` wraps the Task handlers: a task's input (after
 * `Parameters`) or result over 256 KB trips the limit before anything else runs. `observe` reads the event
 * log: the history count, and every state's output (the log is read asynchronously, so a state after an
 * oversized output that is not a task result may start before the execution stops). Tripping aborts the
 * execution (`onTrip`); `tripped` is the error AWS would fail it with.
 */
export class ExecutionLimits {
  private readonly states: Map<string, AslState>;
  /** AWS history events so far (approximately; see the module comment). */
  events = 0;
  /** Why the execution fails, once a limit is passed. */
  tripped: StepFunctionsError | undefined;
  /** Stops the execution (set once it runs). */
  onTrip: () => void = () => undefined;

  constructor(
    definition: object,
    private readonly maxEvents: number = SFN_HISTORY_MAX_EVENTS,
  ) {
    this.states = statesByName(definition as { States?: Record<string, AslState> });
  }

  /** Task handlers that trip the payload limit on their input or their result. */
  guard(handlers: TaskHandlers): TaskHandlers {
    const guarded: TaskHandlers = {};
    for (const [state, handler] of Object.entries(handlers)) {
      guarded[state] = async (payload) => {
        if (byteLength(payload) > SFN_PAYLOAD_MAX_BYTES) {
          this.trip(dataLimitExceeded(state));
          throw this.tripped;
        }
        const result = await handler(payload);
        // Returned, not thrown: a thrown error would meet the state's Retry/Catch, which AWS never applies to this one.
        if (byteLength(result) > SFN_PAYLOAD_MAX_BYTES) this.trip(dataLimitExceeded(state));
        return result;
      };
    }
    return guarded;
  }

  /** Counts `event` into the history; trips a limit it passes. */
  observe(event: ExecutionEvent): void {
    this.events += this.weight(event);
    if (event.type === 'StateExited' && event.state && byteLength(event.state.output) > SFN_PAYLOAD_MAX_BYTES) {
      this.trip(dataLimitExceeded(event.state.name));
    }
    // Event 25,000 may still be ExecutionSucceeded; otherwise it is the ExecutionFailed of the limit (States.Runtime,
    // "The execution reached the maximum number of history events (25000)." — as observed in
    // https://github.com/floci-io/floci/issues/2734 and https://github.com/loads/ardere/issues/86).
    if (this.events >= this.maxEvents - 1 && event.type !== 'ExecutionSucceeded' && event.type !== 'ExecutionFailed') {
      this.trip(new StepFunctionsError('States.Runtime', `The execution reached the maximum number of history events (${this.maxEvents}).`));
    }
  }

  private trip(error: StepFunctionsError): void {
    if (this.tripped) return;
    this.tripped = error;
    this.onTrip();
  }

  private weight(event: ExecutionEvent): number {
    const state = event.state ? this.states.get(event.state.name) : undefined;
    const isTask = state?.Type === 'Task';
    const sync = isTask && (state?.Resource ?? '').endsWith('.sync') ? 1 : 0;
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'StateFailed':
        return 1;
      case 'StateEntered':
        return isTask ? 3 + sync : state?.Type === 'Parallel' ? 2 : 1;
      case 'StateExited':
        return isTask || state?.Type === 'Parallel' ? 2 : 1;
      case 'StateRetried':
        return 2 + sync;
      default:
        return 0;
    }
  }
}
