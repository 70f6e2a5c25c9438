/**
 * Two PUTs that together close an upstream cycle (`a` lists `b`, `b` lists `a`), each one's cycle check
 * reading before the other's write (docs/TRIGGERS.md, "Cycles"). The interleaving is forced: the API's
 * writes go in lockstep (below), so that both PUTs make every read that precedes their first write
 * before either writes, and the one that loses its claim checks again before the other stores. Before
 * the fix both were stored and each run of one started a run of the other for ever; now one is stored and
 * the other answers the 400 `upstream_cycle` a PUT made after it would answer. Two PUTs that close no
 * cycle, in the same lockstep, are both stored; a PUT that keeps losing its claim answers 503.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { currentFunction, runAs } from '../../local/function-context';
import { keys } from '../../lambdas/store/keys';
import { UpdateCommand } from '../../lambdas/store/sdk';
import { shellTask, startTestSundial, type TestSundial } from '../helpers/local';

let sundial: TestSundial;

/**
 * The two PUTs in lockstep: while armed, each write of the API function waits until the other PUT waits
 * at a write too (then both go), or has answered (then the barrier is off). So both cycle checks read
 * before either PUT writes, and when one PUT loses its claim and checks again, the other has not gone
 * past its claim: its definition is not stored yet.
 */
const barrier = {
  armed: false,
  waiting: [] as Array<() => void>,
  /** How many times both PUTs waited together. */
  meetings: 0,
  arrive(go: () => void) {
    this.waiting.push(go);
    if (this.waiting.length < 2) return;
    this.meetings++;
    for (const next of this.waiting.splice(0)) next();
  },
  /** A PUT answered: the other goes on alone. */
  off() {
    this.armed = false;
    for (const next of this.waiting.splice(0)) next();
  },
};

/** While on, another claim moves the upstream version on just before each claim of the API. */
const interfere = { on: false };

/** The API's DynamoDB calls while `recording`, as `<command> <pk>/<sk>`. */
const recorded = { on: false, calls: [] as string[] };

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);

beforeAll(async () => {
  sundial = await startTestSundial();
  sundial.services.store.db.doc.observe(async (call, next) => {
    const input = call.input as any;
    if (recorded.on && currentFunction() === 'api') recorded.calls.push(`${call.name} ${input?.Key?.pk}/${input?.Key?.sk}`);
    const claim = input?.Key?.pk === keys.upstreamVersion.pk && String(input?.ConditionExpression).includes('#version = :read');
    if (interfere.on && claim && currentFunction() === 'api') {
      const { db } = sundial.services.store;
      await runAs('local', () =>
        db.doc.send(new UpdateCommand({ TableName: db.tableName, Key: keys.upstreamVersion, UpdateExpression: 'ADD #version :one', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':one': 1 } })),
      );
    }
    if (barrier.armed && currentFunction() === 'api' && WRITES.has(call.name)) {
      await new Promise<void>((go) => barrier.arrive(go));
    }
    return next();
  });
}, 60_000);

afterAll(async () => {
  await sundial?.close();
});

const definition = (name: string, upstream: string) => ({
  process_definition_name: name,
  upstream: [{ process_definition_name: upstream }],
  task_definitions: [shellTask('one')],
});

test('two PUTs closing a cycle, each checked before the other wrote: one is stored, the other is a 400 upstream_cycle', async () => {
  // Prepare: the PUTs' writes wait for each other
  barrier.armed = true;

  // Act: `race-a` lists `race-b` and `race-b` lists `race-a`, sent together
  const answers = await Promise.all(
    [definition('race-a', 'race-b'), definition('race-b', 'race-a')].map((body) =>
      sundial.api('PUT', `/api/process_definitions/${body.process_definition_name}`, body).finally(() => barrier.off()),
    ),
  );

  // Assess: the interleaving happened (both waited at their first write)
  expect(barrier.meetings).toBeGreaterThan(0);
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses, answers.map((a) => a.text).join('\n')).toEqual([201, 400]);
  const refused = answers.find((a) => a.status === 400)!;
  expect(refused.json.errors).toEqual([
    expect.objectContaining({ code: 'upstream_cycle', field: 'upstream.0.process_definition_name' }),
  ]);
  const stored = answers.find((a) => a.status === 201)!.json.process_definition_name as string;
  const other = stored === 'race-a' ? 'race-b' : 'race-a';
  expect(refused.json.error.message).toBe(`upstream cycle: ${other} -> ${stored} -> ${other} (each run would start the next for ever)`);
  // Only the stored one exists: no cycle is stored
  expect((await sundial.api('GET', `/api/process_definitions/${other}`)).status).toBe(404);
  expect((await sundial.api('GET', `/api/process_definitions/${stored}`)).json.upstream).toEqual([{ process_definition_name: other, when: 'succeeded' }]);
  // and the winner released its pending edges
  expect((await sundial.services.store.upstreamVersion.read(new Date().toISOString())).pending.size).toBe(0);
}, 60_000);

test('a PUT without upstream reads and writes nothing of the upstream version, nor the downstream index; one with upstream claims and releases', async () => {
  // Act
  recorded.on = true;
  const plain = await sundial.api('PUT', '/api/process_definitions/plain', { process_definition_name: 'plain', task_definitions: [shellTask('one')] });
  const plainCalls = recorded.calls.splice(0);
  const listing = await sundial.api('PUT', '/api/process_definitions/listing', definition('listing', 'plain'));
  const listingCalls = recorded.calls.splice(0);
  recorded.on = false;

  // Assess
  expect([plain.status, listing.status]).toEqual([201, 201]);
  expect(plainCalls.filter((c) => c.includes('UPSTREAM') || c.includes('DOWNSTREAM'))).toEqual([]);
  expect(listingCalls.filter((c) => c.includes('UPSTREAM/VERSION'))).toEqual(['GetItemCommand UPSTREAM/VERSION', 'UpdateItemCommand UPSTREAM/VERSION', 'UpdateItemCommand UPSTREAM/VERSION']);
}, 60_000);

test('two PUTs closing no cycle, in the same lockstep: the one that lost its claim checks again and both are stored', async () => {
  // Prepare
  barrier.armed = true;
  recorded.on = true;

  // Act: `calm-a` lists `calm-x`, `calm-b` lists `calm-y`
  const answers = await Promise.all(
    [definition('calm-a', 'calm-x'), definition('calm-b', 'calm-y')].map((body) =>
      sundial.api('PUT', `/api/process_definitions/${body.process_definition_name}`, body).finally(() => barrier.off()),
    ),
  );
  recorded.on = false;

  // Assess: both stored; the version was written five times: two claims, one of them again after losing, two releases
  expect(answers.map((a) => a.status), answers.map((a) => a.text).join('\n')).toEqual([201, 201]);
  expect(recorded.calls.splice(0).filter((c) => c === 'UpdateItemCommand UPSTREAM/VERSION')).toHaveLength(5);
}, 60_000);

test('a PUT whose every claim is lost answers 503 after ten, and stores nothing', async () => {
  // Act
  interfere.on = true;
  recorded.on = true;
  const put = await sundial.api('PUT', '/api/process_definitions/starved', definition('starved', 'plain')).finally(() => {
    interfere.on = false;
    recorded.on = false;
  });

  // Assess
  expect(put.status, put.text).toBe(503);
  expect(put.json.error).toMatchObject({ code: 'service_unavailable', field: 'upstream' });
  expect(recorded.calls.splice(0).filter((c) => c === 'UpdateItemCommand UPSTREAM/VERSION')).toHaveLength(10);
  expect((await sundial.api('GET', '/api/process_definitions/starved')).status).toBe(404);
}, 60_000);
