import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TOKEN_SECRET_ARN_ENV } from '../lambdas/functions/environment';

/** Environment variable that carries the ARN of the task-token signing secret to a function (lambdas/functions/environment.ts). */
export { TOKEN_SECRET_ARN_ENV };

/** Properties of {@link TaskTokens}. */
export interface TaskTokensProps {
  /**
   * What happens to the signing key when it leaves the stack. Deleting it
   * invalidates the token of every task still running.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Length of the generated key, in characters (letters and digits: about 5.95
   * bits each, so 64 characters give ~380 bits, well above HMAC-SHA256's 256).
   *
   * @default 64
   */
  readonly keyLength?: number;
}

/**
 * The HMAC key that signs the bearer tokens tasks use on the callback routes
 * (`SUNDIAL_TASK_TOKEN`, bound to one task id). A Secrets Manager secret with a
 * generated random string, encrypted with the account's `aws/secretsmanager` key.
 *
 * Not rotated automatically: a rotation would invalidate the token of every
 * attempt still running (a Batch job may run for hours), failing its callbacks.
 * Rotate by hand between runs; see docs/DEPLOY.md.
 */
export class TaskTokens extends Construct {
  /** The secret holding the signing key (its value is the key itself, a plain string). */
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: TaskTokensProps = {}) {
    super(scope, id);

    this.secret = new secretsmanager.Secret(this, 'SigningKey', {
      description: 'Sundial: HMAC key signing the bearer tokens of task callbacks (SUNDIAL_TASK_TOKEN)',
      generateSecretString: {
        passwordLength: props.keyLength ?? 64,
        excludePunctuation: true,
        includeSpace: false,
        requireEachIncludedType: true,
      },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is the HMAC key of task callback tokens. Automatic rotation would invalidate the token of every ' +
        'task attempt still running (Batch/ECS jobs run for hours), failing their callbacks; the key is rotated by ' +
        'hand between runs, as docs/DEPLOY.md describes.',
    });
  }

  /** ARN of the secret. */
  public get secretArn(): string {
    return this.secret.secretArn;
  }

  /**
   * Lets a function sign or verify task tokens in one call: sets
   * `TOKEN_SECRET_ARN` and grants `GetSecretValue`/`DescribeSecret` on this
   * secret only.
   */
  public grantTo(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(TOKEN_SECRET_ARN_ENV, this.secret.secretArn);
    return this.secret.grantRead(fn);
  }
}
