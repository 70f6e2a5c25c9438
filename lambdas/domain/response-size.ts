/**
 * How big an API answer may grow, so that no answer passes Lambda's synchronous response limit
 * (LAMBDA_SYNC_RESPONSE_MAX_BYTES, 6,291,556 bytes: aws-limits.ts), whatever a run holds.
 *
 * The arithmetic. Lambda counts the JSON it returns to API Gateway, in which the body is a string: every
 * `"` and `\` of the body is escaped once more. The largest entry a task can post (models.ts LIMITS) is a
 * 32,768-character message (or metadata value) and a 256-character source (or key), each character a
 * control character that JSON writes as `\u001f` (6 bytes) and the envelope as `\\u001f` (7 bytes):
 * (32,768 + 256) × 7 + ~150 bytes of ids, time and names ≈ 231 KB per entry ({@link ENTRY_MAX_PAYLOAD_BYTES}).
 * A run has up to 10,000 tasks (LIMITS.taskDefinitionsPerProcess), each with one or more attempts, each
 * with any number of entries. Embedding even one entry per attempt could need 10,000 × 231 KB = 2.3 GB,
 * and N per attempt and per kind 2 × N times that: no per-attempt N alone keeps a run under 6 MB. So:
 *
 * - a run embeds at most {@link ENTRIES_PER_ATTEMPT} entries of each kind per attempt (the last ones, by
 *   time), for at most {@link ATTEMPTS_WITH_ENTRIES_MAX} attempts (the newest), and only while the answer
 *   stays within {@link RUN_RESPONSE_BUDGET_BYTES}; an attempt whose entries were cut says so
 *   (`log_entries_truncated` / `metadata_entries_truncated`, or `entries_omitted` when none were read)
 *   and `GET /api/tasks/{id}/log_entries` or `/metadata` pages through all of them;
 * - the attempts themselves: an attempt is ~0.5 KB on the wire (ids, names ≤ 64 characters, times), plus
 *   its progress, if it reported one, at most {@link PROGRESS_MAX_PAYLOAD_BYTES} (~4 KB): 10,000 tasks of
 *   one attempt each are ~5 MB, up to ~47 MB with long progress messages, and retries add more. Not even
 *   each task's latest attempt fits, so a run answers its attempts in the order of their ids (its
 *   partition's order) up to {@link ATTEMPTS_BUDGET_BYTES}, listed by start time as always; when that cuts
 *   them, the run says so with `attempts_next`, a cursor of `GET /api/tasks/?process_id=<id>`, which pages
 *   through the rest in the same order (1,000 attempts a page at most: ≤ ~4.7 MB). The answer and those
 *   pages hold every attempt once (ids are not in time order: the attempts a running run starts meanwhile
 *   may land before the cursor, and the next read of the run has them). A run whose attempts fit (up to
 *   ~8,000 attempts without progress messages) answers them all, exactly as before. The read stops where
 *   the answer does: each Query's `Limit` follows the bytes left (store/pages.ts `queryPartitionPage`), so
 *   that a run of any size reads the attempts it answers and at most one Query's worth more, never its
 *   whole partition. What does grow with the task count is `progress`, which counts every task's slot: a
 *   Query of the slots projecting their status, ~30 bytes a task (10,000 tasks: ~0.3 MB of answer, in
 *   DynamoDB's 1 MB pages of whole slots);
 * - lists of runs embed no entries at all (`entries_omitted: true` on every attempt), and the attempts of
 *   a page of runs share {@link RUN_RESPONSE_BUDGET_BYTES}: each run reads up to an even share, what the
 *   runs that needed less left goes to the runs cut, in list order, and a run still cut carries
 *   `attempts_next` as above (a page whose runs' attempts fit answers them all, as before). Lists of
 *   attempts embed no entries either: a page of 1,000 is at most ~4.7 MB;
 * - a page of entries stops at {@link ENTRY_PAGE_BUDGET_BYTES} (and hands a `next` cursor), so that even
 *   1,000 entries of the largest size (231 MB) come back as pages that each fit.
 *
 * Worst case of a run: attempts ≤ 4 MiB + entries up to the 5 MiB budget in all = at most 5 MiB + one
 * entry (231 KB) < 6,291,556 bytes, a margin of ~0.8 MB for the envelope.
 */
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from './aws-limits';
import { LIMITS } from './models';

const MiB = 1024 * 1024;

/** Bytes `value` takes in Lambda's response payload once it is the (JSON string) body of the answer. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(JSON.stringify(value))) - 2;
}

/** The largest log or metadata entry, in payload bytes (see the arithmetic above). */
export const ENTRY_MAX_PAYLOAD_BYTES = (LIMITS.entryMessageMaxLength + 256) * 7 + 150;

/**
 * The largest progress of an attempt (`{percent, message, when}`), in payload bytes: a message of
 * LIMITS.progressMessageMaxLength characters, each at most 4 bytes (`"` and `\` are escaped twice; the
 * schema refuses control characters and lone surrogates, which would take 7), and ~150 bytes for the
 * rest.
 */
export const PROGRESS_MAX_PAYLOAD_BYTES = LIMITS.progressMessageMaxLength * 4 + 150;

/** Entries of each kind embedded per attempt in a run (the last ones): as many as an email shows. */
export const ENTRIES_PER_ATTEMPT = 10;

/**
 * Attempts of a run whose entries are read and embedded at most (the newest): a run of 1,000 single
 * attempts, as many tasks as a run had before the limit rose to 10,000, so that an answer makes at most
 * 2,000 Queries of entries (16 at a time), whatever the run's size.
 */
export const ATTEMPTS_WITH_ENTRIES_MAX = 1000;

/** Payload bytes a run's answer may take with its embedded entries. */
export const RUN_RESPONSE_BUDGET_BYTES = 5 * MiB;

/**
 * Payload bytes set aside per run of a page for what is added once its attempts are read: `attempts_next`
 * (its name and a cursor of the run's partition key and an attempt's sort key: 151 bytes as JSON) and the
 * `task` array's own punctuation. Without it a page cut exactly at its budget passed it by 192 bytes.
 */
export const RUN_ANSWER_RESERVE_BYTES = 256;

/** Payload bytes a run's attempts may take in its answer (as answered without entries); past them, `attempts_next`. */
export const ATTEMPTS_BUDGET_BYTES = 4 * MiB;

/** Payload bytes of one page of entries. */
export const ENTRY_PAGE_BUDGET_BYTES = 5 * MiB;

/** Room the budgets leave below Lambda's limit for the largest entry and the response envelope. */
export const RESPONSE_MARGIN_BYTES = LAMBDA_SYNC_RESPONSE_MAX_BYTES - RUN_RESPONSE_BUDGET_BYTES - ENTRY_MAX_PAYLOAD_BYTES;
