/**
 * The operator API (IAM-authorised deployed, open on loopback locally). One line per route.
 */
import * as z from 'zod';
import { BadRequestError, NotFoundError } from '../domain/errors';
import {
  backfillBody,
  DEFAULT_PAGE_SIZE,
  type LogEntry,
  type MetadataEntry,
  definitionNameParams,
  processesQuery,
  processIdParams,
  taskEntriesQuery,
  taskIdParams,
  taskOutputQuery,
  tasksQuery,
  triggerBody,
  triggerQuery,
} from '../domain/models';
import { callerOf } from '../http/caller';
import { defineRoute, type Route } from '../http/route';
import { empty, json, text } from '../http/types';
import type { Services } from './ports';
import { callbackRoutes } from '../callbacks/routes';
import { renderMetrics } from './metrics';
import { buildOpenApi } from './openapi';
import { capturedTaskOutput } from './output';

/** The `next` cursor of a listing travels in a header, so that list bodies stay Sundial's bare arrays. */
export const NEXT_CURSOR_HEADER = 'x-next-cursor';

/** PUT bodies are validated by `Definitions.put` (schema and every rule past it, in one answer). */
const definitionBody = z.unknown();


const nextHeader = (next: string | undefined): Record<string, string> => (next ? { [NEXT_CURSOR_HEADER]: next } : {});

export function operatorRoutes(s: Services): Route[] {
  /** An attempt by its id (and its run's, when the caller gives it); 404 when there is none. */
  const findAttempt = async (taskId: string, processIdGiven?: string) => {
    const processId = processIdGiven ?? (await s.store.runs.findProcessIdOfTask(taskId));
    const record = processId ? await s.store.runs.getTaskRecord(processId, taskId) : undefined;
    if (!record) throw new NotFoundError(`task ${taskId} does not exist`);
    return { task_id: taskId, process_id: record.process_id };
  };

  /** `GET /api/tasks/{task_id}/log_entries` or `…/metadata`: a page of an attempt's entries of one kind, oldest first. */
  const entriesRoute = (route: 'taskLogEntries' | 'taskMetadata', kind: 'log' | 'metadata') =>
    defineRoute(route, {
      params: taskIdParams,
      query: taskEntriesQuery,
      handler: async ({ path, query }) => {
        const attempt = await findAttempt(path.task_id, query.process_id);
        const page = await s.store.runs.entriesPage<LogEntry | MetadataEntry>(attempt.task_id, kind, { limit: query.limit ?? DEFAULT_PAGE_SIZE, cursor: query.next });
        return json(200, { ...attempt, [kind === 'log' ? 'log_entries' : 'metadata_entries']: page.entries, ...(page.next ? { next: page.next } : {}) });
      },
    });

  return [
    // process definitions
    defineRoute('listDefinitions', {
      handler: async () => json(200, await s.definitions.list()),
    }),
    defineRoute('getDefinition', {
      params: definitionNameParams,
      handler: async ({ path }) => json(200, await s.definitions.get(path.process_definition_name)),
    }),
    defineRoute('putDefinition', {
      params: definitionNameParams,
      body: definitionBody,
      handler: async ({ path, body }) => {
        const { created, definition } = await s.definitions.put(path.process_definition_name, body);
        return json(created ? 201 : 200, definition);
      },
    }),
    defineRoute('deleteDefinition', {
      params: definitionNameParams,
      handler: async ({ path }) => {
        await s.definitions.delete(path.process_definition_name);
        return empty(204);
      },
    }),
    defineRoute('pauseDefinition', {
      params: definitionNameParams,
      handler: async ({ path }) => json(200, await s.definitions.pause(path.process_definition_name)),
    }),
    defineRoute('resumeDefinition', {
      params: definitionNameParams,
      handler: async ({ path }) => json(200, await s.definitions.resume(path.process_definition_name)),
    }),

    defineRoute('triggerDefinition', {
      params: definitionNameParams,
      query: triggerQuery,
      body: triggerBody,
      optionalBody: true,
      handler: async ({ path, query, body, event }) => {
        // overlap_action applies to a trigger as to a tick (Sundial's spec); `force=true` starts at once.
        const run = await s.schedules.trigger(
          path.process_definition_name,
          {
            taskDefinitionName: query.task_definition_name,
            environmentVariables: body?.environment_variables,
            ...(body?.parameters ? { parameters: body.parameters } : {}),
            trigger: { kind: 'manual', by: callerOf(event) },
          },
          query.force === 'true',
        );
        // 201 as Sundial answers it; a queued run says so (`queued`) and where it will be.
        return json(201, run, run.queued ? { location: `/api/processes/${run.process_id}` } : {});
      },
    }),
    defineRoute('backfillDefinition', {
      params: definitionNameParams,
      body: backfillBody,
      // 201 as the routes that start runs answer; each occurrence's run answers 404 until it starts.
      handler: async ({ path, body, event }) => json(201, await s.schedules.backfill(path.process_definition_name, body, callerOf(event))),
    }),
    defineRoute('getBackfill', {
      params: definitionNameParams,
      handler: async ({ path }) => json(200, await s.schedules.backfillStatus(path.process_definition_name)),
    }),
    defineRoute('cancelBackfill', {
      params: definitionNameParams,
      handler: async ({ path, event }) => json(200, await s.schedules.cancelBackfill(path.process_definition_name, callerOf(event))),
    }),

    // runs
    defineRoute('listProcesses', {
      query: processesQuery,
      handler: async ({ query }) => {
        const page = await s.store.runs.listRuns({
          process_definition_name: query.process_definition_name,
          start_time: query.start_time,
          end_time: query.end_time,
          statuses: query.allowed_statuses,
          trigger_kinds: query.trigger_kind,
          limit: query.limit ?? query.max_records ?? DEFAULT_PAGE_SIZE,
          cursor: query.next,
        });
        return json(200, page.items, nextHeader(page.next));
      },
    }),
    defineRoute('getProcess', {
      params: processIdParams,
      handler: async ({ path }) => {
        const run = await s.store.runs.getRun(path.process_id);
        if (!run) throw new NotFoundError(`process ${path.process_id} does not exist`);
        return json(200, run);
      },
    }),

    defineRoute('killProcess', {
      params: processIdParams,
      // 201 as Sundial answers it (DESIGN.md "Status codes"): its generated clients throw on 200.
      handler: async ({ path }) => json(201, await s.engine.kill(path.process_id)),
    }),
    defineRoute('retryProcess', {
      params: processIdParams,
      handler: async ({ path, event }) => json(201, await s.engine.retry(path.process_id, callerOf(event))),
    }),

    // task attempts
    defineRoute('listTasks', {
      query: tasksQuery,
      handler: async ({ query }) => {
        // The indexes list a task definition's attempts within its definition; a run's partition holds them all.
        if (query.task_definition_name && !query.process_definition_name && !query.process_id) {
          throw new BadRequestError('task_definition_name needs process_definition_name (or process_id)', 'process_definition_name', 'invalid_field');
        }
        const page = await s.store.runs.listTasks({
          process_id: query.process_id,
          process_definition_name: query.process_definition_name,
          task_definition_name: query.task_definition_name,
          start_time: query.start_time,
          end_time: query.end_time,
          statuses: query.allowed_statuses,
          limit: query.limit ?? query.max_records ?? DEFAULT_PAGE_SIZE,
          cursor: query.next,
        });
        return json(200, page.items, nextHeader(page.next));
      },
    }),

    defineRoute('taskOutput', {
      params: taskIdParams,
      query: taskOutputQuery,
      handler: async ({ path, query }) => {
        const processId = query.process_id ?? (await s.store.runs.findProcessIdOfTask(path.task_id));
        // The attempt without its entries: the source reads only the page it answers.
        const task = processId ? await s.store.runs.getTaskRecord(processId, path.task_id) : undefined;
        if (!task) throw new NotFoundError(`task ${path.task_id} does not exist`);
        const slot = await s.store.slots.get(task.process_id, task.task_definition_name);
        const page = await (s.taskOutput ?? capturedTaskOutput(s.store.runs)).read({ task, definition: slot?.definition, next: query.next, limit: query.limit ?? 1000 });
        return json(200, { task_id: task.task_id, process_id: task.process_id, status: task.status, ...page });
      },
    }),

    // an attempt's entries, a page at a time (a run embeds only the last few: domain/response-size.ts)
    entriesRoute('taskLogEntries', 'log'),
    entriesRoute('taskMetadata', 'metadata'),

    // the API itself
    defineRoute('openApi', {
      handler: async () => json(200, buildOpenApi([...operatorRoutes(s), ...callbackRoutes(s)])),
    }),

    // health
    defineRoute('metrics', {
      handler: async () => text(200, renderMetrics(await s.store.stats.read()), 'text/plain; version=0.0.4; charset=utf-8'),
    }),
  ];
}
