/**
 * The routes a running task calls, with `Authorization: Bearer $SUNDIAL_TASK_TOKEN`. The token is
 * checked before the body is read; a token for another task is refused and nothing is written.
 */
import { ConflictError, NotFoundError } from '../domain/errors';
import { logEntries, metadataEntries, progressReport, taskIdParams } from '../domain/models';
import { acceptsEntries, LATE_ENTRY_GRACE_SECONDS, type TaskTokenClaims, verifyTaskToken } from '../domain/task-token';
import { defineRoute, header, type Route } from '../http/route';
import { json } from '../http/types';
import { reportAttempt } from '../engine/report';
import type { CallbackServices } from './ports';

export function callbackRoutes(s: CallbackServices): Route[] {
  const authorize = async ({ path, event }: { path: { task_id: string }; event: Parameters<typeof header>[0] }): Promise<TaskTokenClaims> =>
    verifyTaskToken(await s.tokenKey(), header(event, 'authorization'), path.task_id);

  const existingTask = async (claims: TaskTokenClaims) => {
    const task = await s.store.runs.getTaskRecord(claims.pid, claims.tid);
    if (!task) throw new NotFoundError(`task ${claims.tid} does not exist`);
    return task;
  };

  /** The attempt, if it still takes entries: running, or ended less than the grace period ago. */
  const openTask = async (claims: TaskTokenClaims) => {
    const task = await existingTask(claims);
    if (!acceptsEntries(task, s.now())) {
      throw new ConflictError(
        `task ${claims.tid} ended at ${task.end_time ?? '(unknown)'}; entries are accepted for ${LATE_ENTRY_GRACE_SECONDS} s after an attempt ends`,
      );
    }
    return task;
  };

  return [
    defineRoute('appendLogEntries', {
      params: taskIdParams, authorize, body: logEntries,
      handler: async ({ auth, body }) => {
        await openTask(auth);
        const written = await s.store.runs.appendLogEntries(auth.pid, auth.tid, body);
        return json(201, { written, received: body.length });
      },
    }),
    defineRoute('appendMetadata', {
      params: taskIdParams, authorize, body: metadataEntries,
      handler: async ({ auth, body }) => {
        await openTask(auth);
        const written = await s.store.runs.appendMetadataEntries(auth.pid, auth.tid, body);
        return json(201, { written, received: body.length });
      },
    }),
    defineRoute('reportProgress', {
      params: taskIdParams, authorize, body: progressReport,
      handler: async ({ auth, body }) => {
        // Taken while the attempt takes entries (late reports within the grace period too); `applied`
        // says whether this report is the attempt's progress now or a higher one stays (store/progress.ts).
        await openTask(auth);
        const progress = { percent: body.percent, ...(body.message === undefined ? {} : { message: body.message }), when: s.now().toISOString() };
        const recorded = await s.store.runs.recordProgress(auth.pid, auth.tid, progress);
        if (recorded.outcome === 'missing') throw new NotFoundError(`task ${auth.tid} does not exist`);
        return json(201, { task_id: auth.tid, progress: recorded.progress, applied: recorded.outcome === 'applied' });
      },
    }),
    defineRoute('succeedTask', {
      params: taskIdParams, authorize,
      handler: async ({ auth }) => {
        await reportAttempt(s.store, s.now, auth, 'succeeded');
        return json(201, { task_id: auth.tid, reported: 'succeeded' });
      },
    }),
    defineRoute('failTask', {
      params: taskIdParams, authorize,
      handler: async ({ auth }) => {
        await reportAttempt(s.store, s.now, auth, 'failed');
        return json(201, { task_id: auth.tid, reported: 'failed' });
      },
    }),
  ];
}
