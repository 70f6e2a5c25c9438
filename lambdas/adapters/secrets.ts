/** Secrets Manager: the one adapter that reads the task-token signing key deployed. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** A loader that fetches the secret once per cold start and keeps it. */
export function secretKeyLoader(secretArn: string, client = new SecretsManagerClient({})): () => Promise<Buffer> {
  let cached: Promise<Buffer> | undefined;
  return () => {
    cached ??= client.send(new GetSecretValueCommand({ SecretId: secretArn })).then((out) => {
      if (!out.SecretString) throw new Error(`secret ${secretArn} has no string value`);
      return Buffer.from(out.SecretString, 'utf8');
    });
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}
