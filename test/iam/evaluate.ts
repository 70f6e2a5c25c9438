/**
 * IAM evaluation with @cloud-copilot/iam-simulate (AGPL-3.0, a devDependency used by tests only, never
 * bundled or served: docs/SECURITY.md "IAM evaluation in tests"): a request against a role's identity
 * policies, or a role's trust policy as the resource policy of `sts:AssumeRole*`.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AuthorizationRequest } from './actions';
import { ACCOUNT, type PolicyDocument, type ResolvedRole } from './template';

/** The outcome of one evaluation: allowed, or why not. */
export interface Verdict {
  allowed: boolean;
  /** `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or the simulator's validation error. */
  result: string;
  /** One line for a failure message: who, what, on what, and why. */
  describe: string;
}

type Simulation = Parameters<typeof runSimulation>[0];

async function simulate(simulation: Simulation, who: string, request: AuthorizationRequest): Promise<Verdict> {
  const response = await runSimulation(simulation, {});
  const what = `${request.action} on ${request.resource}${request.context ? ` with ${JSON.stringify(request.context)}` : ''}`;
  if (response.resultType === 'error') {
    return { allowed: false, result: 'Error', describe: `${who}: ${what}: the simulator refused the request: ${JSON.stringify(response.errors)}` };
  }
  const result = response.overallResult;
  const reason =
    result === 'ImplicitlyDenied'
      ? 'no statement allows it (implicit deny)'
      : result === 'ExplicitlyDenied'
        ? 'a statement denies it'
        : 'allowed';
  return { allowed: result === 'Allowed', result, describe: `${who}: ${what} → ${result}: ${reason}` };
}

/** May `role` make `request` (its identity policies only; same account, no SCP, no boundary)? */
export function evaluateIdentity(role: ResolvedRole, who: string, request: AuthorizationRequest): Promise<Verdict> {
  if (role.managedPolicyArns.length > 0) {
    return Promise.resolve({
      allowed: false,
      result: 'Error',
      describe: `${who}: role ${role.path} has managed policies ${role.managedPolicyArns.join(', ')}, whose documents the harness does not have`,
    });
  }
  return simulate(
    {
      request: {
        principal: role.arn,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: request.context ?? {},
      },
      identityPolicies: role.identityPolicies.map((p) => ({ name: p.name, policy: p.policy as never })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    } as Simulation,
    who,
    request,
  );
}

/**
 * May `principal` (a service, or a federated identity provider) assume `role`: its trust policy
 * evaluated as the resource policy of `action` on the role, with the request context AWS sends.
 */
export function evaluateTrust(
  role: ResolvedRole,
  principal: string,
  action: 'sts:AssumeRole' | 'sts:AssumeRoleWithWebIdentity',
  context: Record<string, string | string[]>,
): Promise<Verdict> {
  const request: AuthorizationRequest = { action, resource: role.arn, context };
  return simulate(
    {
      request: {
        principal,
        action,
        resource: { resource: role.arn, accountId: ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: role.trustPolicy as PolicyDocument as never,
    } as Simulation,
    `${principal} assuming ${role.path}`,
    request,
  );
}
