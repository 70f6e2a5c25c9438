import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Sundial, type SundialProps } from './sundial';

/** Properties of {@link SundialStack}. */
export interface SundialStackProps extends StackProps {
  /**
   * Options of the Sundial construct.
   *
   * @default - the defaults of {@link SundialProps}
   */
  readonly sundial?: SundialProps;
}

/**
 * The deployable stack: one {@link Sundial} and its outputs. Environment-agnostic
 * unless `env` is given; it performs no lookups, so it synthesizes offline.
 */
export class SundialStack extends Stack {
  /** The Sundial construct, for stacks or tests that wire more onto it. */
  public readonly sundial: Sundial;

  constructor(scope: Construct, id: string, props: SundialStackProps = {}) {
    super(scope, id, {
      description: 'Sundial: serverless scheduler of container job DAGs (API Gateway, Lambda, DynamoDB)',
      ...props,
    });

    this.sundial = new Sundial(this, 'Sundial', props.sundial);

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the Sundial API, no trailing slash (SUNDIAL_URL; operator routes need SigV4 for execute-api)',
      value: this.sundial.apiUrl,
    });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table holding definitions, runs and task attempts',
      value: this.sundial.table.tableName,
    });
    new CfnOutput(this, 'TokenSecretArn', {
      description: 'Secrets Manager secret holding the HMAC key of task tokens',
      value: this.sundial.tokenSecret.secretArn,
    });
    if (this.sundial.console) {
      new CfnOutput(this, 'ConsoleUrl', {
        description: 'URL of the web console (CloudFront); operators sign in with a user of ConsoleUserPoolId',
        value: this.sundial.console.url,
      });
      new CfnOutput(this, 'ConsoleUserPoolId', {
        description: 'Cognito user pool of console operators (aws cognito-idp admin-create-user --user-pool-id ...)',
        value: this.sundial.console.userPool.userPoolId,
      });
    }
  }
}
