/**
 * The definition store (lambdas/store/definitions.ts) on the local table, through the real SDK: a
 * definition whose gzip fits one item is stored in it, a larger one in parts under a version its item
 * names; reads answer them whole, the list from the items alone; a replaced version's parts go, a crashed
 * PUT's parts are cleaned later; and a read racing PUTs never mixes two versions.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ProcessDefinition, processDefinition } from '../../lambdas/domain/models';
import { queryPartition } from '../../lambdas/store/client';
import { DEFINITION_ITEM_BYTES, DefinitionStore, STRAY_PARTS_AGE_MS } from '../../lambdas/store/definitions';
import { keys } from '../../lambdas/store/keys';
import { GetCommand, QueryCommand, UpdateCommand } from '../../lambdas/store/sdk';
import { StatsStore } from '../../lambdas/store/stats';
import { type EmbeddedDynamo, startDynamo } from '../../local/dynalite';
import { fullFieldDefinition } from '../helpers/large-definition';
import { isoAt, processDefinition as smallDefinition } from '../helpers/local';

let dynamo: EmbeddedDynamo;
let store: DefinitionStore;

beforeAll(async () => {
  dynamo = await startDynamo(undefined);
  store = new DefinitionStore(dynamo.db, new StatsStore(dynamo.db));
});

afterAll(async () => {
  await dynamo?.close();
});

const parsed = (body: unknown): ProcessDefinition => processDefinition.parse(body);
/** The definition as the store answers it (without `paused`, which it keeps beside). */
const body = ({ paused: _paused, ...rest }: ProcessDefinition) => rest;
/** 4,000 tasks written out in full: ~440 KB gzipped, two parts. */
const inParts = (name: string, seed = 1) => parsed(fullFieldDefinition(name, { layers: 4, perLayer: 1000, seed }));
/** The sort keys of every part stored under `name`. */
const partsOf = async (name: string) => (await queryPartition(dynamo.db, keys.definitionPartsPartition(name), undefined, 'pk, sk')).map((p) => String(p.sk));

describe('a definition in one item or in parts', () => {
  it('stores one whose gzip fits an item in that item, reads it back equal, and lists it whole', async () => {
    // Prepare
    const def = parsed(smallDefinition('small'));

    // Act
    const put = await store.put(def, isoAt(0));
    const got = await store.get('small');
    const listed = (await store.list()).find((d) => d.definition.process_definition_name === 'small');

    // Assess
    expect(put.created).toBe(true);
    expect(got?.definition).toEqual(body(def));
    expect(listed?.definition).toEqual(body(def));
    expect(listed?.task_definitions_omitted).toBeUndefined();
    expect(await partsOf('small')).toEqual([]);
  });

  it(`stores a larger one in parts of at most ${DEFINITION_ITEM_BYTES} bytes under one version, reads it back equal, and lists it (or reads its summary) without its tasks, reading no part`, async () => {
    // Prepare
    const def = inParts('large');
    const send = vi.spyOn(dynamo.db.doc, 'send');

    // Act
    await store.put(def, isoAt(0));
    const got = await store.get('large');
    send.mockClear();
    const listed = (await store.list()).find((d) => d.definition.process_definition_name === 'large');
    const summary = await store.summary('large');
    const calls = send.mock.calls.map(([command]) => command);
    send.mockRestore();

    // Assess
    const parts = await partsOf('large');
    expect(parts).toHaveLength(2);
    expect(new Set(parts.map(keys.definitionPartVersion)).size).toBe(1);
    expect(got?.definition).toEqual(body(def));
    const { task_definitions: _tasks, ...withoutTasks } = body(def);
    expect(listed?.definition).toEqual(withoutTasks);
    expect(listed?.task_definitions_omitted).toBe(4000);
    expect(summary?.definition).toEqual(withoutTasks);
    expect(calls).toHaveLength(2);
    expect(calls.some((c) => c instanceof QueryCommand && c.input.ExpressionAttributeValues?.[':pk'] !== keys.definitionsPartition)).toBe(false);
  });

  it('deletes the parts of the version a PUT replaced, all of them when the definition shrinks to one item, and with a DELETE', async () => {
    // Prepare
    await store.put(inParts('replaced', 1), isoAt(0));
    const first = await partsOf('replaced');

    // Act
    await store.put(inParts('replaced', 2), isoAt(1));
    const second = await partsOf('replaced');
    await store.put(parsed(smallDefinition('replaced')), isoAt(2));
    const shrunk = await partsOf('replaced');
    await store.put(inParts('replaced', 3), isoAt(3));
    const deleted = await store.delete('replaced', isoAt(4));

    // Assess
    expect(second).toHaveLength(2);
    expect(second.some((sk) => first.includes(sk))).toBe(false);
    expect(shrunk).toEqual([]);
    expect(deleted).toBe(true);
    expect(await partsOf('replaced')).toEqual([]);
  });

  it(`cleans the parts of a PUT that died before its item at a later PUT once older than ${STRAY_PARTS_AGE_MS / 60_000} minutes, not before`, async () => {
    // Prepare: the item's write fails, after the parts were written
    await store.put(parsed(smallDefinition('crashed')), isoAt(0));
    const realSend = dynamo.db.doc.send.bind(dynamo.db.doc);
    const dying = vi.spyOn(dynamo.db.doc, 'send').mockImplementation(((command: unknown) => {
      if (command instanceof UpdateCommand) return Promise.reject(new Error('the process died'));
      return realSend(command as never);
    }) as never);
    await expect(store.put(inParts('crashed'), isoAt(1))).rejects.toThrow('the process died');
    dying.mockRestore();
    const strays = await partsOf('crashed');

    // Act
    await store.put(parsed(smallDefinition('crashed')), isoAt(1 + 14));
    const young = await partsOf('crashed');
    await store.put(parsed(smallDefinition('crashed')), isoAt(1 + 16));
    const old = await partsOf('crashed');

    // Assess
    expect(strays).toHaveLength(2);
    expect(young).toEqual(strays);
    expect(old).toEqual([]);
    expect((await store.get('crashed'))?.definition).toEqual(body(parsed(smallDefinition('crashed'))));
  });

  it('answers a definition in parts whole when it is paused', async () => {
    // Prepare
    const def = inParts('paused');
    await store.put({ ...def, paused: false }, isoAt(0));

    // Act
    const paused = await store.setPaused('paused', true, isoAt(1));

    // Assess
    expect(paused?.paused).toBe(true);
    expect(paused?.definition).toEqual(body(def));
  });
});

describe('reads racing PUTs', () => {
  it('never answer a mix of two versions: each read is one of the definitions PUT, whole (10 rounds)', async () => {
    // Prepare: two versions of a definition in parts, differing in every part
    const versions = [inParts('raced', 11), inParts('raced', 12)];
    const wanted = versions.map((v) => JSON.stringify(body(v)));
    await store.put(versions[0]!, isoAt(0));
    // Each round one reader's read of the parts waits until the PUT is done: it took the item before the PUT moved it.
    const realSend = dynamo.db.doc.send.bind(dynamo.db.doc);
    let headReads = 0;
    let hold: Promise<unknown> | undefined;
    const spy = vi.spyOn(dynamo.db.doc, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof GetCommand && command.input.Key?.pk === keys.definitionsPartition) headReads++;
      const values = command instanceof QueryCommand ? command.input.ExpressionAttributeValues : undefined;
      if (values?.[':pk'] === keys.definitionPartsPartition('raced') && values[':prefix'] !== undefined && hold) {
        const put = hold;
        hold = undefined;
        await put;
      }
      return realSend(command as never);
    }) as never);
    const seen: string[] = [];
    let reads = 0;

    // Act: a PUT replaces the definition while two readers read it
    for (let round = 1; round <= 10; round++) {
      let writing = true;
      const writer = store.put(versions[round % 2]!, isoAt(round)).finally(() => {
        writing = false;
      });
      hold = writer;
      const reader = async () => {
        do {
          const got = await store.get('raced');
          reads++;
          seen.push(JSON.stringify(got?.definition));
        } while (writing);
      };
      await Promise.all([writer, reader(), reader()]);
    }
    spy.mockRestore();

    // Assess
    console.log(`reads racing PUTs: ${reads} reads, ${headReads} reads of the item (${headReads - reads} again after its parts were deleted)`);
    expect(headReads - reads).toBeGreaterThanOrEqual(10);
    expect(seen.every((s) => s === wanted[0] || s === wanted[1])).toBe(true);
    expect(new Set(seen).size).toBe(2);
  });
});
