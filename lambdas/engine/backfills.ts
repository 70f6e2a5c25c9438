/**
 * Backfill (Airflow's backfill, Temporal's BufferAll backfill): `POST …/backfill` queues one run per cron
 * occurrence in a window (domain/backfill.ts), kept by the store (store/backfills.ts); the runs start one
 * after another, each when nothing else of the definition runs — the first at once if nothing runs, each
 * next when a run of the definition ends (`Schedules.drain`, the run-end listener deployed and local
 * alike), after a deferred tick or queued trigger has had its turn. docs/TRIGGERS.md.
 *
 * A backfill's runs never kill each other, and overlap_action `terminate` does not kill them either (a
 * tick or trigger that meets one waits behind it): `terminate` is there so that the newest occurrence
 * replaces a stale run, while every occurrence of a backfill was asked for; killing one for the next
 * would leave only the last. Only a kill of the run itself stops it, and the backfill goes on.
 */
import { randomUUID } from 'node:crypto';
import { backfillOccurrences } from '../domain/backfill';
import { ConflictError, HttpError, NotFoundError } from '../domain/errors';
import { type BackfillAnswer, type BackfillRequest, type BackfillStatus, LIMITS } from '../domain/models';
import type { Logger } from '../logger';
import type { Store } from '../store';
import type { Backfill, BackfillOccurrence } from '../store/backfills';
import { activeEntry, activeProcessId } from '../store/schedules';
import type { Engine, TriggerOptions } from './engine';

export interface BackfillsDeps {
  store: Store;
  now: () => Date;
  logger: Logger;
  /** The engine that starts the runs (attached to `Schedules` after it is built). */
  engine: () => Engine;
}

export class Backfills {
  constructor(private readonly d: BackfillsDeps) {}

  /**
   * Checks a backfill request and queues its occurrences (none in the window: nothing is queued); the
   * caller then starts the first (`Schedules.backfill`). 404 for an unknown definition, 400 for what
   * {@link backfillOccurrences} refuses or a run the definition would refuse, 409 while an earlier
   * backfill of the definition still has occurrences to start (Airflow 3 also refuses a second one).
   */
  async request(name: string, request: BackfillRequest, by: string): Promise<BackfillAnswer> {
    const stored = await this.d.store.definitions.get(name);
    if (!stored) throw new NotFoundError(`process definition "${name}" does not exist`);
    const times = backfillOccurrences(stored.definition.schedule, request);
    const requestedAt = this.d.now().toISOString();
    const occurrences: BackfillOccurrence[] = times.map((t) => ({ scheduled_time: t.toISOString(), process_id: randomUUID() }));
    const first = occurrences[0];
    if (!first) return { process_definition_name: name, occurrences: [] };
    // What a run would refuse is refused now, not once per occurrence later.
    await this.d.engine().check(name, { definition: stored, ...this.provenance({ by, requested_at: requestedAt }, first) });
    if (!(await this.d.store.backfills.create(name, { occurrences, by, requested_at: requestedAt }))) {
      const pending = await this.d.store.backfills.get(name);
      const left = pending ? pending.occurrences.length - pending.next : 0;
      const next = pending?.occurrences[pending.next]?.scheduled_time;
      throw new ConflictError(
        `process definition "${name}" has a backfill with ${left} occurrence${left === 1 ? '' : 's'} still to start${next ? ` (next: ${next})` : ''}: ` +
          'a new backfill is accepted once it has started them all',
      );
    }
    this.d.logger.info('backfill queued', { process_definition_name: name, occurrences: occurrences.length, by });
    return { process_definition_name: name, occurrences };
  }

  /**
   * Starts the backfill's next occurrence if nothing of the definition runs (one conditional write on its
   * schedule state, as a catch-up run). Each occurrence starts once: its run id is fixed, and one already
   * started (a crash before `next` moved) is only stepped over. An occurrence the definition now refuses
   * (a 4xx: it was changed since) is logged and skipped.
   */
  async startNext(name: string): Promise<void> {
    for (let round = 0; round <= LIMITS.backfillRuns + 1; round++) {
      const backfill = await this.d.store.backfills.get(name);
      const occurrence = backfill && backfill.next < backfill.total ? backfill.occurrences[backfill.next] : undefined;
      if (!backfill || !occurrence) return;
      const id = occurrence.process_id;
      if (await this.d.store.runs.getRunRecord(id)) {
        await this.d.store.backfills.advance(name, backfill.next, id);
        continue;
      }
      const startTime = this.d.now().toISOString();
      const entry = activeEntry(startTime, id);
      if (!(await this.d.store.schedules.reserve(name, entry))) return; // a run is in progress: its end starts the next
      // Read again once reserved: a cancel that read no reservation had cancelled before, and is seen here
      // (it cancels, then reads the reservations: {@link cancel}).
      const now = await this.d.store.backfills.get(name);
      if (!now || now.requested_at !== backfill.requested_at || now.next !== backfill.next || now.next >= now.total) {
        await this.d.store.schedules.forget(name, entry);
        if (now && now.next !== backfill.next && now.next < now.total) continue; // another start moved it on
        return;
      }
      try {
        await this.d.engine().trigger(name, { reservation: { processId: id, startTime }, ...this.provenance(backfill, occurrence), withoutEntries: true });
        this.d.logger.info('backfill occurrence starts', { process_definition_name: name, process_id: id, scheduled_time: occurrence.scheduled_time });
        await this.d.store.backfills.advance(name, backfill.next, id);
        return;
      } catch (err) {
        if (!(await this.d.store.runs.getRunRecord(id))) await this.d.store.schedules.forget(name, entry);
        if (!(err instanceof HttpError)) throw err;
        this.d.logger.warn('backfill occurrence refused by the definition; skipped', {
          process_definition_name: name,
          scheduled_time: occurrence.scheduled_time,
          error: err.message,
        });
        await this.d.store.backfills.advance(name, backfill.next, id);
      }
    }
  }

  /**
   * `GET …/backfill`: the definition's backfill (its latest), each occurrence `started` (or stepped over,
   * refused by the definition), `waiting` or `cancelled`. 404 when the definition never had one (or was
   * deleted since).
   */
  async status(name: string): Promise<BackfillStatus> {
    const backfill = await this.d.store.backfills.get(name);
    if (!backfill) throw new NotFoundError(`process definition "${name}" has no backfill`);
    return answerOf(name, backfill);
  }

  /**
   * `DELETE …/backfill`: the occurrences not started yet never start; runs already started go on (a kill
   * stops one). 404 when no backfill of the definition has occurrences left to start. An occurrence whose
   * start was under way (reserved) when the cancel was written starts, and is answered `started`: the
   * start reads the backfill again once reserved, and stands down if it reads the cancel, so each
   * occurrence is either answered `cancelled` and never runs, or answered `started`.
   */
  async cancel(name: string, by: string): Promise<BackfillStatus> {
    for (let round = 0; round <= LIMITS.backfillRuns + 1; round++) {
      const backfill = await this.d.store.backfills.get(name);
      if (!backfill || backfill.next >= backfill.total) throw new NotFoundError(`process definition "${name}" has no backfill with occurrences left to start`);
      const cancelled = { by, at: this.d.now().toISOString() };
      // Lost to a start that moved `next` on (or to another cancel): read again.
      if (!(await this.d.store.backfills.cancel(name, backfill, cancelled))) continue;
      const after = { ...backfill, total: backfill.next, cancelled };
      const first = backfill.occurrences[backfill.next];
      const starting = first !== undefined && (await this.d.store.schedules.get(name)).active.some((e) => activeProcessId(e) === first.process_id);
      this.d.logger.info('backfill cancelled', { process_definition_name: name, cancelled: backfill.total - backfill.next - (starting ? 1 : 0), by });
      return answerOf(name, after, starting ? first.process_id : undefined);
    }
    throw new ConflictError(`process definition "${name}": its backfill kept moving while it was being cancelled; ask again`);
  }

  /** Whether one of `processIds` (runs of the definition in progress) is a backfill's run. */
  async holds(name: string, processIds: readonly string[]): Promise<boolean> {
    const current = (await this.d.store.backfills.get(name))?.current;
    return current !== undefined && processIds.includes(current);
  }

  /** The definition was deleted: its backfill goes (runs already started are kept). */
  async removed(name: string): Promise<void> {
    await this.d.store.backfills.remove(name);
  }

  /** What a backfill's run is started with: its provenance (`trigger.kind` backfill) and logical time. */
  private provenance(backfill: Pick<Backfill, 'by' | 'requested_at'>, occurrence: BackfillOccurrence): Pick<TriggerOptions, 'trigger'> {
    return { trigger: { kind: 'backfill', by: backfill.by, at: backfill.requested_at, scheduled_time: occurrence.scheduled_time } };
  }
}

/** A backfill as `GET …/backfill` answers it; `starting`: the occurrence whose start was under way at a cancel. */
function answerOf(name: string, backfill: Backfill, starting?: string): BackfillStatus {
  return {
    process_definition_name: name,
    by: backfill.by,
    requested_at: backfill.requested_at,
    ...(backfill.cancelled ? { cancelled_by: backfill.cancelled.by, cancelled_at: backfill.cancelled.at } : {}),
    occurrences: backfill.occurrences.map((o, i) => ({
      ...o,
      state: i < backfill.next || o.process_id === starting ? 'started' : i < backfill.total ? 'waiting' : 'cancelled',
    })),
  };
}
