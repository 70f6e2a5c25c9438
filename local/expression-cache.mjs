// Parsed expressions of the embedded DynamoDB, kept: dynalite parses every request's expressions
// (UpdateExpression, ConditionExpression, KeyConditionExpression, FilterExpression, ProjectionExpression)
// with its PEG parsers, about a fifth of the store thread's time in a chain of tasks (docs/PERFORMANCE.md,
// "Parsed expressions kept"). The engine sends a few dozen distinct expressions, over and over, with other
// values each time.
//
// The parse of an expression depends on the expression, on its attribute names, and on its attribute
// values: their types (type checks) and, in two places, their contents (BETWEEN's bounds, attribute_type's
// type name: expressions with either are never kept). The tree it answers holds the values themselves (the
// request's own objects). So a parse is kept under the expression, its names and the types of its values,
// as a template whose values are holes by name, and only when it depends on the values through those holes
// alone: at the first parse the expression is parsed a second time with other values of the same types,
// and the two trees, values taken out, must be the same. A later request with the same key gets a fresh
// copy of the template (dynalite rewrites trees it holds: a key condition's), its own values in the holes,
// and the same effect on the names and values left unused (the parsers strike off those they use; dynalite
// refuses a request with any left). A parse that fails is never kept: it is parsed again, and fails with
// the same message. A key whose parse was not kept is remembered, and parsed from then on as dynalite does,
// once a request (not twice, as its first time took to tell). test/local/expression-cache.test.ts compares the answers with and without this.

import { isDeepStrictEqual } from 'node:util';

const HOLE = Symbol('attribute value');
const TYPES = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'];

/** The type of an attribute value as the parsers read it (their getImmediateType), or '' when none. */
function typeOf(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return '';
  for (const type of TYPES) if (value[type] != null) return type;
  return '';
}

/** A value of `value`'s type with other contents (undefined when its type has none to vary). */
function otherOfType(value) {
  switch (typeOf(value)) {
    case 'S':
      return { S: `${value.S}\u0000other` };
    case 'N':
      return { N: String(Number(value.N) === 7 ? 8 : 7) };
    case 'B':
      return { B: `${value.B}AA==` };
    case 'BOOL':
      return { BOOL: !value.BOOL };
    case 'SS':
      return { SS: [...value.SS, '\u0000other'] };
    case 'NS':
      return { NS: [...value.NS, '7.5'] };
    case 'BS':
      return { BS: [...value.BS, 'AA=='] };
    case 'L':
      return { L: [...value.L, { NULL: true }] };
    case 'M':
      return { M: { ...value.M, '\u0000other': { NULL: true } } };
    default:
      return undefined;
  }
}

/** Each value object of `values` (name → value), to the name it is the value of. */
function holesOf(values) {
  const holes = new Map();
  for (const [name, value] of Object.entries(values)) if (value && typeof value === 'object') holes.set(value, name);
  return holes;
}

/** `tree` with each object of `holes` (value → name) replaced by a hole naming it; plain objects and arrays copied. */
function template(tree, holes) {
  if (tree === null || typeof tree !== 'object') return tree;
  const name = holes.get(tree);
  if (name !== undefined) return { [HOLE]: name };
  if (Array.isArray(tree)) return tree.map((x) => template(x, holes));
  const out = Object.create(Object.getPrototypeOf(tree));
  for (const key of Object.keys(tree)) out[key] = template(tree[key], holes);
  return out;
}

/** A fresh tree from `t`, each hole filled with the value of that name in `values`. */
function instantiate(t, values) {
  if (t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map((x) => instantiate(x, values));
  if (Object.hasOwn(t, HOLE)) return values[t[HOLE]];
  const out = Object.create(Object.getPrototypeOf(t));
  for (const key of Object.keys(t)) out[key] = instantiate(t[key], values);
  return out;
}

/** Entries kept at most, per parser; past it the oldest goes (the engine sends far fewer). */
const MAX_KEPT = 500;

/**
 * Makes `parser.parse` (a dynalite PEG parser module: `parse(input, {context})`) keep its parses, as the
 * file's comment says. Idempotent. Answers counters of its hits, misses and parses not kept, and `restore()`,
 * which gives the module its own `parse` back.
 */
export function keepParses(parser) {
  if (parser.keptParses) return parser.keptParses;
  const original = parser.parse;
  const { parse, stats } = keptParse(original.bind(parser));
  parser.parse = parse;
  parser.keptParses = Object.assign(stats, {
    restore() {
      parser.parse = original;
      delete parser.keptParses;
    },
  });
  return parser.keptParses;
}

/** `original` (a parser's `parse(input, {context})`) keeping its parses, and its counters. */
export function keptParse(original) {
  const kept = new Map();
  /** Keys whose parse was not kept (it failed, reads its values' contents, or its trees differed): parsed as dynalite does, once. */
  const unkept = new Set();
  const stats = { hits: 0, misses: 0, unkept: 0 };
  const parse = (input, options) => {
    const context = options?.context;
    if (typeof input !== 'string' || !context) return original(input, options);
    const names = context.attrNames ?? {};
    const values = context.attrVals ?? {};
    const key = `${input}\u0000${JSON.stringify(names)}\u0000${Object.keys(values).map((k) => `${k}:${typeOf(values[k])}`).join(',')}`;
    const entry = kept.get(key);
    if (entry) {
      stats.hits++;
      for (const name of entry.names) delete context.unusedAttrNames?.[name];
      for (const name of entry.values) delete context.unusedAttrVals?.[name];
      return instantiate(entry.tree, values);
    }
    stats.misses++;
    if (unkept.has(key)) {
      stats.unkept++;
      return original(input, options);
    }
    // What this parse uses, whatever other expressions of the request struck off before it: parsed with sets
    // of its own holding every name and value, then the same ones struck off the request's.
    const unusedNames = Object.fromEntries(Object.keys(names).map((k) => [k, true]));
    const unusedValues = Object.fromEntries(Object.keys(values).map((k) => [k, true]));
    const result = original(input, { ...options, context: { ...context, unusedAttrNames: unusedNames, unusedAttrVals: unusedValues } });
    const usedNames = Object.keys(names).filter((k) => !Object.hasOwn(unusedNames, k));
    const usedValues = Object.keys(values).filter((k) => !Object.hasOwn(unusedValues, k));
    for (const name of usedNames) delete context.unusedAttrNames?.[name];
    for (const name of usedValues) delete context.unusedAttrVals?.[name];
    const tree = keepable(input, options, result, values, original);
    if (tree === undefined) {
      stats.unkept++;
      if (unkept.size >= MAX_KEPT) unkept.delete(unkept.keys().next().value);
      unkept.add(key);
    } else {
      if (kept.size >= MAX_KEPT) kept.delete(kept.keys().next().value);
      kept.set(key, { tree, names: usedNames, values: usedValues });
    }
    return result;
  };
  return { parse, stats };
}

/** Expressions whose parse reads their values' contents (dynalite's checkBetweenArgs and checkFunction): never kept. */
const READS_CONTENTS = /between|attribute_type/i;

/**
 * The template of `result` (the parse of `input` with `values`) when the parse depends on the values
 * through the holes alone: the same input parsed with other values of the same types gives the same
 * template. Else undefined.
 */
function keepable(input, options, result, values, original) {
  // A failed parse answers its message; BETWEEN compares its bounds and attribute_type reads its type name.
  if (result === null || typeof result !== 'object' || READS_CONTENTS.test(input)) return undefined;
  const others = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, otherOfType(value) ?? value]));
  const tree = template(result, holesOf(values));
  let otherResult;
  try {
    // Its own sets of unused names: the request's are not touched twice.
    otherResult = original(input, { ...options, context: { ...options.context, attrVals: others, unusedAttrNames: {}, unusedAttrVals: {} } });
  } catch {
    return undefined;
  }
  // Holes are compared by name (their symbol key), the rest by value and prototype.
  return isDeepStrictEqual(tree, template(otherResult, holesOf(others))) ? tree : undefined;
}
