/**
 * The upstream version item (lambdas/store/upstream-version.ts) on the local table, through the real
 * SDK: a claim goes through only against the version it read, adds its pending entry and moves the
 * version on; a release removes that entry alone; entries of PUTs that died do not count past their age,
 * and the next claim removes them.
 */
import { expect, it } from 'vitest';
import { PENDING_UPSTREAM_AGE_MS, UpstreamVersionStore } from '../../lambdas/store/upstream-version';
import { startDynamo } from '../../local/dynalite';
import { perFile } from '../helpers/per-file';

const dynamo = perFile('dynalite', () => startDynamo(undefined));
const versions = () => new UpstreamVersionStore(dynamo().db);

const at = (ms: number) => new Date(Date.parse('2026-12-03T12:00:00.000Z') + ms).toISOString();
const entry = (name: string, upstream: string[], when = at(0)) => ({ name, upstream, at: when });

// One item for the whole table: the steps below follow each other on it.
it('claims only against the version read, each claim adding its entry; a release removes its own; entries past the age do not count, and a claim removes them', async () => {
  // Act: two claims against the same first read (no item yet), then one against a fresh read
  const first = await versions().read(at(0));
  const won = await versions().claim(first, 'p1', entry('a', ['b']));
  const lost = await versions().claim(first, 'p2', entry('b', ['a']));
  const second = await versions().read(at(0));
  const again = await versions().claim(second, 'p2', entry('c', ['a']));

  // Assess
  expect(first).toEqual({ version: 0, pending: new Map(), stale: [] });
  expect([won, lost, again]).toEqual([true, false, true]);
  expect(second).toEqual({ version: 1, pending: new Map([['p1', entry('a', ['b'])]]), stale: [] });
  expect(await versions().read(at(0))).toEqual({ version: 2, pending: new Map([['p1', entry('a', ['b'])], ['p2', entry('c', ['a'])]]), stale: [] });
  expect(await versions().claim(second, 'p3', entry('d', ['a']))).toBe(false);

  // Act: releases (the version stays: a release orders nothing)
  await versions().release('p1');
  const released = await versions().read(at(0));
  await versions().release('p2');

  // Assess
  expect(released).toEqual({ version: 2, pending: new Map([['p2', entry('c', ['a'])]]), stale: [] });
  expect(await versions().read(at(0))).toEqual({ version: 2, pending: new Map(), stale: [] });

  // Act: entries left by PUTs that died and one younger, read past the first ones' age
  expect(await versions().claim(await versions().read(at(0)), 'dead', entry('e', ['f'], at(0)))).toBe(true);
  expect(await versions().claim(await versions().read(at(0)), 'young', entry('g', ['h'], at(60_000)))).toBe(true);
  expect(await versions().claim(await versions().read(at(0)), 'gone', entry('i', ['j'], at(0)))).toBe(true);
  const late = at(PENDING_UPSTREAM_AGE_MS + 1);
  const before = await versions().read(late);

  // Assess: the old ones do not count
  expect(before).toEqual({ version: 5, pending: new Map([['young', entry('g', ['h'], at(60_000))]]), stale: ['dead', 'gone'] });

  // Act: one of them is released after the read, then a claim against that read, then against a fresh one
  await versions().release('gone');
  const lostToRelease = await versions().claim(before, 'late', entry('k', ['l'], late));
  const claimed = await versions().claim(await versions().read(late), 'late', entry('k', ['l'], late));

  // Assess: the claim removed the stale entry still there, and kept the younger one
  expect([lostToRelease, claimed]).toEqual([false, true]);
  expect(await versions().read(late)).toEqual({
    version: 6,
    pending: new Map([
      ['young', entry('g', ['h'], at(60_000))],
      ['late', entry('k', ['l'], late)],
    ]),
    stale: [],
  });
});
