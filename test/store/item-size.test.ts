/**
 * lambdas/store/item-size.ts counts an item as DynamoDB does ("DynamoDB item sizes and formats"), held
 * against a real DynamoDB-compatible engine: dynalite takes an item of DYNAMODB_ITEM_MAX_BYTES by this count
 * and refuses one byte more, for items of strings, lists, maps, sets and booleans.
 */
import { PutCommand } from '../../lambdas/store/sdk';
import { describe, expect, it } from 'vitest';
import { startDynamo } from '../../local/dynalite';
import { DYNAMODB_ITEM_MAX_BYTES, dynamoItemBytes } from '../../lambdas/store/item-size';
import { perFile } from '../helpers/per-file';

const dynamo = perFile('dynalite', () => startDynamo(undefined));

/** An item of `bytes` by the count, most of it a list of maps (a slot's dependents' shape) and a string set. */
function itemOf(bytes: number, n: number): Record<string, unknown> {
  const base = {
    pk: `RUN#size-${n}`,
    sk: 'SLOT#big',
    dependents: Array.from({ length: 1000 }, (_, i) => ({ name: `task-${String(i).padStart(4, '0')}`.padEnd(64, 'x'), success_required: i % 2 === 0 })),
    deps_done: new Set(Array.from({ length: 500 }, (_, i) => `dep-${i}`)),
    definition: { task_definition_name: 'big', dependencies: [], executable: { shell_script_command: { script: 'true' } } },
    status: 'waiting',
    pad: '',
  };
  const pad = bytes - dynamoItemBytes(base);
  if (pad < 0) throw new Error(`the base item is already ${dynamoItemBytes(base)} bytes`);
  const item = { ...base, pad: 'p'.repeat(pad) };
  expect(dynamoItemBytes(item)).toBe(bytes);
  return item;
}

const put = (item: Record<string, unknown>) => dynamo().db.doc.send(new PutCommand({ TableName: dynamo().db.tableName, Item: item }));

describe('dynamoItemBytes', () => {
  it(`matches the engine's limit: ${DYNAMODB_ITEM_MAX_BYTES} bytes are taken, one more is refused`, async () => {
    // Act
    const outcome = (item: Record<string, unknown>) => put(item).then(() => 'taken', (err: Error) => err.message);
    const atLimit = await outcome(itemOf(DYNAMODB_ITEM_MAX_BYTES, 1));
    const over = await outcome(itemOf(DYNAMODB_ITEM_MAX_BYTES + 1, 2));

    // Assess
    expect(atLimit).toBe('taken');
    expect(over).toMatch(/Item size has exceeded the maximum allowed size/);
  });

  it('counts names and values as the AWS page says', () => {
    // Assess: a string is its name and its UTF-8 bytes; a boolean or null 1; a list or map 3 and 1 per element
    expect(dynamoItemBytes({ ab: 'héllo' })).toBe(2 + 6);
    expect(dynamoItemBytes({ ok: true, none: null })).toBe(2 + 1 + 4 + 1);
    expect(dynamoItemBytes({ l: ['a', 'bc'] })).toBe(1 + 3 + (1 + 1) + (1 + 2));
    expect(dynamoItemBytes({ m: { a: 'x' } })).toBe(1 + 3 + (1 + 1 + 1));
    expect(dynamoItemBytes({ s: new Set(['a', 'bc']) })).toBe(1 + 3);
    expect(dynamoItemBytes({ gone: undefined })).toBe(0);
  });
});
