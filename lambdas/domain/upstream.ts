/**
 * Process dependencies (Kala's parent and dependent jobs, Airflow's triggered DAGs), without I/O: which
 * ending of an upstream run starts a downstream definition, the rules of a definition's `upstream` that
 * need the other definitions (names listed once, no cycle across definitions). docs/TRIGGERS.md.
 */
import type { FieldError } from './errors';
import type { UpstreamDependency, UpstreamWhen } from './models';

/** Whether an upstream run that ended `status` starts a downstream definition that waits for `when`. */
export function startsDownstream(when: UpstreamWhen, status: 'succeeded' | 'failed'): boolean {
  return when === 'finished' || when === status;
}

/**
 * Every problem of definition `name`'s `upstream`: a definition listed twice, and each upstream whose
 * runs this definition's runs would start again (a cycle: each run would start the next for ever).
 * `downstream` holds the stored definitions that runs of `name` start, directly or not, each with the
 * path from `name` to it (`[name, b, c]`: a run of `name` starts `b`, whose run starts `c`).
 */
export function upstreamProblems(name: string, upstream: readonly UpstreamDependency[], downstream: ReadonlyMap<string, readonly string[]>): FieldError[] {
  const problems: FieldError[] = [];
  const seen = new Set<string>();
  upstream.forEach((dep, i) => {
    const field = `upstream.${i}.process_definition_name`;
    const upstreamName = dep.process_definition_name;
    if (seen.has(upstreamName)) {
      problems.push({ code: 'duplicate_upstream', message: `upstream "${upstreamName}" is listed twice`, field });
      return;
    }
    seen.add(upstreamName);
    const path = upstreamName === name ? [name] : downstream.get(upstreamName);
    if (path) {
      problems.push({
        code: 'upstream_cycle',
        message: `upstream cycle: ${[...path, name].join(' -> ')} (each run would start the next for ever)`,
        field,
      });
    }
  });
  return problems;
}

