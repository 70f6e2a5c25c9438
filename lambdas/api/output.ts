/**
 * A task attempt's container output (stdout/stderr) as the local mode serves it: the lines its executor
 * captured (stored as the attempt's log entries with source `stdout`/`stderr`, numbered in the order
 * they were written). Deployed, the port `TaskOutputSource` (./ports.ts) reads CloudWatch Logs instead.
 */
import { BadRequestError } from '../domain/errors';
import type { OutputLine } from '../domain/models';
import { ENTRY_PAGE_BUDGET_BYTES, payloadBytes } from '../domain/response-size';
import { CAPTURED_SEQ_MAX } from '../store/keys';
import type { RunStore } from '../store/runs';
import type { TaskOutputSource } from './ports';

/**
 * Output captured by the local executor, in the order it was written (each line's sequence number,
 * keys.capturedLine). The position is the last sequence read, so a page never shifts when lines
 * arrive meanwhile; a page stops at ENTRY_PAGE_BUDGET_BYTES of lines, so the answer stays under
 * Lambda's 6 MB however long the lines (lambdas/domain/response-size.ts).
 */
export function capturedTaskOutput(runs: RunStore): TaskOutputSource {
  return {
    async read({ task, next, limit }) {
      const after = next === undefined ? -1 : Number(next);
      if (!/^(-1|\d{1,10})$/.test(next ?? '-1') || after > CAPTURED_SEQ_MAX) {
        throw new BadRequestError('next is not a position of this output: use the next of the previous page', 'next', 'invalid_cursor');
      }
      const toLine = (e: { when: string; source: string; message: string }): OutputLine => ({ when: e.when, stream: e.source as OutputLine['stream'], message: e.message });
      const page = await runs.capturedLinesPage(task.process_id, task.task_id, {
        afterSeq: after,
        limit,
        maxBytes: ENTRY_PAGE_BUDGET_BYTES,
        size: (line) => payloadBytes(toLine(line)),
      });
      return { origin: 'captured', lines: page.map(toLine), next: String(page.at(-1)?.seq ?? after) };
    },
  };
}
