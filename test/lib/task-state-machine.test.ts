/**
 * The task state machine (lib/task-state-machine.ts) in a stack of its own: a stand-in engine function
 * (10 s timeout), a SundialCompute and a log group. Each test reads one behaviour off the synthesized
 * definition (the ASL the local runtime runs too) or runs it in the local interpreter; none holds a copy
 * of the ASL.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import aslValidator from 'asl-validator';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  type BatchJobRequest,
  ECS_ENDED_ERROR,
  type EcsTaskRequest,
  EXECUTOR_STEP_TIMEOUT_SECONDS,
  LAMBDA_STEP_MARGIN_SECONDS,
  STATE,
  TIMEOUT_ERROR,
} from '../../lambdas/engine/contract';
import { installLongTimers } from '../../local/engine/long-timers';
import { extractDefinition } from '../../lib/asl';
import { SundialCompute } from '../../lib/compute';
import { LAMBDA_SERVICE_ERRORS } from '../../lib/step-functions';
import { TaskStateMachine, THROTTLING_ERRORS } from '../../lib/task-state-machine';
import { newApp } from './support';

type Json = Record<string, any>;

// As the local runtime does (local/engine/orchestrator.ts): the executor steps' year-long TimeoutSeconds
// would otherwise overflow Node's timer and fire at once.
installLongTimers();

/** Every state of a definition by name, those of Parallel branches included (names are unique in it). */
function statesOf(definition: { States: Record<string, Json> }): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    out[name] = state;
    for (const branch of state.Branches ?? []) Object.assign(out, statesOf(branch));
  }
  return out;
}

/** Where a state may go next: Next, a Choice's rules and Default, its Catchers; in the order written. */
function targets(state: Json): string[] {
  return [...(state.Choices ?? []).map((c: Json) => c.Next), state.Default, state.Next, ...(state.Catch ?? []).map((c: Json) => c.Next)].filter(
    (next): next is string => next !== undefined,
  );
}

/** The names of `keys`, checked against a contract type at compile time. */
const keysOf = <T>(keys: Record<keyof T, true>): string[] => Object.keys(keys);

describe('TaskStateMachine', () => {
  // Prepare (shared): the template is only read.
  const stack = new Stack(newApp(), 'Test');
  const engineFunction = new lambda.Function(stack, 'EngineFunction', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
    timeout: Duration.seconds(10),
  });
  const compute = new SundialCompute(stack, 'Compute');
  const logGroup = new logs.LogGroup(stack, 'Logs');
  new TaskStateMachine(stack, 'TaskStateMachine', { stateMachineName: 'Test-Tasks', engineFunction, ecs: compute, logGroup });
  const template = Template.fromStack(stack);
  const definition = extractDefinition(template.toJSON()) as { StartAt: string; States: Record<string, Json> };
  const states = statesOf(definition);
  const only = (type: string) => Object.keys(template.findResources(type));
  const [functionId] = only('AWS::Lambda::Function').filter((id) => id.startsWith('EngineFunction'));
  const functionArn = `arn:aws:lambda:local:000000000000:function:${functionId}`;
  const batchJob = (n: number): BatchJobRequest => ({
    JobName: `task-${n}`,
    JobQueue: 'q',
    JobDefinition: 'd',
    ContainerOverrides: { Environment: [] },
    Timeout: { AttemptDurationSeconds: 60 },
  });
  const batch = batchJob(0);
  const ecs: EcsTaskRequest = { TaskDefinition: 'td', StartedBy: 'task-0', Overrides: { ContainerOverrides: [] } };

  /** Runs the definition in the local interpreter with `handlers` for its Task states; the states entered and Record's payloads. */
  async function run(handlers: Record<string, (input: any) => Promise<unknown>>, waits: Record<string, number> = {}) {
    const recorded: Json[] = [];
    const machine = new StateMachine(structuredClone(definition) as StateMachineDefinition, { validationOptions: { checkArn: false } });
    const execution = machine.run(
      { process_id: 'run-1', task_definition_name: 'extract' },
      {
        overrides: {
          taskResourceLocalHandlers: {
            [STATE.record]: async (payload: any) => {
              recorded.push(payload);
              return { process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: false } };
            },
            ...handlers,
          },
          waitTimeOverrides: { [STATE.batchBackoff]: 0, [STATE.ecsBackoff]: 0, ...waits },
        },
      },
    );
    const entered: string[] = [];
    const events = (async () => {
      for await (const event of execution.eventLogs) if (event.type === 'StateEntered') entered.push(event.state.name);
    })();
    const output = await execution.result;
    await events;
    return { entered: entered.filter((name) => name in definition.States), recorded, output: output as Json };
  }

  describe('the state machine', () => {
    it('is Standard, named as given, logs every event to the given group without execution data, traced', () => {
      // Assess
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: 'Test-Tasks',
        StateMachineType: 'STANDARD',
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: false,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [only('AWS::Logs::LogGroup').find((id) => id.startsWith('Logs')), 'Arn'] } } }],
        },
        TracingConfiguration: { Enabled: true },
      });
    });

    it('keeps the logical id of its id in the parent scope (the local runtime finds it by TaskStateMachine)', () => {
      // Assess
      expect(only('AWS::StepFunctions::StateMachine')).toEqual([expect.stringMatching(/^TaskStateMachine[0-9A-F]{8}$/)]);
      expect(only('AWS::IAM::Role').filter((id) => id.startsWith('TaskStateMachine'))).toEqual([expect.stringMatching(/^TaskStateMachineRole[0-9A-F]{8}$/)]);
    });

    it('has exactly the states of the contract, starting at Prepare, the ECS task and its deadline inside EcsAttempt', () => {
      // Prepare
      const branches = definition.States[STATE.ecsAttempt]!.Branches.map((b: Json) => ({ StartAt: b.StartAt, States: Object.keys(b.States) }));

      // Assess
      expect(definition.StartAt).toBe(STATE.prepare);
      expect(Object.keys(states).sort()).toEqual(Object.values(STATE).sort());
      expect(branches).toEqual([
        { StartAt: STATE.runEcsTask, States: [STATE.runEcsTask, STATE.ecsEnded] },
        { StartAt: STATE.ecsDeadline, States: [STATE.ecsDeadline, STATE.ecsTimedOut] },
      ]);
    });

    it('validates with asl-validator', () => {
      // Act: on a copy (the validator fills in defaults, such as QueryLanguage, in what it is given)
      const { isValid, errorsText } = aslValidator(structuredClone(definition) as never);

      // Assess
      expect(isValid, errorsText('\n')).toBe(true);
    });
  });

  describe('Prepare and Record', () => {
    it('invoke the engine function itself, with the action and the whole state', () => {
      // Assess
      for (const [name, action] of [[STATE.prepare, 'prepare'], [STATE.record, 'record']] as const) {
        expect(states[name], name).toMatchObject({ Type: 'Task', Resource: functionArn, Parameters: { action, 'state.$': '$' } });
      }
    });

    it('Prepare puts the prepared attempt into $.attempt; Record’s answer replaces the state (no ResultPath)', () => {
      // Assess
      expect(states[STATE.prepare]!.ResultPath).toBe('$.attempt');
      expect(states[STATE.record]).not.toHaveProperty('ResultPath');
      expect(states[STATE.record]).not.toHaveProperty('OutputPath');
    });

    it('time out after the function’s timeout plus the margin', () => {
      // Prepare
      const timeout = template.toJSON().Resources[functionId!].Properties.Timeout;

      // Assess
      expect(timeout).toBe(10);
      expect(states[STATE.prepare]!.TimeoutSeconds).toBe(10 + LAMBDA_STEP_MARGIN_SECONDS);
      expect(states[STATE.record]!.TimeoutSeconds).toBe(10 + LAMBDA_STEP_MARGIN_SECONDS);
    });

    it('retry errors of the Lambda service first: 6 times from 2 s, doubling', () => {
      // Assess
      for (const name of [STATE.prepare, STATE.record]) {
        expect(states[name]!.Retry[0], name).toEqual({ ErrorEquals: LAMBDA_SERVICE_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 });
      }
    });

    it('Prepare waits out throttling: 8 times from 1 s, at most 30 s apart, with full jitter', () => {
      // Prepare
      const throttling = states[STATE.prepare]!.Retry.filter((r: Json) => r.ErrorEquals.includes('ThrottlingException'));

      // Assess
      expect(throttling).toEqual([
        { ErrorEquals: THROTTLING_ERRORS, IntervalSeconds: 1, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
      ]);
    });

    it('retry any other failure last: Prepare twice (with jitter), Record three times; nothing else', () => {
      // Assess: States.ALL must be the last retrier; CDK's own Lambda retrier is off
      expect(states[STATE.prepare]!.Retry.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(states[STATE.record]!.Retry.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 });
      expect(states[STATE.prepare]!.Retry).toHaveLength(3);
      expect(states[STATE.record]!.Retry).toHaveLength(2);
    });

    it('catch nothing: a Lambda step failing for good fails the execution (the engine then abandons the task)', () => {
      // Assess
      expect(states[STATE.prepare]).not.toHaveProperty('Catch');
      expect(states[STATE.record]).not.toHaveProperty('Catch');
    });
  });

  describe('Route?', () => {
    it.each([
      ['a skipped attempt ends at Done', { skip: true }, [STATE.done]],
      ['a Batch attempt without backoff runs at once', { skip: false, executor: 'batch', batch }, [STATE.runBatchJob]],
      ['a Batch attempt with a backoff of 0 runs at once', { skip: false, executor: 'batch', batch, backoff_seconds: 0 }, [STATE.runBatchJob]],
      ['a Batch attempt with a backoff waits first', { skip: false, executor: 'batch', batch, backoff_seconds: 3 }, [STATE.batchBackoff, STATE.runBatchJob]],
      ['an ECS attempt without backoff runs at once', { skip: false, executor: 'ecs', ecs, timeout_seconds: 60 }, [STATE.ecsAttempt]],
      ['an ECS attempt with a backoff waits first', { skip: false, executor: 'ecs', ecs, timeout_seconds: 60, backoff_seconds: 3 }, [STATE.ecsBackoff, STATE.ecsAttempt]],
    ])('%s', async (_case, attempt, route) => {
      // Act
      const { entered } = await run({
        [STATE.prepare]: async () => attempt,
        [STATE.runBatchJob]: async () => ({ Status: 'SUCCEEDED', JobId: 'job-1' }),
        [STATE.runEcsTask]: async () => ({}),
      });

      // Assess
      const recorded = attempt.skip ? [] : [STATE.record, STATE.again, STATE.done];
      expect(entered).toEqual([STATE.prepare, STATE.route, ...route, ...recorded]);
    });

    it('the backoff Waits last $.attempt.backoff_seconds', () => {
      // Assess
      expect(states[STATE.batchBackoff]).toMatchObject({ Type: 'Wait', SecondsPath: '$.attempt.backoff_seconds' });
      expect(states[STATE.ecsBackoff]).toMatchObject({ Type: 'Wait', SecondsPath: '$.attempt.backoff_seconds' });
    });
  });

  describe('the executor steps', () => {
    it('RunBatchJob submits the prepared request (each field of BatchJobRequest) and waits for the job (.sync)', () => {
      // Prepare
      const fields = keysOf<BatchJobRequest>({ JobName: true, JobQueue: true, JobDefinition: true, ContainerOverrides: true, Timeout: true });

      // Assess
      expect(states[STATE.runBatchJob]).toMatchObject({ Type: 'Task', Resource: 'arn:aws:states:::batch:submitJob.sync' });
      expect(states[STATE.runBatchJob]!.Parameters).toEqual(Object.fromEntries(fields.map((f) => [`${f}.$`, `$.attempt.batch.${f}`])));
    });

    it('RunBatchJob keeps only what DescribeJobs always answers, Status and JobId, in $.result', () => {
      // Assess
      expect(states[STATE.runBatchJob]).toMatchObject({ ResultSelector: { 'Status.$': '$.Status', 'JobId.$': '$.JobId' }, ResultPath: '$.result' });
    });

    it('RunEcsTask runs the prepared task (each field of EcsTaskRequest) on Fargate in the given cluster and network, reading no output', () => {
      // Prepare
      const fields = keysOf<EcsTaskRequest>({ TaskDefinition: true, StartedBy: true, Overrides: true });
      const clusterId = only('AWS::ECS::Cluster')[0];
      const securityGroupId = only('AWS::EC2::SecurityGroup')[0];
      const subnetIds = only('AWS::EC2::Subnet').sort();

      // Assess
      expect(subnetIds).toHaveLength(2);
      expect(states[STATE.runEcsTask]).toMatchObject({ Type: 'Task', Resource: 'arn:aws:states:::ecs:runTask.sync', ResultPath: null });
      expect(states[STATE.runEcsTask]!.Parameters).toEqual({
        Cluster: `arn:aws:ecs:local:000000000000:cluster/${clusterId}`,
        LaunchType: 'FARGATE',
        NetworkConfiguration: {
          AwsvpcConfiguration: { Subnets: subnetIds.map((id) => `subnet-${id}`), SecurityGroups: [`sg-${securityGroupId}`], AssignPublicIp: 'ENABLED' },
        },
        ...Object.fromEntries(fields.map((f) => [`${f}.$`, `$.attempt.ecs.${f}`])),
      });
    });

    it('time out only after the longest execution: Batch and the EcsDeadline branch bound an attempt, not the step', () => {
      // Assess
      expect(states[STATE.runBatchJob]!.TimeoutSeconds).toBe(EXECUTOR_STEP_TIMEOUT_SECONDS);
      expect(states[STATE.runEcsTask]!.TimeoutSeconds).toBe(EXECUTOR_STEP_TIMEOUT_SECONDS);
      expect(states[STATE.runBatchJob]).not.toHaveProperty('TimeoutSecondsPath');
      expect(states[STATE.runEcsTask]).not.toHaveProperty('TimeoutSecondsPath');
    });

    it('go to Record whatever happens, a failure with its error in $.error (the last catcher)', () => {
      // Assess
      for (const name of [STATE.runBatchJob, STATE.ecsAttempt]) {
        expect(new Set(targets(states[name]!)), name).toEqual(new Set([STATE.record]));
        expect(states[name]!.Catch.at(-1), name).toEqual({ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.record });
      }
    });

    it('EcsAttempt races the ECS task against $.attempt.timeout_seconds, each branch ending in a Fail the Catch sorts out', () => {
      // Assess
      expect(states[STATE.ecsAttempt]).toMatchObject({ Type: 'Parallel', ResultPath: '$.result' });
      expect(targets(states[STATE.runEcsTask]!)).toEqual([STATE.ecsEnded]);
      expect(states[STATE.ecsEnded]).toMatchObject({ Type: 'Fail', Error: ECS_ENDED_ERROR });
      expect(states[STATE.ecsDeadline]).toMatchObject({ Type: 'Wait', SecondsPath: '$.attempt.timeout_seconds', Next: STATE.ecsTimedOut });
      expect(states[STATE.ecsTimedOut]).toMatchObject({ Type: 'Fail', Error: TIMEOUT_ERROR });
      // The task's end is an outcome, not an error: caught into $.result before anything else
      expect(states[STATE.ecsAttempt]!.Catch[0]).toEqual({ ErrorEquals: [ECS_ENDED_ERROR], ResultPath: '$.result', Next: STATE.record });
    });

    it.each([
      ['the task ends first: Record sees the result', 'ends', { result: { Error: ECS_ENDED_ERROR } }],
      ['the deadline comes first: Record sees the timeout', 'hangs', { error: { Error: TIMEOUT_ERROR } }],
      ['the task fails: Record sees its error', 'fails', { error: { Error: 'States.TaskFailed' } }],
    ] as const)('EcsAttempt in the local interpreter: %s', async (_case, behaviour, expected) => {
      // Prepare
      const attempt = { skip: false, task_id: 'task-0', backoff_seconds: 0, timeout_seconds: 1, executor: 'ecs', ecs };

      // Act
      const { recorded } = await run(
        {
          [STATE.prepare]: async () => attempt,
          [STATE.runEcsTask]: async () => {
            if (behaviour === 'fails') throw Object.assign(new Error('exit 3'), { name: 'States.TaskFailed' });
            if (behaviour === 'hangs') await new Promise(() => undefined); // never ends: only the deadline can
            return { Containers: [{ ExitCode: 0 }] };
          },
        },
        // A deadline that cannot come first unless the task hangs: no race between two timers.
        { [STATE.ecsDeadline]: behaviour === 'hangs' ? 50 : 3_600_000 },
      );

      // Assess
      expect(recorded).toHaveLength(1);
      expect(recorded[0]!.state).toMatchObject(expected);
      expect(recorded[0]!.state.attempt).toEqual(attempt);
    });
  });

  describe('Again?', () => {
    it('loops to Prepare when Record asks for another attempt, else ends at Done', () => {
      // Assess
      expect(states[STATE.again]).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.recorded.retry', BooleanEquals: true, Next: STATE.prepare }], Default: STATE.done });
      expect(targets(states[STATE.record]!)).toEqual([STATE.again]);
      expect(states[STATE.done]!.Type).toBe('Succeed');
    });

    it('runs in the local interpreter: a failed attempt, then a successful one that Record sees without the old error', async () => {
      // Prepare: attempt 1 fails in Batch, attempt 2 succeeds
      const attempt = (n: number) => ({ skip: false, task_id: `task-${n}`, backoff_seconds: n, executor: 'batch', batch: batchJob(n) });
      let prepared = 0;
      let submitted = 0;
      const recorded: Json[] = [];

      // Act
      const { entered, output } = await run({
        [STATE.prepare]: async () => attempt(prepared++),
        [STATE.runBatchJob]: async (params: any) => {
          expect(params).toEqual(batchJob(submitted));
          if (submitted++ === 0) throw Object.assign(new Error('{"Status":"FAILED"}'), { name: 'States.TaskFailed' });
          return { Status: 'SUCCEEDED', StatusReason: 'Essential container in task exited', JobId: 'job-2', Extra: 1 };
        },
        [STATE.record]: async (payload: any) => {
          recorded.push(payload);
          return { process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: recorded.length === 1 } };
        },
      });

      // Assess: 6 states for the first attempt (no backoff, no Wait), 6 + the Wait for the second
      expect(entered).toEqual([
        ...[STATE.prepare, STATE.route, STATE.runBatchJob, STATE.record, STATE.again],
        ...[STATE.prepare, STATE.route, STATE.batchBackoff, STATE.runBatchJob, STATE.record, STATE.again, STATE.done],
      ]);
      expect(recorded).toHaveLength(2);
      expect(recorded[0]).toMatchObject({ action: 'record', state: { attempt: { task_id: 'task-0' }, error: { Error: 'States.TaskFailed' } } });
      expect(recorded[0]?.state.result).toBeUndefined();
      expect(recorded[1]).toEqual({
        action: 'record',
        // The previous Record's answer, plus this attempt: no error of the first attempt.
        state: { process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: true }, attempt: attempt(1), result: { Status: 'SUCCEEDED', JobId: 'job-2' } },
      });
      expect(output).toEqual({ process_id: 'run-1', task_definition_name: 'extract', recorded: { retry: false } });
    });
  });
});
