/**
 * Forged `next=` cursors over a real socket: whatever a client decodes, edits and re-encodes, the listing
 * answers its page (200) or a 400 `invalid_cursor` naming `next` — never the 500 of a DynamoDB
 * ValidationException (empty or over-long key values, keys of another listing).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, test } from 'vitest';
import { isoAt, seedRun, sundialPerFile } from '../helpers/local';

const { current, api } = sundialPerFile();

const LISTINGS = [
  '/api/processes?limit=1',
  '/api/processes?limit=1&process_definition_name=paged',
  '/api/tasks?limit=1',
  '/api/tasks?limit=1&process_definition_name=paged',
  '/api/tasks?limit=1&process_definition_name=paged&task_definition_name=first',
];

/** The decoded `next` of the first page of each listing (a real cursor to forge from). */
const realKeys = new Map<string, Record<string, string>>();

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    await seedRun(current().services, { process_definition_name: 'paged', start_time: isoAt(i), tasks: [{ task_definition_name: 'first' }, { task_definition_name: 'second' }] });
  }
  for (const listing of LISTINGS) {
    const res = await api('GET', listing);
    const next = res.headers.get('x-next-cursor');
    if (!next) throw new Error(`${listing} answered no cursor`);
    realKeys.set(listing, JSON.parse(Buffer.from(next, 'base64url').toString('utf8')));
  }
});

async function expectPageOrInvalidCursor(listing: string, cursor: string): Promise<void> {
  const res = await api('GET', `${listing}&next=${encodeURIComponent(cursor)}`);
  if (res.status === 200) return;
  expect(res.status, res.text).toBe(400);
  expect(res.json.error.field).toBe('next');
}

describe('forged next cursors', () => {
  test.each(LISTINGS)('%s: the real cursor pages on (200)', async (listing) => {
    // Act
    const res = await api('GET', `${listing}&next=${encode(realKeys.get(listing))}`);

    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(1);
  });

  test.each(LISTINGS)('%s: a key value emptied or over DynamoDB\'s key size is a 400 invalid_cursor', async (listing) => {
    // Prepare: each attribute of the real key emptied, then made one byte longer than DynamoDB takes
    // (partition keys 2048 bytes, sort keys 1024)
    const real = realKeys.get(listing) ?? {};
    const forged = Object.keys(real).flatMap((name) => {
      const tooLong = (/pk$/.test(name) ? 2048 : 1024) + 1;
      return [{ ...real, [name]: '' }, { ...real, [name]: (real[name] ?? '') + 'x'.repeat(tooLong - Buffer.byteLength(real[name] ?? '')) }];
    });

    for (const key of forged) {
      // Act
      const res = await api('GET', `${listing}&next=${encode(key)}`);

      // Assess (a cursor holding a partition key past 2048 bytes is already past next's length limit: invalid_field)
      const expected = JSON.stringify(key).length > 1536 ? 'invalid_field' : 'invalid_cursor';
      expect([res.status, res.json.error?.code, res.json.error?.field], JSON.stringify(key).slice(0, 200)).toEqual([400, expected, 'next']);
    }
  });

  it('edited cursors (any attribute to any string, attributes added or removed) answer 200 or 400, never 5xx', async () => {
    // Prepare
    const anyValue = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.constant(''), fc.integer(), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LISTINGS), fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 2 }), fc.array(fc.nat(), { maxLength: 2 }), anyValue, async (listing, extra, drops, replacement) => {
        const real = { ...realKeys.get(listing) } as Record<string, unknown>;
        const names = Object.keys(real);
        for (const d of drops) delete real[names[d % names.length] as string];
        const name = names[(drops[0] ?? 0) % names.length] as string;
        // Act + Assess
        await expectPageOrInvalidCursor(listing, encode({ ...real, [name]: replacement, ...extra }));
      }),
      { numRuns: 150 },
    );
  });

  it('arbitrary strings as next answer 200 or 400, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LISTINGS), fc.oneof(fc.string({ maxLength: 80 }), fc.base64String({ maxLength: 200 })), async (listing, cursor) => {
        // Act + Assess
        await expectPageOrInvalidCursor(listing, cursor);
      }),
      { numRuns: 100 },
    );
  });
});
