import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { TABLE_NAME_ENV } from '../lambdas/functions/environment';
import { INDEXES, type IndexName, TTL_ATTRIBUTE } from '../lambdas/store/keys';

/** Environment variable that carries the table name to a function (the names: lambdas/functions/environment.ts). */
export { TABLE_NAME_ENV };

/**
 * Global secondary indexes of the single table, their key attributes and the TTL attribute, as
 * `lambdas/store/keys.ts` defines them (the one place that knows every key; which entity writes which
 * index is decided there too).
 */
export const STORE_INDEX_NAMES: readonly IndexName[] = Object.values(INDEXES).map((index) => index.name);

/** Name of the attribute DynamoDB TTL reads (epoch seconds). */
export { TTL_ATTRIBUTE };

/**
 * Data-plane actions a Sundial function needs on its table: item reads and
 * writes, queries on the indexes, conditional checks. Control-plane actions
 * (CreateTable, UpdateTimeToLive, ...), streams and Scan (no request path
 * scans: every access is a key or index lookup) are deliberately absent.
 */
const READ_WRITE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

const READ_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:Query',
];

/** One of the table's indexes. */
export type StoreIndexName = IndexName;

/**
 * What {@link SundialStore.grantTo} grants, when a function needs less than every item action on the
 * table and all its indexes. The IAM tests (test/iam) evaluate every call each function makes against
 * what it was granted, so a grant narrowed too far fails the suite.
 */
export interface StoreAccess {
  /** @default every data-plane action (READ_WRITE_ACTIONS) */
  readonly actions?: readonly string[];
  /** Indexes it queries. @default all of them */
  readonly indexes?: readonly StoreIndexName[];
}

/** Properties of {@link SundialStore}. */
export interface SundialStoreProps {
  /**
   * What happens to the table when it leaves the stack. Sundial's run history
   * and definitions live here, so the default keeps them.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Refuse `DeleteTable` calls (in CloudFormation too) until switched off.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * Continuous backups with point-in-time restore for the last 35 days.
   *
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;

  /**
   * Server-side encryption of the table. The AWS-managed key (`aws/dynamodb`)
   * shows every use of the key in CloudTrail at no key cost and needs no grants
   * on the functions; pass `TableEncryptionV2.customerManagedKey(key)` when a
   * key policy of your own is required (then grant the key to the functions).
   *
   * @default TableEncryptionV2.awsManagedKey()
   */
  readonly encryption?: TableEncryptionV2;
}

/**
 * Sundial's single DynamoDB table: process definitions, runs, task attempts,
 * log and metadata entries, with three overloaded GSIs, a sparse keys-only one
 * of attempts by id, and TTL for items that expire. On demand, point-in-time
 * recovery, deletion protection, retained.
 */
export class SundialStore extends Construct {
  /** The table. */
  public readonly table: TableV2;

  constructor(scope: Construct, id: string, props: SundialStoreProps = {}) {
    super(scope, id);

    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      globalSecondaryIndexes: Object.values(INDEXES).map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.pk, type: AttributeType.STRING },
        sortKey: { name: index.sk, type: AttributeType.STRING },
        projectionType: index.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
      })),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      deletionProtection: props.deletionProtection ?? true,
      encryption: props.encryption ?? TableEncryptionV2.awsManagedKey(),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Name of the table. */
  public get tableName(): string {
    return this.table.tableName;
  }

  /**
   * Hands the table to a function in one call: sets `TABLE_NAME` and grants
   * item reads and writes on the table and each of its indexes (named, not
   * `index/*`, so the policy lists exactly what exists).
   */
  public grantTo(fn: lambda.Function, access: StoreAccess = {}): iam.Grant {
    fn.addEnvironment(TABLE_NAME_ENV, this.table.tableName);
    return this.grantActions(fn, access.actions ?? READ_WRITE_ACTIONS, access.indexes ?? STORE_INDEX_NAMES);
  }

  /** Like {@link grantTo}, read-only: for functions that only report (metrics, notifications). */
  public grantReadTo(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(TABLE_NAME_ENV, this.table.tableName);
    return this.grantActions(fn, READ_ACTIONS);
  }

  private grantActions(grantee: iam.IGrantable, actions: readonly string[], indexes: readonly StoreIndexName[] = STORE_INDEX_NAMES): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      resourceArns: [this.table.tableArn, ...indexes.map((indexName) => `${this.table.tableArn}/index/${indexName}`)],
    });
    // A customer-managed key must be usable by whoever reads or writes items.
    this.table.encryptionKey?.grantEncryptDecrypt(grantee);
    return grant;
  }
}
