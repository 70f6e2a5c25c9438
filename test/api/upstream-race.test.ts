/**
 * Two PUTs that together close an upstream cycle, sent at the same moment over HTTP, round after round
 * (docs/TRIGGERS.md, "Cycles"): never are both stored. One is (201), the other answers the 400
 * `upstream_cycle` a PUT sent after it would answer. test/engine/upstream-cycle-race.test.ts forces the
 * interleaving once; this one takes it as real requests bring it.
 */
import { describe, expect, it } from 'vitest';
import { shellTask, sundialPerFile } from '../helpers/local';

const { api } = sundialPerFile();

/**
 * Rounds: before the fix (0175c82), both PUTs were stored in each of 30 rounds out of 30, three runs; a
 * fix that let one round in ten through would pass these rounds by chance once in 24.
 */
const ROUNDS = 30;

const definition = (name: string, upstream: string) => ({
  process_definition_name: name,
  upstream: [{ process_definition_name: upstream, when: 'finished' }],
  task_definitions: [shellTask('one')],
});

describe('concurrent PUTs closing an upstream cycle', () => {
  it(`never stores both (${ROUNDS} rounds of a -> b and b -> a sent together)`, async () => {
    const rounds: Array<{ statuses: number[]; codes: string[]; stored: string[] }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Act: the two PUTs of the round, at once
      const [a, b] = [`pair-${i}-a`, `pair-${i}-b`];
      const answers = await Promise.all([
        api('PUT', `/api/process_definitions/${a}`, definition(a, b)),
        api('PUT', `/api/process_definitions/${b}`, definition(b, a)),
      ]);
      const stored = [];
      for (const name of [a, b]) if ((await api('GET', `/api/process_definitions/${name}`)).status === 200) stored.push(name);
      rounds.push({ statuses: answers.map((r) => r.status), codes: answers.map((r) => r.json?.error?.code ?? ''), stored });
    }

    // Assess: in every round one was stored and the other refused as a cycle
    const bothStored = rounds.filter((r) => r.stored.length === 2).length;
    expect(bothStored, JSON.stringify(rounds)).toBe(0);
    for (const round of rounds) {
      expect([...round.statuses].sort(), JSON.stringify(round)).toEqual([201, 400]);
      expect(round.codes.filter((c) => c !== ''), JSON.stringify(round)).toEqual(['upstream_cycle']);
      expect(round.stored).toHaveLength(1);
    }
  }, 120_000);
});
