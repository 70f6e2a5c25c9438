/** Unit tests of the listing cursor of lambdas/store/pages.ts (no DynamoDB involved). */
import { describe, expect, it, test } from 'vitest';
import { decodeCursor, encodeCursor } from '../../lambdas/store/pages';
import { refusalOf } from '../helpers/assert';

const runsKey = {
  pk: 'RUN#0b0e7a4c-9d1f-4f0a-8c55-4b1a1f0c2d3e',
  sk: 'RUN',
  gsi2pk: 'RUNS',
  gsi2sk: '2026-03-01T12:00:00.000Z#0b0e7a4c-9d1f-4f0a-8c55-4b1a1f0c2d3e',
};
const allRuns = { pkName: 'gsi2pk', pk: 'RUNS', skName: 'gsi2sk' };

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('listing cursors', () => {
  it('round-trips a LastEvaluatedKey through an opaque URL-safe string', () => {
    // Act
    const cursor = encodeCursor(runsKey);

    // Assess
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor as string, allRuns)).toEqual(runsKey);
  });

  it('encodes no cursor when there is no next page', () => {
    // Act + Assess
    expect(encodeCursor(undefined)).toBeUndefined();
  });

  test.each([
    ['a cursor of another definition', cursorOf({ ...runsKey, gsi1pk: 'RUNS#other', gsi1sk: runsKey.gsi2sk }), { pkName: 'gsi1pk', pk: 'RUNS#mine', skName: 'gsi1sk' }],
    ['a cursor of another index', cursorOf(runsKey), { pkName: 'gsi1pk', pk: 'RUNS#mine', skName: 'gsi1sk' }],
    ['a cursor of the task listing', cursorOf({ pk: runsKey.pk, sk: 'TASK#x', gsi3pk: 'TASKS', gsi3sk: 'x' }), allRuns],
    ['a non-string key value', cursorOf({ ...runsKey, sk: 1 }), allRuns],
    ['a JSON array', cursorOf([runsKey]), allRuns],
    ['JSON null', cursorOf(null), allRuns],
    ['a JSON string', cursorOf('RUNS'), allRuns],
    ['text that is not base64url JSON', 'not-a-cursor', allRuns],
    ['an empty cursor', '', allRuns],
    ['a cursor with an extra attribute', cursorOf({ ...runsKey, extra: 'x' }), allRuns],
    ['a cursor without the index sort key', cursorOf({ pk: runsKey.pk, sk: runsKey.sk, gsi2pk: 'RUNS' }), allRuns],
    ['a cursor outside the time window', cursorOf(runsKey), { ...allRuns, from: '2026-04-01T00:00:00.000Z' }],
  ])('refuses %s with 400 on next', (_case, cursor, expect_) => {
    // Act
    const err = refusalOf(() => decodeCursor(cursor, expect_));

    // Assess
    expect(err.statusCode).toBe(400);
    expect(err.field).toBe('next');
    expect(err.code).toBe('invalid_cursor');
  });
});
