/**
 * The run history notification decisions look at: the finished runs of a definition, ordered by when
 * they ended. Read through the store (`runs.recentRuns`: the runs-by-definition index, run items only,
 * without their tasks), newest start first, then ordered by end time: a retried run that started long
 * ago and ended now is the newest outcome, and overlapping runs are ordered by outcome, not by start.
 */
import type { ProcessStatus } from '../domain/models';
import { HISTORY_LIMIT, type RunOutcome } from '../domain/notification-policy';
import type { Store } from '../store';

/** A finished run as the history needs it. */
export interface FinishedRun {
  process_id: string;
  start_time: string;
  end_time: string;
  status: RunOutcome;
}

/** Runs started out of order with their end (overlaps, retried runs) are found within this many extra runs. */
const SLACK = 20;

const FINISHED: readonly ProcessStatus[] = ['succeeded', 'failed'];

/** The point in the sequence of outcomes a run sits at: its end, ties broken by id. */
const endKey = (r: { end_time?: string; start_time: string; process_id: string }) => `${r.end_time ?? r.start_time}#${r.process_id}`;

/** The most recent finished runs of a definition (up to `limit` + slack), newest end first. */
async function recentFinishedRuns(store: Store, definitionName: string, limit: number): Promise<FinishedRun[]> {
  const runs = await store.runs.recentRuns(definitionName, { statuses: FINISHED, limit: Math.min(limit, HISTORY_LIMIT) + SLACK });
  return runs
    .map((r) => ({ process_id: r.process_id, start_time: r.start_time, end_time: r.end_time ?? r.start_time, status: r.status as RunOutcome }))
    .sort((a, b) => endKey(b).localeCompare(endKey(a)));
}

/**
 * Outcomes of the `count` finished runs of the definition that ended before `run`, newest first
 * (`[0]` is the previous finished run).
 */
export async function outcomesBefore(
  store: Store,
  run: { process_id: string; process_definition_name: string; start_time: string; end_time?: string },
  count: number,
): Promise<RunOutcome[]> {
  if (count <= 0) return [];
  const at = endKey(run);
  const runs = await recentFinishedRuns(store, run.process_definition_name, count);
  return runs
    .filter((r) => endKey(r) < at)
    .slice(0, Math.min(count, HISTORY_LIMIT))
    .map((r) => r.status);
}

/**
 * Whether a run of the definition that ended after `run` succeeded: a PagerDuty trigger still being
 * retried then is stale (sending it would reopen an incident the later success resolved).
 */
export async function succeededSince(
  store: Store,
  run: { process_id: string; process_definition_name: string; start_time: string; end_time?: string },
): Promise<boolean> {
  const at = endKey(run);
  const runs = await recentFinishedRuns(store, run.process_definition_name, 1);
  return runs.some((r) => endKey(r) > at && r.status === 'succeeded');
}
