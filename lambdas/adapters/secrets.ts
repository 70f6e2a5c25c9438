/** Secrets Manager: the one adapter that reads the task-token signing key deployed. */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lazyClient, onceUntilFailure } from './lazy-client';

/**
 * A loader that fetches the secret once per cold start and keeps it. The SDK client package is imported
 * (and `client`, by default, built) at the first call (./lazy-client): the api function never reads the
 * key, the engine only to prepare an attempt.
 */
export function secretKeyLoader(secretArn: string, client?: SecretsManagerClient): () => Promise<Buffer> {
  const load = lazyClient(() => import('@aws-sdk/client-secrets-manager'), (sdk) => new sdk.SecretsManagerClient({}), client);
  return onceUntilFailure(async () => {
    const { sdk, client: secrets } = await load();
    const out = await secrets.send(new sdk.GetSecretValueCommand({ SecretId: secretArn }));
    if (!out.SecretString) throw new Error(`secret ${secretArn} has no string value`);
    return Buffer.from(out.SecretString, 'utf8');
  });
}
