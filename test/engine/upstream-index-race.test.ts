/**
 * Two PUTs of the same definition with different `upstream` lists (docs/TRIGGERS.md, the downstream
 * index): `d` lists `x`; PUT A makes it list `y`, PUT B makes it list `x` again, and B stores last. A
 * removes `d` from `x`'s downstream index after B linked it, which left the index without the edge the
 * stored definition has, and `x`'s runs no longer started `d`. Both orders of A's removal are forced with
 * gates on the store (never sleeps): before B stores (B's link after its store puts it back), and after B
 * has answered (A reads the definition after its removal and puts back what it lists).
 */
import { expect, it } from 'vitest';
import { shellTask, sundialPerFile } from '../helpers/local';

const sundial = sundialPerFile();
const { api } = sundial;

/** A promise and its resolve. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const body = (name: string, upstream: string) => ({ process_definition_name: name, upstream: [{ process_definition_name: upstream }], task_definitions: [shellTask('t')] });

it.each([
  ['before B stores', 'beforeBStores'],
  ['after B has answered', 'afterBAnswered'],
] as const)('A removes the edge B linked (%s): the index keeps the edge the stored definition lists', async (_, order) => {
  // Prepare: x and y exist; d lists x
  const d = `d-${order}`;
  await sundial.define('x', [shellTask('t')]);
  await sundial.define('y', [shellTask('t')]);
  expect((await api('PUT', `/api/process_definitions/${d}`, body(d, 'x'))).status).toBe(201);
  const { store } = sundial.current().services;
  const [put, link, unlink] = [store.definitions.put.bind(store.definitions), store.downstream.link.bind(store.downstream), store.downstream.unlink.bind(store.downstream)];
  const aStored = gate();
  const bLinked = gate();
  const aAnswered = gate();
  const bAnswered = gate();
  store.definitions.put = async (def, at) => {
    const isB = def.process_definition_name === d && def.upstream?.[0]?.process_definition_name === 'x';
    if (isB) await aStored.opened; // B stores last
    if (isB && order === 'beforeBStores') await aAnswered.opened;
    const out = await put(def, at);
    if (def.process_definition_name === d && !isB) aStored.open();
    return out;
  };
  store.downstream.link = async (name, upstream) => {
    await link(name, upstream);
    if (name === d && upstream.includes('x')) bLinked.open();
  };
  store.downstream.unlink = async (name, upstream) => {
    if (name === d && upstream.includes('x')) await (order === 'beforeBStores' ? bLinked.opened : bAnswered.opened);
    return unlink(name, upstream);
  };

  // Act
  const a = api('PUT', `/api/process_definitions/${d}`, body(d, 'y')).then((res) => (aAnswered.open(), res));
  const b = api('PUT', `/api/process_definitions/${d}`, body(d, 'x')).then((res) => (bAnswered.open(), res));
  const [resA, resB] = await Promise.all([a, b]);
  Object.assign(store.definitions, { put });
  Object.assign(store.downstream, { link, unlink });

  // Assess: B stored last, and x's index names d
  expect([resA.status, resB.status]).toEqual([200, 200]);
  expect((await api('GET', `/api/process_definitions/${d}`)).json.upstream).toEqual([expect.objectContaining({ process_definition_name: 'x' })]);
  expect(await store.downstream.of('x')).toContain(d);
}, 60_000);
