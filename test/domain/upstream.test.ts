/** Upstream rules without I/O (domain/upstream.ts): which endings start a downstream, names once, no cycle. */
import { describe, expect, it } from 'vitest';
import { startsDownstream, upstreamProblems } from '../../lambdas/domain/upstream';

const dep = (name: string) => ({ process_definition_name: name, when: 'succeeded' as const });

describe('upstream', () => {
  it('starts a downstream on the ending it waits for; finished is either', () => {
    expect(startsDownstream('succeeded', 'succeeded')).toBe(true);
    expect(startsDownstream('succeeded', 'failed')).toBe(false);
    expect(startsDownstream('failed', 'failed')).toBe(true);
    expect(startsDownstream('failed', 'succeeded')).toBe(false);
    expect(startsDownstream('finished', 'succeeded')).toBe(true);
    expect(startsDownstream('finished', 'failed')).toBe(true);
  });

  it('accepts upstreams that runs of the definition do not start, known or not', () => {
    // a → b → c stored; d lists a and an unknown definition
    const downstreamOfD = new Map<string, string[]>();
    expect(upstreamProblems('d', [dep('a'), dep('not-yet')], downstreamOfD)).toEqual([]);
    // c lists b (its runs start nothing)
    expect(upstreamProblems('c', [dep('b')], new Map())).toEqual([]);
  });

  it('refuses a cycle, naming it and the upstream entry that closes it', () => {
    // Prepare: a → b → c stored (b lists a, c lists b); a now lists c
    const downstreamOfA = new Map([
      ['b', ['a', 'b']],
      ['c', ['a', 'b', 'c']],
    ]);

    // Act
    const problems = upstreamProblems('a', [dep('x'), dep('c')], downstreamOfA);

    // Assess
    expect(problems).toEqual([
      { code: 'upstream_cycle', message: 'upstream cycle: a -> b -> c -> a (each run would start the next for ever)', field: 'upstream.1.process_definition_name' },
    ]);
  });

  it('refuses a definition that is its own upstream, and one listed twice', () => {
    // Act
    const problems = upstreamProblems('a', [dep('a'), dep('b'), { process_definition_name: 'b', when: 'failed' }], new Map());

    // Assess
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      ['upstream_cycle', 'upstream.0.process_definition_name'],
      ['duplicate_upstream', 'upstream.2.process_definition_name'],
    ]);
    expect(problems[0]?.message).toContain('a -> a');
  });
});
