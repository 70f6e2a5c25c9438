/**
 * Child process of store-atomic-writes.test.ts: the local store on `argv[2]`, written until it is killed.
 * Items `W#0`…`W#19` are updated 8 at a time; each update moves the item's gsi3 entry (new keys: dynalite
 * deletes the old entry and puts the new one) and changes `n`, which gsi1 (projection ALL) carries. Prints
 * `wrote <count>` after every 10 updates answered.
 */
import { UpdateCommand } from '../../lambdas/store/sdk';
import { startDynamo } from '../../local/dynalite';

const dynamo = await startDynamo(process.argv[2]!);
const { doc, tableName } = dynamo.db;
let next = 0;
let answered = 0;
async function writer(): Promise<never> {
  for (;;) {
    const n = next++;
    const item = `W#${n % 20}`;
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: item, sk: 'S' },
        UpdateExpression: 'SET n = :n, gsi1pk = :g1p, gsi1sk = :g1s, gsi3pk = :g3p, gsi3sk = :g3s',
        ExpressionAttributeValues: { ':n': n, ':g1p': 'WRITES', ':g1s': item, ':g3p': `P${n % 2}`, ':g3s': `${item}#${n}` },
      }),
    );
    if (++answered % 10 === 0) process.stdout.write(`wrote ${answered}\n`);
  }
}
await Promise.all(Array.from({ length: 8 }, writer));
