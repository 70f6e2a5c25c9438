import { Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { SundialStack } from '../../lib/index';
import { actionsOf, allPolicyStatements, logicalIdByPath, nagFindings, synthSundial } from './support';

describe('security', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();

  it('has no IAM statement whose action contains a wildcard', () => {
    // Act
    const wildcards = allPolicyStatements(template)
      .flatMap(({ owner, statement }) => actionsOf(statement).map((action) => `${owner}: ${action}`))
      .filter((entry) => entry.includes('*'));

    // Assess
    expect(wildcards).toEqual([]);
  });

  it('lets only the callbacks function (checks tokens) and the engine function (mints them) read the task-token key', () => {
    // Prepare
    const secretId = logicalIdByPath(template, 'AWS::SecretsManager::Secret', '/TaskTokens/SigningKey/Resource');
    const callbacksRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Api/CallbacksHandler/Role/Resource');
    const engineRoleId = logicalIdByPath(template, 'AWS::IAM::Role', '/Engine/Handler/Role/Resource');

    // Act
    const readers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.PolicyDocument).includes(`"Ref":"${secretId}"`))
      .flatMap((policy) => policy.Properties.Roles);

    // Assess
    expect(readers).toHaveLength(2);
    expect(readers).toEqual(expect.arrayContaining([{ Ref: callbacksRoleId }, { Ref: engineRoleId }]));
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });

  it('has no resource policy on the secret that could widen access', () => {
    // Assess
    template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });

  describe('cdk-nag AwsSolutions', () => {
    it('reports no unacknowledged finding on the Sundial stack', () => {
      // Act
      const findings = nagFindings((app) => new SundialStack(app, 'Sundial'));

      // Assess: the message lists every finding, so a failure says what to fix.
      expect(findings, JSON.stringify(findings, null, 2)).toEqual([]);
    });

    it('does report a finding nobody acknowledged (the check above can fail)', () => {
      // Act
      const findings = nagFindings((app) => {
        const stack = new Stack(app, 'Control');
        new secretsmanager.Secret(stack, 'Unrotated');
      });

      // Assess
      expect(findings).toContainEqual(expect.objectContaining({ rule: 'AwsSolutions-SMG4', path: 'Control/Unrotated/Resource' }));
    });
  });
});
