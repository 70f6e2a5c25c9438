import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it, test } from 'vitest';
import { UnauthorizedError } from '../../lambdas/domain/errors';
import { signTaskToken, verifyTaskToken } from '../../lambdas/domain/task-token';
import { refusalOf } from '../helpers/assert';

const key = randomBytes(32);
const taskA = randomUUID();
const taskB = randomUUID();
const processId = randomUUID();

/** A token whose payload is `payload` (any text), correctly signed under `key`. */
function signedRaw(payload: string, signingKey = key): string {
  const encoded = Buffer.from(payload).toString('base64url');
  const mac = createHmac('sha256', signingKey).update(`v1.${encoded}`).digest('base64url');
  return `v1.${encoded}.${mac}`;
}

describe('task tokens', () => {
  it('verifies a token for its own task and answers its claims', () => {
    // Prepare
    const token = signTaskToken(key, { tid: taskA, pid: processId });

    // Act
    const claims = verifyTaskToken(key, `Bearer ${token}`, taskA);

    // Assess
    expect(claims).toEqual({ tid: taskA, pid: processId });
  });

  test.each(['bearer', 'BEARER'])('accepts the scheme written %s', (scheme) => {
    // Prepare
    const token = signTaskToken(key, { tid: taskA, pid: processId });

    // Act + Assess
    expect(verifyTaskToken(key, `${scheme} ${token}`, taskA).tid).toBe(taskA);
  });

  it('refuses a token of task A for task B', () => {
    // Prepare
    const token = signTaskToken(key, { tid: taskA, pid: processId });

    // Act
    const err = refusalOf(() => verifyTaskToken(key, `Bearer ${token}`, taskB));

    // Assess
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(err.statusCode).toBe(401);
  });

  it('refuses a token signed with another key', () => {
    // Prepare
    const token = signTaskToken(randomBytes(32), { tid: taskA, pid: processId });

    // Act
    const err = refusalOf(() => verifyTaskToken(key, `Bearer ${token}`, taskA));

    // Assess
    expect(err.statusCode).toBe(401);
  });

  it('refuses a forged signature: the payload of task B with the signature of task A', () => {
    // Prepare
    const [version, , signatureOfA] = signTaskToken(key, { tid: taskA, pid: processId }).split('.');
    const payloadOfB = signTaskToken(key, { tid: taskB, pid: processId }).split('.')[1];
    const forged = `${version}.${payloadOfB}.${signatureOfA}`;

    // Act
    const err = refusalOf(() => verifyTaskToken(key, `Bearer ${forged}`, taskB));

    // Assess
    expect(err.statusCode).toBe(401);
  });

  it('refuses a token whose signature was altered', () => {
    // Prepare
    const token = signTaskToken(key, { tid: taskA, pid: processId });
    const signature = token.split('.')[2] ?? '';
    const altered = `${token.slice(0, token.length - signature.length)}${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;

    // Act
    const err = refusalOf(() => verifyTaskToken(key, `Bearer ${altered}`, taskA));

    // Assess
    expect(err.statusCode).toBe(401);
  });

  test.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer'],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['one part', 'Bearer abc'],
    ['two parts', 'Bearer v1.abc'],
    ['four parts', 'Bearer v1.a.b.c'],
    ['another version', `Bearer ${signTaskToken(key, { tid: taskA, pid: processId }).replace(/^v1\./, 'v2.')}`],
    ['an empty payload', 'Bearer v1..abc'],
    ['two tokens', `Bearer ${signTaskToken(key, { tid: taskA, pid: processId })} ${signTaskToken(key, { tid: taskA, pid: processId })}`],
    ['a signed payload that is not JSON', `Bearer ${signedRaw('not json')}`],
    ['a signed payload without pid', `Bearer ${signedRaw(JSON.stringify({ tid: taskA }))}`],
    ['a signed payload with a numeric tid', `Bearer ${signedRaw(JSON.stringify({ tid: 1, pid: processId }))}`],
    ['a signed JSON null', `Bearer ${signedRaw('null')}`],
  ])('refuses a malformed token: %s', (_case, authorization) => {
    // Act
    const err = refusalOf(() => verifyTaskToken(key, authorization, taskA));

    // Assess
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(err.code).toBe('unauthorized');
  });

  it('answers the same refusal for every case, so that a caller learns nothing', () => {
    // Prepare
    const wrongTask = refusalOf(() => verifyTaskToken(key, `Bearer ${signTaskToken(key, { tid: taskA, pid: processId })}`, taskB));
    const wrongKey = refusalOf(() => verifyTaskToken(key, `Bearer ${signTaskToken(randomBytes(32), { tid: taskA, pid: processId })}`, taskA));
    const missing = refusalOf(() => verifyTaskToken(key, undefined, taskA));

    // Assess
    expect(wrongTask.toJSON()).toEqual(wrongKey.toJSON());
    expect(missing.toJSON()).toEqual(wrongKey.toJSON());
  });
});
