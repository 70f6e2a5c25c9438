/**
 * Service keys: masked on GET, restored on a PUT of the masked form for the same api_url only, refused
 * when the mask matches nothing or the api_url changed.
 */
import { describe, expect, it, test } from 'vitest';
import { BadRequestError } from '../../lambdas/domain/errors';
import { type ProcessDefinition, processDefinition as definitionSchema } from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import { presentDefinition } from '../../lambdas/engine/definitions';
import { isMasked, maskSecret, restoreMaskedSecrets } from '../../lambdas/domain/notification-secrets';
import { refusalOf } from '../helpers/assert';
import { processDefinition } from '../helpers/factories';

const KEY_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa1111';
const KEY_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbb2222';

function definition(...keys: string[]): ProcessDefinition {
  return parseWith(
    definitionSchema,
    processDefinition('secrets', {
      notifications: [{ email: { name: 'Ops', email: 'ops@example.com' } }, ...keys.map((k) => ({ pagerduty: { service_key: k } }))],
    }),
  );
}

/** `def` with every PagerDuty notification's api_url set to `apiUrl`. */
function withApiUrl(def: ProcessDefinition, apiUrl: string): ProcessDefinition {
  return { ...def, notifications: def.notifications?.map((n) => (n.pagerduty ? { pagerduty: { ...n.pagerduty, api_url: apiUrl } } : n)) };
}

const keysOf = (def: Pick<ProcessDefinition, 'notifications'>) => (def.notifications ?? []).flatMap((n) => (n.pagerduty ? [n.pagerduty.service_key] : []));

describe('maskSecret', () => {
  test.each([
    [KEY_A, '****1111'],
    ['short-key', '****'],
    ['k', '****'],
  ])('masks %s as %s', (secret, masked) => {
    // Act / Assess
    expect(maskSecret(secret)).toBe(masked);
    expect(isMasked(maskSecret(secret))).toBe(true);
  });

  test.each(['****', '****1111'])('%s reads as masked', (value) => expect(isMasked(value)).toBe(true));
  test.each([KEY_A, '***1111', '****11111', ''])('%s does not', (value) => expect(isMasked(value)).toBe(false));
});

describe('GET answers', () => {
  it('mask every service_key and leave the rest alone', () => {
    // Prepare
    const stored = { definition: definition(KEY_A, KEY_B), paused: false, updated_at: 'x' } as unknown as Parameters<typeof presentDefinition>[0];

    // Act
    const body = presentDefinition(stored) as unknown as ProcessDefinition;

    // Assess
    expect(keysOf(body)).toEqual(['****1111', '****2222']);
    expect(body.notifications?.[0]).toEqual({ email: { name: 'Ops', email: 'ops@example.com', notify_when: 'on_state_change_and_failures' } });
    expect(JSON.stringify(body)).not.toContain(KEY_A);
    expect(keysOf(stored.definition)).toEqual([KEY_A, KEY_B]); // the stored definition is not changed
  });
});

describe('restoreMaskedSecrets', () => {
  it('puts the stored keys back when a PUT carries them masked (GET → PUT round trip)', () => {
    // Prepare
    const incoming = definition('****1111', '****2222');

    // Act
    const restored = restoreMaskedSecrets(incoming, definition(KEY_A, KEY_B));

    // Assess
    expect(keysOf(restored)).toEqual([KEY_A, KEY_B]);
  });

  it('finds a key by its mask when notifications were reordered', () => {
    // Act
    const restored = restoreMaskedSecrets(definition('****2222', '****1111'), definition(KEY_A, KEY_B));

    // Assess
    expect(keysOf(restored)).toEqual([KEY_B, KEY_A]);
  });

  it('keeps new keys as sent', () => {
    // Act
    const restored = restoreMaskedSecrets(definition('****1111', 'cccccccccccccccccccccccccccc3333'), definition(KEY_A));

    // Assess
    expect(keysOf(restored)).toEqual([KEY_A, 'cccccccccccccccccccccccccccc3333']);
  });

  test.each([
    ['no stored definition', definition('****1111'), undefined, 'matches no stored key'],
    ['no stored key with that mask', definition('****1111'), definition(KEY_B), 'matches no stored key'],
    ['a mask two different stored keys share, at a new place', definition(KEY_A, KEY_B, '****'), definition('short-one', 'short-two'), 'more than one'],
  ])('refuses a masked key that matches %s', (_case, incoming, stored, message) => {
    // Act
    const act = () => restoreMaskedSecrets(incoming, stored);

    // Assess
    expect(act).toThrow(BadRequestError);
    expect(act).toThrow(message);
  });

  it('refuses a masked key sent with another api_url, naming the service_key', () => {
    // Prepare
    const stored = withApiUrl(definition(KEY_A), 'https://events.pagerduty.com');
    const incoming = withApiUrl(definition('****1111'), 'https://events.eu.pagerduty.com');

    // Act
    const act = () => restoreMaskedSecrets(incoming, stored);

    // Assess
    expect(refusalOf(act)).toMatchObject({ statusCode: 400, field: 'notifications.1.pagerduty.service_key' });
    expect(act).toThrow('a masked key is kept only when api_url is unchanged');
  });

  it('does not take the key of another place with another api_url either', () => {
    // Prepare: place 1 keeps its URL with a new key; place 2 sends place 1's mask with a new URL.
    const stored = withApiUrl(definition(KEY_A), 'https://events.pagerduty.com');
    const incoming = parseWith(
      definitionSchema,
      processDefinition('secrets', {
        notifications: [
          { email: { name: 'Ops', email: 'ops@example.com' } },
          { pagerduty: { service_key: KEY_B } },
          { pagerduty: { service_key: '****1111', api_url: 'https://events.eu.pagerduty.com' } },
        ],
      }),
    );

    // Act / Assess
    expect(refusalOf(() => restoreMaskedSecrets(incoming, stored))).toMatchObject({ field: 'notifications.2.pagerduty.service_key' });
  });

  it('names every masked key it cannot restore in one refusal, and only those', () => {
    // Act: ****2222 is KEY_B's mask; the other two match no stored key
    const err = refusalOf(() => restoreMaskedSecrets(definition('****1111', '****2222', '****3333'), definition(KEY_B)));

    // Assess
    expect(err).toMatchObject({ statusCode: 400, field: 'notifications.1.pagerduty.service_key' });
    expect((err as BadRequestError).problems?.map((p) => p.field)).toEqual(['notifications.1.pagerduty.service_key', 'notifications.3.pagerduty.service_key']);
  });

  it('treats the same endpoint written differently as unchanged', () => {
    // Prepare
    const stored = withApiUrl(definition(KEY_A), 'https://events.pagerduty.com');
    const incoming = withApiUrl(definition('****1111'), 'https://EVENTS.pagerduty.com/v2/enqueue');

    // Act / Assess
    expect(keysOf(restoreMaskedSecrets(incoming, stored))).toEqual([KEY_A]);
  });

  it('prefers the stored key at the same place when several share the mask', () => {
    // Act
    const restored = restoreMaskedSecrets(definition('****', '****'), definition('short-one', 'short-two'));

    // Assess
    expect(keysOf(restored)).toEqual(['short-one', 'short-two']);
  });
});
