/**
 * The DynamoDB SDK packages, the one place the store takes them from. Only the store reads and writes
 * items; outside it, only local/dynalite.ts talks to DynamoDB (it creates the local table).
 *
 * They are loaded with `require`, not `import`: deployed, the SDK is the Lambda runtime's (not bundled,
 * lib/sundial-function.ts), a set of CommonJS packages, and every function loads these two at cold start.
 * Imported from an ES module, each CommonJS package entry also goes through Node's ES module interop
 * (format detection, a lexer pass for the named exports): ≈ 94 ms instead of ≈ 60 ms by `require` here
 * (docs/PERFORMANCE.md). Types come from the packages themselves.
 */
import { createRequire } from 'node:module';
import type * as ClientDynamoDB from '@aws-sdk/client-dynamodb';
import type * as LibDynamoDB from '@aws-sdk/lib-dynamodb';

const load = createRequire(import.meta.url);
const client = load('@aws-sdk/client-dynamodb') as typeof ClientDynamoDB;
const lib = load('@aws-sdk/lib-dynamodb') as typeof LibDynamoDB;

export const DynamoDBClient = client.DynamoDBClient;
export type DynamoDBClient = ClientDynamoDB.DynamoDBClient;
export type DynamoDBClientConfig = ClientDynamoDB.DynamoDBClientConfig;

export const DynamoDBDocumentClient = lib.DynamoDBDocumentClient;
export type DynamoDBDocumentClient = LibDynamoDB.DynamoDBDocumentClient;
export const { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } = lib;
export type { NativeAttributeValue, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
