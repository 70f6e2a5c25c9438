/**
 * Ids the engine derives instead of drawing: the same inputs always give the same id, so that a replayed
 * step (Step Functions and Lambda deliver at least once) names the same attempt and execution again.
 */
import { createHash } from 'node:crypto';

/** A name-based UUID (SHA-1, version 5 layout): the same inputs always give the same id. */
export function stableUuid(...parts: Array<string | number>): string {
  const h = createHash('sha1').update(parts.join('\u0000')).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Execution name of a task in a round of a run: unique, at most 80 characters, Step Functions-safe. */
export function executionName(processId: string, taskName: string, round: number): string {
  return `${processId}-${createHash('sha1').update(taskName).digest('hex').slice(0, 12)}-r${round}`;
}
