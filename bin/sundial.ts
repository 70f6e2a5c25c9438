#!/usr/bin/env node
// The CDK app (`cdk.json`: `npx tsx bin/sundial.ts`). Environment-agnostic and
// lookup-free, so `cdk synth` runs offline; `cdk deploy` takes the account and
// region of the credentials in use.
import { App, Validations } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SundialStack } from '../lib/index';

/** A context value (`cdk synth -c key=value`) that is not what the key takes. */
class InvalidContextError extends Error {
  constructor(key: string, value: unknown, expected: string) {
    super(`invalid context ${key}: expected ${expected}, got ${JSON.stringify(value)}`);
    this.name = 'InvalidContextError';
  }
}

const app = new App();

function positiveNumber(key: string): number | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidContextError(key, value, 'a positive number');
  return n;
}

function retentionDays(key: string): RetentionDays | undefined {
  const days = positiveNumber(key);
  if (days === undefined) return undefined;
  if (!Object.values(RetentionDays).includes(days)) {
    throw new InvalidContextError(key, days, 'a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)');
  }
  return days as RetentionDays;
}

const rateLimit = positiveNumber('sundial:throttleRateLimit');
const burstLimit = positiveNumber('sundial:throttleBurstLimit');

new SundialStack(app, app.node.tryGetContext('sundial:stackName') ?? 'Sundial', {
  sundial: {
    throttle: rateLimit || burstLimit ? { rateLimit: rateLimit ?? 100, burstLimit: burstLimit ?? 200 } : undefined,
    logRetention: retentionDays('sundial:logRetentionDays'),
  },
});

// Synthesis fails on any AwsSolutions finding that is not acknowledged with a reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
