import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { SundialStore } from '../../lib/index';
import { logicalIdByPath, newApp, synthSundial } from './support';

describe('SundialStore', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();

  it('keys the table on pk/sk (strings), billed on demand', () => {
    // Assess
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it.each(['gsi1', 'gsi2', 'gsi3'])('declares index %s on <name>pk/<name>sk with every attribute projected', (name) => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: `${name}pk`, AttributeType: 'S' },
        { AttributeName: `${name}sk`, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: name,
          KeySchema: [
            { AttributeName: `${name}pk`, KeyType: 'HASH' },
            { AttributeName: `${name}sk`, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]),
    });
  });

  it('declares gsi4, the attempts by id, on gsi4pk/gsi4sk with their keys only', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'gsi4',
          KeySchema: [
            { AttributeName: 'gsi4pk', KeyType: 'HASH' },
            { AttributeName: 'gsi4sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]),
    });
  });

  it('has exactly four indexes', () => {
    // Act
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));

    // Assess
    expect(table?.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual([
      'gsi1',
      'gsi2',
      'gsi3',
      'gsi4',
    ]);
  });

  it('expires items on expires_at, encrypts with KMS, recovers to a point in time, refuses deletion', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [
        Match.objectLike({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('is retained when it leaves the stack or is replaced', () => {
    // Assess
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('can be made disposable for a throw-away stack', () => {
    // Prepare
    const stack = new Stack(newApp(), 'Dev');

    // Act
    new SundialStore(stack, 'Store', { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false });

    // Assess
    const dev = Template.fromStack(stack);
    dev.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
    dev.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  describe('grantTo', () => {
    it('sets TABLE_NAME and grants item access on the table and each named index, never index/*', () => {
      // Prepare
      const stack = new Stack(newApp(), 'Grant');
      const store = new SundialStore(stack, 'Store');
      const fn = new lambda.Function(stack, 'Fn', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => {}'),
      });

      // Act
      store.grantTo(fn);

      // Assess
      const granted = Template.fromStack(stack);
      const tableId = logicalIdByPath(granted, 'AWS::DynamoDB::GlobalTable', '/Store/Table/Resource');
      const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
      granted.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { TABLE_NAME: { Ref: tableId } } },
      });
      granted.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Action: Match.arrayWith(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']),
              Resource: [
                tableArn,
                { 'Fn::Join': ['', [tableArn, '/index/gsi1']] },
                { 'Fn::Join': ['', [tableArn, '/index/gsi2']] },
                { 'Fn::Join': ['', [tableArn, '/index/gsi3']] },
                { 'Fn::Join': ['', [tableArn, '/index/gsi4']] },
              ],
            }),
          ]),
        },
      });
    });

    it('grants reads only through grantReadTo', () => {
      // Prepare
      const stack = new Stack(newApp(), 'GrantRead');
      const store = new SundialStore(stack, 'Store');
      const fn = new lambda.Function(stack, 'Fn', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => {}'),
      });

      // Act
      store.grantReadTo(fn);

      // Assess
      const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
      const actions: string[] = policy?.Properties.PolicyDocument.Statement.flatMap((s: { Action: string[] }) => s.Action);
      expect(actions).toContain('dynamodb:Query');
      expect(actions.filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
    });
  });
});
