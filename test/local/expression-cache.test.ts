/**
 * The embedded DynamoDB keeps dynalite's parsed expressions (local/expression-cache.mjs): each request here
 * goes through dynalite's own `validateExpressions` (every expression of a request, then its unused names
 * and values) with the parsers as dynalite ships them, then with their parses kept, in an order that makes
 * the kept ones answer (the same expression again, with other values of the same types, with values of
 * other types, with other names); both must give the same trees (prototypes included) and the same errors.
 */
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { keepParses, keptParse } from '../../local/expression-cache.mjs';

const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const validations = fromDynalite('./validations/index.js') as {
  validateExpressions(data: Record<string, unknown>): string | undefined;
  convertKeyCondition(expression: unknown): unknown;
};
type Parser = { parse(input: string, options: { context: object }): unknown };
const parsers = ['condition', 'update', 'projection'].map((name) => fromDynalite(`./db/${name}Parser.js`) as Parser);

type Request = Record<string, unknown>;
const PARSED = ['_updates', '_condition', '_keyCondition', '_filter', '_projection'];

/** What dynalite's validation answers for `request`: its error, else the trees it leaves on the request. */
function validate(request: Request): { error?: string; trees?: Record<string, unknown> } {
  const data = structuredClone(request);
  const error = validations.validateExpressions(data);
  if (error) return { error };
  const trees = Object.fromEntries(PARSED.filter((k) => k in data).map((k) => [k, data[k]]));
  // What dynalite does next with a key condition: it rewrites the tree it was given.
  if (data._keyCondition) validations.convertKeyCondition((data._keyCondition as { expression: unknown }).expression);
  return { trees };
}

const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

/** Requests as the engine's store sends them, and others, each in an order that hits kept parses. */
const requests: Request[] = [
  // An attempt's end (runs.ts transitionItem): the same expression, other values.
  ...['succeeded', 'failed', 'succeeded'].map((to, i) => ({
    UpdateExpression: 'SET #status = :to, end_time = :end, #ttl = :ttl',
    ConditionExpression: '#status IN (:f0) AND attribute_not_exists(reported)',
    ExpressionAttributeNames: { '#status': 'status', '#ttl': 'expires_at' },
    ExpressionAttributeValues: { ':to': S(to), ':end': S(`2026-12-05T0${i}:00:00Z`), ':ttl': N(1_800_000_000 + i), ':f0': S('running') },
  })),
  // Counters (stats.ts): ADD of numbers, then of a string (a type error), then numbers again.
  { UpdateExpression: 'ADD #c0 :v0, #c1 :v1', ExpressionAttributeNames: { '#c0': 'tasks_running', '#c1': 'tasks_succeeded' }, ExpressionAttributeValues: { ':v0': N(-1), ':v1': N(1) } },
  { UpdateExpression: 'ADD #c0 :v0, #c1 :v1', ExpressionAttributeNames: { '#c0': 'tasks_running', '#c1': 'tasks_succeeded' }, ExpressionAttributeValues: { ':v0': N(3), ':v1': N(-2) } },
  { UpdateExpression: 'ADD #c0 :v0, #c1 :v1', ExpressionAttributeNames: { '#c0': 'tasks_running', '#c1': 'tasks_succeeded' }, ExpressionAttributeValues: { ':v0': N(3), ':v1': S('x') } },
  { UpdateExpression: 'ADD #c0 :v0, #c1 :v1', ExpressionAttributeNames: { '#c0': 'tasks_running', '#c1': 'tasks_succeeded' }, ExpressionAttributeValues: { ':v0': N(5), ':v1': N(6) } },
  // The same expression with other names.
  { UpdateExpression: 'ADD #c0 :v0, #c1 :v1', ExpressionAttributeNames: { '#c0': 'runs_running', '#c1': 'runs_failed' }, ExpressionAttributeValues: { ':v0': N(1), ':v1': N(1) } },
  // A value left unused, then every value used: dynalite refuses the first, with the parse kept or not.
  { UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':a': S('1'), ':b': S('2') } },
  { UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':a': S('3') } },
  { UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':a': S('4'), ':b': S('5') } },
  // A name left unused.
  { UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a', '#b': 'b' }, ExpressionAttributeValues: { ':a': S('1') } },
  { UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a', '#b': 'b' }, ExpressionAttributeValues: { ':a': S('9') } },
  // A name used by two expressions of a request: the second parse finds it struck off already; a later request
  // whose other expression does not use it must still have it struck off by the kept parse.
  { UpdateExpression: 'SET #a = :v', ConditionExpression: 'attribute_exists(#a)', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':v': S('1') } },
  { UpdateExpression: 'SET zq = :v', ConditionExpression: 'attribute_exists(#a)', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':v': S('2') } },
  // Functions, lists, maps, nested paths, REMOVE.
  ...[1, 2, 1].map((i) => ({
    UpdateExpression: 'SET #l = list_append(if_not_exists(#l, :empty), :more), #m.#k = :m, #n = #n + :one REMOVE #gone, #l[0]',
    ConditionExpression: 'size(#l) < :max AND begins_with(#k, :prefix) AND NOT contains(#l, :x) AND (#n <> :one OR attribute_exists(#m))',
    ExpressionAttributeNames: { '#l': 'list', '#m': 'map', '#k': 'key', '#n': 'n', '#gone': 'gone' },
    ExpressionAttributeValues: { ':empty': { L: [] }, ':more': { L: [S(`x${i}`)] }, ':m': { M: { a: N(i) } }, ':one': N(1), ':max': N(10 * i), ':prefix': S(`p${i}`), ':x': S(`x${i}`) },
  })),
  // A list_append of a string: a type error the second time only.
  { UpdateExpression: 'SET #l = list_append(#l, :more)', ExpressionAttributeNames: { '#l': 'list' }, ExpressionAttributeValues: { ':more': { L: [N(1)] } } },
  { UpdateExpression: 'SET #l = list_append(#l, :more)', ExpressionAttributeNames: { '#l': 'list' }, ExpressionAttributeValues: { ':more': S('no') } },
  // Sets: ADD and DELETE.
  ...[['a'], ['b', 'c']].map((ss) => ({ UpdateExpression: 'ADD #s :s DELETE #t :t', ExpressionAttributeNames: { '#s': 's', '#t': 't' }, ExpressionAttributeValues: { ':s': { SS: ss }, ':t': { NS: ['1', String(ss.length)] } } })),
  // Key conditions (rewritten by dynalite after the parse), filters, projections.
  ...['RUN#1', 'RUN#2', 'RUN#1'].map((pk, i) => ({
    KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
    FilterExpression: '#status IN (:a, :b) AND #n > :n',
    ProjectionExpression: '#pk, #sk, #status, #l[1].#k',
    ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#status': 'status', '#n': 'n', '#l': 'list', '#k': 'key' },
    ExpressionAttributeValues: { ':pk': S(pk), ':sk': S(`TASK#${i}`), ':a': S('running'), ':b': S('failed'), ':n': N(i) },
  })),
  // A key condition with its value first: dynalite turns it round.
  ...[1, 2].map((i) => ({ KeyConditionExpression: ':pk = #pk', ExpressionAttributeNames: { '#pk': 'pk' }, ExpressionAttributeValues: { ':pk': S(`P${i}`) } })),
  // BETWEEN and attribute_type read the values' contents: right, then wrong, with the same types.
  { ConditionExpression: '#n BETWEEN :lo AND :hi', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':lo': N(1), ':hi': N(5) } },
  { ConditionExpression: '#n BETWEEN :lo AND :hi', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':lo': N(9), ':hi': N(5) } },
  { ConditionExpression: 'attribute_type(#n, :t)', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':t': S('N') } },
  { ConditionExpression: 'attribute_type(#n, :t)', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':t': S('NUMBER') } },
  // Syntax errors and undefined names, twice each.
  ...[1, 2].map(() => ({ UpdateExpression: 'SET #a = = :a', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':a': S('1') } })),
  ...[1, 2].map(() => ({ ConditionExpression: '#a = :a', ExpressionAttributeNames: { '#b': 'a' }, ExpressionAttributeValues: { ':a': S('1') } })),
  // A reserved word as a name.
  ...[1, 2].map(() => ({ ConditionExpression: 'status = :a', ExpressionAttributeValues: { ':a': S('1') } })),
];

describe("the store's kept expression parses", () => {
  const expected = requests.map(validate);
  const kept = parsers.map(keepParses);
  afterAll(() => kept.forEach((k) => k.restore()));

  it('answer each request as dynalite does without them', () => {
    const answers = requests.map(validate);
    for (const [i, answer] of answers.entries()) expect(answer, `request ${i}: ${JSON.stringify(requests[i])}`).toStrictEqual(expected[i]);
    // Twice over: every kept parse answers now, and dynalite's rewrites of the first copies changed nothing kept.
    for (const [i, answer] of requests.map(validate).entries()) expect(answer, `request ${i}, again`).toStrictEqual(expected[i]);
  });

  it("answer the engine's requests from kept parses, and keep none of those that read values", () => {
    const [condition, update] = kept;
    const before = [condition!.hits, update!.hits, condition!.misses, update!.misses];
    // An attempt's end once more, with values of its own: one hit of each parser, no parse.
    const attemptEnd = structuredClone(requests[0]!);
    attemptEnd.ExpressionAttributeValues = { ':to': S('failed'), ':end': S('2027-01-01T00:00:00Z'), ':ttl': N(1), ':f0': S('running') };
    expect(validate(attemptEnd).trees).toBeDefined();
    expect([condition!.hits, update!.hits, condition!.misses, update!.misses]).toStrictEqual([before[0]! + 1, before[1]! + 1, before[2], before[3]]);
    const { parse, stats } = keptParse(parsers[0]!.parse.bind(parsers[0]));
    const context = () => ({ attrNames: { '#n': 'n' }, attrVals: { ':lo': N(1), ':hi': N(5) }, unusedAttrNames: {}, unusedAttrVals: {}, isReserved: () => false, compare: () => false });
    parse('#n BETWEEN :lo AND :hi', { context: context() });
    parse('#n BETWEEN :lo AND :hi', { context: context() });
    expect(stats).toStrictEqual({ hits: 0, misses: 2, unkept: 2 });
  });

  it('keep no parse whose tree holds what it read of a value, rather than the value', () => {
    // A parser that copies a string value's contents into its tree: the second parse, with other contents, tells.
    const copying = (_input: string, { context }: { context: { attrVals: Record<string, { S: string }> } }) => ({ type: '=', args: [['a'], { S: context.attrVals[':a']!.S }] });
    const { parse, stats } = keptParse(copying);
    const context = (a: string) => ({ attrNames: {}, attrVals: { ':a': S(a) }, unusedAttrNames: {}, unusedAttrVals: {} });
    expect(parse('a = :a', { context: context('one') })).toStrictEqual({ type: '=', args: [['a'], S('one')] });
    expect(parse('a = :a', { context: context('two') })).toStrictEqual({ type: '=', args: [['a'], S('two')] });
    expect(stats).toStrictEqual({ hits: 0, misses: 2, unkept: 2 });
  });
});
