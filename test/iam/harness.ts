/**
 * Evaluates recorded SDK calls against the role of the function that made each one, in the
 * synthesized template, and says which AWS would deny.
 */
import { type AuthorizationRequest, authorizationsOf, type DeploymentFacts, type RecordedCall } from './actions';
import { evaluateIdentity } from './evaluate';
import { type FunctionName, FUNCTION_PATHS, type ResolvedTemplate } from './template';

/** One evaluated (function, action, resource) with how often the code asked for it. */
export interface Evaluated {
  function: FunctionName;
  request: AuthorizationRequest;
  calls: number;
  allowed: boolean;
  describe: string;
}

/** The outcome of evaluating a set of recorded calls. */
export interface HarnessReport {
  evaluated: Evaluated[];
  /** Denials, unmapped commands and calls made outside any function: each a sentence naming it. */
  failures: string[];
  /** Calls of the local runtime that no deployed function makes (start-up, the executor, TTL's work). */
  localOnly: number;
}

/** Facts of the deployment the calls map onto: the local table stands for the stack's table. */
export function deploymentFacts(template: ResolvedTemplate): DeploymentFacts {
  const env = template.lambda('engine').environment;
  const table = env.TABLE_NAME!;
  return { tableName: () => table, ecsClusterArn: env.ECS_CLUSTER_ARN! };
}

/** Evaluates `calls` (each distinct authorization once) against their functions' roles. */
export async function evaluateCalls(template: ResolvedTemplate, calls: readonly RecordedCall[]): Promise<HarnessReport> {
  const facts = deploymentFacts(template);
  const failures: string[] = [];
  const distinct = new Map<string, { function: FunctionName; request: AuthorizationRequest; calls: number }>();
  let localOnly = 0;
  for (const call of calls) {
    if (call.function === 'local') {
      localOnly++;
      continue;
    }
    if (call.function === undefined || !(call.function in FUNCTION_PATHS)) {
      failures.push(`${call.service}.${call.command} was called outside any function (mark its entry point with local/function-context.ts runAs)`);
      continue;
    }
    let requests: AuthorizationRequest[];
    try {
      requests = authorizationsOf(call, facts);
    } catch (err) {
      failures.push((err as Error).message);
      continue;
    }
    for (const request of requests) {
      const key = JSON.stringify([call.function, request.action, request.resource, request.context ?? {}]);
      const seen = distinct.get(key);
      if (seen) seen.calls++;
      else distinct.set(key, { function: call.function as FunctionName, request, calls: 1 });
    }
  }
  const roles = new Map<FunctionName, ReturnType<ResolvedTemplate['lambda']>>();
  const evaluated: Evaluated[] = [];
  for (const item of distinct.values()) {
    if (!roles.has(item.function)) roles.set(item.function, template.lambda(item.function));
    const verdict = await evaluateIdentity(roles.get(item.function)!.role, `function ${item.function}`, item.request);
    evaluated.push({ ...item, allowed: verdict.allowed, describe: verdict.describe });
    if (!verdict.allowed) failures.push(verdict.describe);
  }
  return { evaluated: evaluated.sort((a, b) => a.describe.localeCompare(b.describe)), failures: [...new Set(failures)], localOnly };
}

/** `function action resource` lines, for a readable summary of what was evaluated. */
export function summary(evaluated: readonly Evaluated[]): string[] {
  return [...new Set(evaluated.map((e) => `${e.function} ${e.request.action} ${e.request.resource.replace(/^arn:aws:[^:]*:[^:]*:\d*:/, '')}`))].sort();
}
