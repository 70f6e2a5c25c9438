/**
 * Step Functions' limits on one Standard execution (lambdas/domain/aws-limits.ts), held by the local
 * orchestrator (local/engine/orchestrator.ts, local/engine/execution-limits.ts) over the synthesized task
 * state machine: the execution name and input StartExecution takes, a state's 256 KB payload, the
 * 25,000-event history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SFN_HISTORY_MAX_EVENTS, SFN_NAME_MAX_LENGTH, SFN_PAYLOAD_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { processDefinition as definitionSchema } from '../../lambdas/domain/models';
import type { PrepareState } from '../../lambdas/engine/contract';
import { shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

/** The server's log lines: where the orchestrator says why an execution failed. */
const lines: string[] = [];
const sundial = sundialPerFile({ log: (line) => lines.push(line) });
const { define, finished } = sundial;
const trigger = async (name: string): Promise<string> => (await sundial.trigger(name)).process_id;
const local = () => sundial.current().sundial;

afterEach(() => {
  local().orchestrator.maxHistoryEvents = SFN_HISTORY_MAX_EVENTS;
});

const messages = (run: any): string[] => run.task.flatMap((x: any) => x.log_entries.map((e: any) => e.message));

/** The error startTask fails with, or undefined. */
async function refusal(name: string, input: unknown): Promise<Error | undefined> {
  try {
    await local().orchestrator.startTask(name, input as PrepareState);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

describe('StartExecution: name and input', () => {
  const input = { process_id: 'p', task_definition_name: 'x' };

  it(`refuses a name over ${SFN_NAME_MAX_LENGTH} characters with ValidationException`, async () => {
    // Act
    const err = await refusal('n'.repeat(SFN_NAME_MAX_LENGTH + 1), input);

    // Assess
    expect(err?.name).toBe('ValidationException');
    expect(err?.message).toContain("at 'name' failed to satisfy constraint: Member must have length less than or equal to 80");
  });

  it.each([['a space', 'run 1'], ['a slash', 'run/1'], ['a colon', 'run:1'], ['a control character', 'run\u0001']])(
    'refuses a name with %s with InvalidName',
    async (_, name) => {
      // Act
      const err = await refusal(name, input);

      // Assess
      expect(err?.name).toBe('InvalidName');
    },
  );

  it(`refuses an input over ${SFN_PAYLOAD_MAX_BYTES} bytes with ValidationException`, async () => {
    // Act
    const err = await refusal('big-input', { ...input, padding: 'x'.repeat(SFN_PAYLOAD_MAX_BYTES) });

    // Assess
    expect(err?.name).toBe('ValidationException');
    expect(err?.message).toContain(`Member must have length less than or equal to ${SFN_PAYLOAD_MAX_BYTES}`);
  });
});

describe('a running execution', () => {
  it('fails with States.DataLimitExceeded when a state passes 256 KB (a task whose environment fills its Prepare output)', async () => {
    // Prepare: the API refuses a definition whose Batch request passes 30 KiB (test/limits/overrides.test.ts),
    // so no state can reach 256 KB through it; one stored around the API (as before that check) still shows
    // that the local Step Functions holds the limit.
    const vars = Array.from({ length: 80 }, (_, i) => ({ variable_name: `D${i}`, value: 'v'.repeat(4000) }));
    const def = definitionSchema.parse({
      process_definition_name: 'big-env',
      task_definitions: [shellScript('a', 'true', { executable: { shell_script_command: { script: 'true', environment_variables: vars } } })],
    });
    await local().services.store.definitions.put(def, new Date().toISOString());

    // Act
    const run = await finished(await trigger('big-env'));

    // Assess
    expect(run.status).toBe('failed');
    expect(messages(run).join('\n')).toContain("The state/task 'Prepare' returned a result with a size exceeding the maximum number of bytes service limit.");
  });

  it('fails as AWS does once its history reaches the quota (counted per attempt as AWS writes it)', async () => {
    // Prepare: an attempt of the synthesized machine on the Batch path writes about 21 events (22 with its backoff
    // Wait), so a quota of 60 stops the execution in its third attempt of five.
    local().orchestrator.maxHistoryEvents = 60;
    await define('short-history', [shellScript('ok', 'true')]);
    await define('long-history', [shellScript('fails', 'exit 1', { max_attempts: 5 })]);

    // Act
    const ok = await finished(await trigger('short-history'));
    const long = await finished(await trigger('long-history'));

    // Assess
    expect(ok.status).toBe('succeeded');
    expect(long.status).toBe('failed');
    expect(long.task.length).toBe(3);
    expect(lines.some((l) => /error execution .*: .*The execution reached the maximum number of history events \(60\)\./.test(l))).toBe(true);
  });
});

describe('StartExecution: a closed execution\'s name', () => {
  it('starts nothing: Step Functions keeps the name of a closed Standard execution (ExecutionAlreadyExists, which the adapter takes as started)', async () => {
    // Prepare: a run of one task, ended; its execution closed
    await define('sfn-closed-name', [shellScript('a', 'echo once')]);
    const processId = await trigger('sfn-closed-name');
    const run = await finished(processId);
    expect(run.status).toBe('succeeded');
    const slot = await sundial.current().services.store.slots.get(processId, 'a');
    const name = slot!.execution_name!;
    // The execution closes after Record ended the run (Again?, Done)
    await until(async () => local().orchestrator.has(name), (running) => !running, 10_000);
    const transitions = local().orchestrator.stateTransitions;

    // Act: the start again, as a replayed step sends it
    await local().orchestrator.startTask(name, { process_id: processId, task_definition_name: 'a', claim: { round: 0, attempts: 0, claimed: true } });

    // Assess: no execution runs under the name, no state was entered, the run is as it was
    expect(local().orchestrator.has(name)).toBe(false);
    expect(local().orchestrator.stateTransitions).toBe(transitions);
    const after = (await sundial.api('GET', `/api/processes/${processId}`)).json;
    expect(after.task.map((t: any) => t.status)).toEqual(['succeeded']);
  });
});
