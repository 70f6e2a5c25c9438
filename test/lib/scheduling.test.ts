import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { actionsOf, allPolicyStatements, logicalIdByPath, synthSundial } from './support';

describe('scheduling', () => {
  // Prepare (shared): the template only is read.
  const { template } = synthSundial();
  const statements = allPolicyStatements(template);

  it('creates one schedule group, destroyed with the stack', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    const [group] = Object.values(template.findResources('AWS::Scheduler::ScheduleGroup'));
    expect(group?.DeletionPolicy).toBe('Delete');
  });

  it('has an Express tick state machine that hands each tick to the engine function, logged and traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'EXPRESS',
      StateMachineName: Match.stringLikeRegexp('-Ticks$'),
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine', { Properties: { StateMachineType: 'EXPRESS' } }));
    const definition = JSON.stringify(machine?.Properties.DefinitionString);
    expect(definition).toContain('\\"action\\":\\"tick\\"');
    expect(definition).toContain('\\"owner.$\\":\\"$$.Execution.Id\\"');
  });

  it('lets the Scheduler role start the tick state machine and nothing else, assumed by scheduler.amazonaws.com only', () => {
    // Prepare
    const roleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Scheduling/SchedulerRole/Resource');
    const role = template.findResources('AWS::IAM::Role')[roleId]!;
    const own = statements.filter((s) => JSON.stringify(template.findResources('AWS::IAM::Policy')[s.owner]?.Properties.Roles ?? []).includes(roleId));

    // Assess
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    ]);
    expect(own.map((s) => actionsOf(s.statement))).toEqual([['states:StartExecution']]);
    expect(JSON.stringify(own[0]?.statement.Resource)).toMatch(/stateMachine:.*-Ticks/);
  });

  it('lets the API and engine functions manage schedules of this group only, and pass the Scheduler role to Scheduler only', () => {
    const manage = statements.filter((s) => actionsOf(s.statement).includes('scheduler:CreateSchedule'));
    expect(manage).toHaveLength(2);
    for (const { statement } of manage) {
      expect(actionsOf(statement).sort()).toEqual(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule']);
      expect(JSON.stringify(statement.Resource)).toMatch(/:schedule\/Sundial-Scheduling-[^"]*\/\*/);
    }
    const passes = statements.filter(
      (s) => actionsOf(s.statement).includes('iam:PassRole') && JSON.stringify(s.statement.Condition ?? {}).includes('scheduler.amazonaws.com'),
    );
    expect(passes).toHaveLength(2);
    for (const { statement } of passes) {
      expect(statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
      expect(JSON.stringify(statement.Resource)).toContain('SchedulerRole');
    }
  });

  it('gives both functions the group, role and tick state machine they schedule with', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.SCHEDULE_GROUP_NAME !== undefined,
    );
    expect(functions).toHaveLength(2);
    for (const f of functions) {
      expect(Object.keys(f.Properties.Environment.Variables)).toEqual(
        expect.arrayContaining(['SCHEDULE_GROUP_NAME', 'SCHEDULER_ROLE_ARN', 'TICK_STATE_MACHINE_ARN']),
      );
    }
  });
});
