/** The reaper's schedule and the retention setting, as synthesized. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { RETENTION_DAYS_ENV } from '../../lambdas/functions/environment';
import { allPolicyStatements, logicalIdByPath, synthSundial } from './support';

describe('reaper and retention', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();

  it('invokes the engine function with {action: "reap"} every 5 minutes', () => {
    // Prepare
    const engineId = logicalIdByPath(template, 'AWS::Lambda::Function', '/Engine/Handler/Function/Resource');

    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [engineId, 'Arn'] }, Input: JSON.stringify({ action: 'reap' }) })],
    });
  });

  it('lets the engine list the executions of the task state machine, on its ARN, and describe none', () => {
    // Act
    const engineStatements = allPolicyStatements(template).filter(({ owner }) => owner.startsWith('SundialEngineHandlerRole'));
    const lists = engineStatements.filter(({ statement }) => JSON.stringify(statement.Action).includes('states:ListExecutions'));

    // Assess: ListExecutions is authorized on the state machine (not execution:…:*)
    expect(lists.length).toBeGreaterThan(0);
    for (const { statement } of lists) expect(JSON.stringify(statement.Resource)).toMatch(/:stateMachine:Sundial-Engine-[^:"]+-Tasks"/);
    expect(engineStatements.filter(({ statement }) => JSON.stringify(statement.Action).includes('states:DescribeExecution'))).toEqual([]);
  });

  it(`sets ${RETENTION_DAYS_ENV} (90 days by default) on the functions that end runs, and TTL on the table`, () => {
    // Assess
    for (const path of ['/Engine/Handler/Function/Resource', '/Api/ApiHandler/Function/Resource']) {
      const id = logicalIdByPath(template, 'AWS::Lambda::Function', path);
      const fn = template.findResources('AWS::Lambda::Function')[id];
      expect(fn?.Properties.Environment.Variables[RETENTION_DAYS_ENV], path).toBe('90');
    }
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } });
  });

  it.each([0, 7])(`gives every function that writes to the table the same ${RETENTION_DAYS_ENV} (retentionDays %i)`, (days) => {
    // Prepare: the callbacks function writes log and metadata entries, which expire with their run; a
    // function left without the variable would use the default (90 days) whatever was deployed.
    const { template: custom } = synthSundial({ sundial: { retentionDays: days } });

    // Act
    const withTable = Object.entries(custom.findResources('AWS::Lambda::Function')).filter(
      ([, fn]) => fn.Properties.Environment?.Variables?.TABLE_NAME !== undefined,
    );

    // Assess
    expect(withTable.length).toBeGreaterThanOrEqual(4); // api, callbacks, engine, notify
    for (const [id, fn] of withTable) expect(fn.Properties.Environment.Variables[RETENTION_DAYS_ENV], id).toBe(String(days));
  });
});
