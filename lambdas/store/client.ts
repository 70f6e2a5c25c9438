/**
 * The DynamoDB client every store module shares. Lambdas build it at cold start from `TABLE_NAME`;
 * the local mode and tests inject one pointed at dynalite.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface Db {
  /** The low-level client (destroy it to close its sockets). */
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}

export function createDb(tableName: string, config: DynamoDBClientConfig = {}): Db {
  const client = new DynamoDBClient(config);
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  return { client, doc, tableName };
}

/** True for the error DynamoDB answers when a ConditionExpression is not met. */
export function isConditionFailed(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}
