/**
 * The size of an item as DynamoDB counts it against its 400 KB limit ("DynamoDB item sizes and formats",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html): the
 * UTF-8 bytes of each attribute's name, plus its value's size:
 * - a string: its UTF-8 bytes; a binary: its raw bytes;
 * - a number: about one byte per two significant digits, plus one (counted here as one more, erring high);
 * - a boolean or null: 1;
 * - a list or map: 3, plus each element's size and 1 byte per element (a map's element counts its name too);
 * - a set: the sum of its members.
 * Values are the JavaScript forms the DocumentClient marshals (undefined attributes are not written).
 */
import { DYNAMODB_ITEM_MAX_BYTES } from '../domain/aws-limits';

export { DYNAMODB_ITEM_MAX_BYTES };

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Size of one attribute value. */
function valueBytes(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const digits = String(value).replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
    return 2 + Math.ceil(Math.max(1, digits) / 2);
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((sum: number, member) => sum + valueBytes(member), 0);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + valueBytes(element), 0);
  if (typeof value === 'object') return 3 + mapBytes(value as Record<string, unknown>, 1);
  return 0;
}

function mapBytes(map: Record<string, unknown>, perElement: number): number {
  let sum = 0;
  for (const [name, value] of Object.entries(map)) {
    if (value === undefined) continue;
    sum += perElement + utf8(name) + valueBytes(value);
  }
  return sum;
}

/** An item's size in bytes, keys included, as DynamoDB counts it. */
export function dynamoItemBytes(item: Record<string, unknown>): number {
  return mapBytes(item, 0);
}
