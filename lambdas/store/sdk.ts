/**
 * The DynamoDB SDK, the one place the store takes it from, and the document commands the store sends
 * through it. Only the store reads and writes items; outside it, only local/dynalite.ts talks to DynamoDB
 * (it creates the local table).
 *
 * The packages are loaded with `require`, not `import`: deployed, the SDK is the Lambda runtime's (not
 * bundled, lib/sundial-function.ts), a set of CommonJS packages, and every function loads these at cold
 * start. Imported from an ES module, each CommonJS package entry also goes through Node's ES module interop
 * (format detection, a lexer pass for the named exports): ≈ 94 ms instead of ≈ 60 ms by `require` here
 * (docs/PERFORMANCE.md). Types come from the packages themselves.
 *
 * Why our own document commands and not lib-dynamodb's: the store's client resolves its middleware stack
 * once per command class (`cacheMiddleware`, lambdas/store/client.ts), a quarter of each call's CPU, and
 * lib-dynamodb's commands cannot be sent that way (the handler cached for a class sends the input of the
 * first command of that class again). These classes take and answer the same document shapes (the
 * `…CommandInput` and `…CommandOutput` types of lib-dynamodb), marshalled with `@aws-sdk/util-dynamodb`, the
 * library lib-dynamodb itself uses, with the same options; the pre-expression parameters (`Expected`,
 * `AttributeUpdates`, `KeyConditions`, `QueryFilter`, `ScanFilter`), which the store never sends, are left
 * out of their types.
 */
import { createRequire } from 'node:module';
import type * as ClientDynamoDB from '@aws-sdk/client-dynamodb';
import type * as Lib from '@aws-sdk/lib-dynamodb';
import type * as UtilDynamoDB from '@aws-sdk/util-dynamodb';

const load = createRequire(import.meta.url);
const sdk = load('@aws-sdk/client-dynamodb') as typeof ClientDynamoDB;
const { marshall, unmarshall } = load('@aws-sdk/util-dynamodb') as typeof UtilDynamoDB;

export const DynamoDBClient = sdk.DynamoDBClient;
export type DynamoDBClient = ClientDynamoDB.DynamoDBClient;
export type DynamoDBClientConfig = ClientDynamoDB.DynamoDBClientConfig;
export type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';

type AttributeMap = Record<string, ClientDynamoDB.AttributeValue>;
type Doc = Record<string, Lib.NativeAttributeValue>;

/** lib-dynamodb's options as the store set them: undefined fields left out, class instances refused, numbers as numbers. */
const MARSHALL: UtilDynamoDB.marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: false };
const UNMARSHALL: UtilDynamoDB.unmarshallOptions = { wrapNumbers: false };

/** An item in DynamoDB JSON, marshalled as the store's commands marshal it (for a request built without them). */
export const toAttributes = (doc: Doc): AttributeMap => marshall(doc, MARSHALL) as AttributeMap;
const toAttributesIf = (doc: Doc | undefined): AttributeMap | undefined => (doc === undefined ? undefined : toAttributes(doc));
const toDoc = (attributes: AttributeMap): Doc => unmarshall(attributes, UNMARSHALL);
const toDocIf = (attributes: AttributeMap | undefined): Doc | undefined => (attributes === undefined ? undefined : toDoc(attributes));

/** The output of a write that can answer an item's attributes, in document form (its item collection metrics, never asked for, left out). */
function raiseAttributes<O>({ Attributes, ItemCollectionMetrics: _, ...rest }: { Attributes?: AttributeMap; ItemCollectionMetrics?: unknown; $metadata: object }): O {
  return { ...rest, Attributes: toDocIf(Attributes) } as O;
}

/** A page of a Query or a Scan in document form. */
function raisePage<O>({ Items, LastEvaluatedKey, ...rest }: { Items?: AttributeMap[]; LastEvaluatedKey?: AttributeMap; $metadata: object }): O {
  return { ...rest, Items: Items?.map(toDoc), LastEvaluatedKey: toDocIf(LastEvaluatedKey) } as O;
}

/** A low-level command the client sends (each of its own class, so that its cached handler is its own). */
type LowCommand = { readonly input: object };
type SendableCommand = Parameters<ClientDynamoDB.DynamoDBClient['send']>[0];

/**
 * A DynamoDB operation in document form: what the store builds (`new UpdateCommand({...})`) and hands to
 * {@link DocumentClient.send}.
 */
export abstract class DocumentCommand<I extends object, O extends object> {
  constructor(readonly input: I) {}
  /** The operation's command name as the SDK calls it (`UpdateItemCommand`, `QueryCommand`). */
  abstract readonly name: string;
  /** The low-level command of `input`, its items marshalled. */
  abstract lower(input: I): LowCommand;
  /** The low-level output (of the command `lower` made) in document form. */
  abstract raise(output: never): O;
}

export type GetCommandInput = Lib.GetCommandInput;
export type GetCommandOutput = Lib.GetCommandOutput;
export class GetCommand extends DocumentCommand<GetCommandInput, GetCommandOutput> {
  readonly name = 'GetItemCommand';
  lower(input: GetCommandInput) {
    return new sdk.GetItemCommand({ ...input, Key: toAttributesIf(input.Key) });
  }
  raise({ Item, ...rest }: ClientDynamoDB.GetItemCommandOutput): GetCommandOutput {
    return { ...rest, Item: toDocIf(Item) };
  }
}

export type PutCommandInput = Omit<Lib.PutCommandInput, 'Expected'>;
export type PutCommandOutput = Omit<Lib.PutCommandOutput, 'ItemCollectionMetrics'>;
export class PutCommand extends DocumentCommand<PutCommandInput, PutCommandOutput> {
  readonly name = 'PutItemCommand';
  lower(input: PutCommandInput) {
    return new sdk.PutItemCommand({ ...input, Item: toAttributesIf(input.Item), ExpressionAttributeValues: toAttributesIf(input.ExpressionAttributeValues) });
  }
  raise(output: ClientDynamoDB.PutItemCommandOutput): PutCommandOutput {
    return raiseAttributes(output);
  }
}

export type UpdateCommandInput = Omit<Lib.UpdateCommandInput, 'Expected' | 'AttributeUpdates'>;
export type UpdateCommandOutput = Omit<Lib.UpdateCommandOutput, 'ItemCollectionMetrics'>;
export class UpdateCommand extends DocumentCommand<UpdateCommandInput, UpdateCommandOutput> {
  readonly name = 'UpdateItemCommand';
  lower(input: UpdateCommandInput) {
    return new sdk.UpdateItemCommand({ ...input, Key: toAttributesIf(input.Key), ExpressionAttributeValues: toAttributesIf(input.ExpressionAttributeValues) });
  }
  raise(output: ClientDynamoDB.UpdateItemCommandOutput): UpdateCommandOutput {
    return raiseAttributes(output);
  }
}

export type DeleteCommandInput = Omit<Lib.DeleteCommandInput, 'Expected'>;
export type DeleteCommandOutput = Omit<Lib.DeleteCommandOutput, 'ItemCollectionMetrics'>;
export class DeleteCommand extends DocumentCommand<DeleteCommandInput, DeleteCommandOutput> {
  readonly name = 'DeleteItemCommand';
  lower(input: DeleteCommandInput) {
    return new sdk.DeleteItemCommand({ ...input, Key: toAttributesIf(input.Key), ExpressionAttributeValues: toAttributesIf(input.ExpressionAttributeValues) });
  }
  raise(output: ClientDynamoDB.DeleteItemCommandOutput): DeleteCommandOutput {
    return raiseAttributes(output);
  }
}

export type QueryCommandInput = Omit<Lib.QueryCommandInput, 'KeyConditions' | 'QueryFilter'>;
export type QueryCommandOutput = Lib.QueryCommandOutput;
export class QueryCommand extends DocumentCommand<QueryCommandInput, QueryCommandOutput> {
  readonly name = 'QueryCommand';
  lower(input: QueryCommandInput) {
    return new sdk.QueryCommand({
      ...input,
      ExclusiveStartKey: toAttributesIf(input.ExclusiveStartKey),
      ExpressionAttributeValues: toAttributesIf(input.ExpressionAttributeValues),
    });
  }
  raise(output: ClientDynamoDB.QueryCommandOutput): QueryCommandOutput {
    return raisePage(output);
  }
}

export type ScanCommandInput = Omit<Lib.ScanCommandInput, 'ScanFilter'>;
export type ScanCommandOutput = Lib.ScanCommandOutput;
export class ScanCommand extends DocumentCommand<ScanCommandInput, ScanCommandOutput> {
  readonly name = 'ScanCommand';
  lower(input: ScanCommandInput) {
    return new sdk.ScanCommand({
      ...input,
      ExclusiveStartKey: toAttributesIf(input.ExclusiveStartKey),
      ExpressionAttributeValues: toAttributesIf(input.ExpressionAttributeValues),
    });
  }
  raise(output: ClientDynamoDB.ScanCommandOutput): ScanCommandOutput {
    return raisePage(output);
  }
}

type KeysAndAttributes = NonNullable<Lib.BatchGetCommandInput['RequestItems']>[string];
const lowerKeys = ({ Keys, ...rest }: KeysAndAttributes): ClientDynamoDB.KeysAndAttributes => ({ ...rest, Keys: Keys?.map(toAttributes) });
const raiseKeys = ({ Keys, ...rest }: ClientDynamoDB.KeysAndAttributes): KeysAndAttributes => ({ ...rest, Keys: Keys?.map(toDoc) });
const mapValues = <A, B>(record: Record<string, A> | undefined, f: (a: A) => B): Record<string, B> | undefined =>
  record === undefined ? undefined : Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));

export type BatchGetCommandInput = Lib.BatchGetCommandInput;
export type BatchGetCommandOutput = Lib.BatchGetCommandOutput;
export class BatchGetCommand extends DocumentCommand<BatchGetCommandInput, BatchGetCommandOutput> {
  readonly name = 'BatchGetItemCommand';
  lower(input: BatchGetCommandInput) {
    return new sdk.BatchGetItemCommand({ ...input, RequestItems: mapValues(input.RequestItems, lowerKeys) });
  }
  raise({ Responses, UnprocessedKeys, ...rest }: ClientDynamoDB.BatchGetItemCommandOutput): BatchGetCommandOutput {
    return { ...rest, Responses: mapValues(Responses, (items) => items.map(toDoc)), UnprocessedKeys: mapValues(UnprocessedKeys, raiseKeys) };
  }
}

type DocWriteRequest = NonNullable<Lib.BatchWriteCommandInput['RequestItems']>[string][number];
const lowerWrite = ({ PutRequest, DeleteRequest }: DocWriteRequest): ClientDynamoDB.WriteRequest => ({
  ...(PutRequest ? { PutRequest: { Item: toAttributes(PutRequest.Item ?? {}) } } : {}),
  ...(DeleteRequest ? { DeleteRequest: { Key: toAttributes(DeleteRequest.Key ?? {}) } } : {}),
});
const raiseWrite = ({ PutRequest, DeleteRequest }: ClientDynamoDB.WriteRequest): DocWriteRequest => ({
  ...(PutRequest ? { PutRequest: { Item: toDoc(PutRequest.Item ?? {}) } } : {}),
  ...(DeleteRequest ? { DeleteRequest: { Key: toDoc(DeleteRequest.Key ?? {}) } } : {}),
});

export type BatchWriteCommandInput = Lib.BatchWriteCommandInput;
export type BatchWriteCommandOutput = Omit<Lib.BatchWriteCommandOutput, 'ItemCollectionMetrics'>;
export class BatchWriteCommand extends DocumentCommand<BatchWriteCommandInput, BatchWriteCommandOutput> {
  readonly name = 'BatchWriteItemCommand';
  lower(input: BatchWriteCommandInput) {
    return new sdk.BatchWriteItemCommand({ ...input, RequestItems: mapValues(input.RequestItems, (writes) => writes.map(lowerWrite)) });
  }
  raise({ UnprocessedItems, ItemCollectionMetrics: _, ...rest }: ClientDynamoDB.BatchWriteItemCommandOutput): BatchWriteCommandOutput {
    return { ...rest, UnprocessedItems: mapValues(UnprocessedItems, (writes) => writes.map(raiseWrite)) };
  }
}

/** A command as an observer sees it: its name and its input in document form (which the observer may change). */
export interface StoreCall {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

/**
 * Sees each command the store sends, once per `send` (retries included): calls `next` to send it and answers
 * what it answered (the document-form output) or throws. What SDK middleware on the client's `initialize`
 * step was, for a client whose middleware stack is resolved once (lambdas/store/client.ts).
 */
export type StoreObserver = (call: StoreCall, next: () => Promise<Record<string, unknown>>) => Promise<Record<string, unknown>>;

/** Sends document commands through a low-level client, past the observers. */
export class DocumentClient {
  private observers: readonly StoreObserver[] = [];

  constructor(private readonly client: ClientDynamoDB.DynamoDBClient) {}

  async send<I extends object, O extends object>(command: DocumentCommand<I, O>): Promise<O> {
    const call: StoreCall = { name: command.name, input: command.input as Record<string, unknown> };
    const sent = async () => command.raise((await this.client.send(command.lower(call.input as I) as SendableCommand)) as never) as Record<string, unknown>;
    const observers = this.observers;
    let next = sent;
    for (let i = observers.length - 1; i >= 0; i--) {
      const [observer, inner] = [observers[i]!, next];
      next = () => observer(call, inner);
    }
    return (await next()) as O;
  }

  /** Adds an observer (the first added sees each call first); answers the function that removes it. */
  observe(observer: StoreObserver): () => void {
    this.observers = [...this.observers, observer];
    return () => {
      this.observers = this.observers.filter((o) => o !== observer);
    };
  }
}
