/** Types of ./expression-cache.mjs (the store's thread loads it as plain JavaScript). */
type Parse = (input: string, options: { context: object }) => unknown;

export interface KeptParses {
  hits: number;
  misses: number;
  unkept: number;
}

export function keepParses(parser: { parse: Parse }): KeptParses & { restore(): void };
export function keptParse<P extends (input: string, options: never) => unknown>(original: P): { parse: P; stats: KeptParses };
