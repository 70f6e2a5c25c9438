import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag's flat form of a resolved CloudFormation value (its `flattenCfnReference`): `Ref X` → `<X>`,
 * `Fn::GetAtt [X, A]` → `<X.A>`, `Fn::Join` joined, `${…}` of `Fn::Sub` → `<…>`.
 */
function flatten(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const node = value as Record<string, unknown>;
  if (node['Fn::Join']) {
    const [separator, items] = node['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(separator);
  }
  if (node['Fn::Sub']) return flatten(node['Fn::Sub']);
  if (node['Fn::GetAtt']) {
    const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (node['Fn::ImportValue']) return flatten(node['Fn::ImportValue']);
  if (node.Ref) return `<${flatten(node.Ref)}>`;
  return JSON.stringify(value);
}

/**
 * Acknowledges cdk-nag's `AwsSolutions-IAM5` finding for each of `resources` (ARNs with a wildcard,
 * tokens allowed) in the policies of `scope` and below, with one reason. Each finding is named by its
 * resource, so a wildcard nobody listed here is still reported.
 */
export function acknowledgeWildcardResources(scope: IConstruct, resources: readonly string[], reason: string): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    const flat = flatten(Token.isUnresolved(resource) ? stack.resolve(resource) : resource);
    if (!flat.includes('*')) continue;
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
  }
}
