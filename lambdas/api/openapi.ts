/**
 * The OpenAPI 3.1 document of the API, generated from the route tables (each route's path, query and
 * body schemas, the same zod schemas the validator uses) plus the response schemas of models.ts.
 * Served at `GET /api/openapi.json`; test/api/openapi.test.ts checks real responses against it.
 */
import * as z from 'zod';
import {
  backfillResponse,
  backfillStatusResponse,
  definitionListItemResponse,
  definitionResponse,
  errorResponse,
  logEntries,
  logEntriesPageResponse,
  metadataEntries,
  metadataEntriesPageResponse,
  processDefinition,
  processResponse,
  taskOutputResponse,
  taskResponse,
} from '../domain/models';
import { MAX_BODY_BYTES, MAX_COMPRESSED_BODY_BYTES, MAX_DECOMPRESSED_BODY_BYTES, type Route } from '../http/route';

type Json = Record<string, unknown>;

/** A response of a route: a status, a description, and a JSON schema (none: no body or not JSON). */
interface ResponseSpec {
  status: number;
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

const entriesWritten = z.object({ written: z.int().min(0), received: z.int().min(0) });
const reported = z.object({ task_id: z.uuid(), reported: z.enum(['succeeded', 'failed']) });
/** The attempt's progress as now stored; `applied`: false when a higher report stays. */
const progressRecorded = z.object({ task_id: z.uuid(), progress: taskResponse.shape.progress.unwrap(), applied: z.boolean() });

/** Success responses by route key (`METHOD path`). Every route must have one (a test checks it). */
export const RESPONSES: Record<string, ResponseSpec[]> = {
  'GET /api/process_definitions': [
    { status: 200, description: 'All definitions (one too large for an item without its tasks: task_definitions_omitted)', schema: z.array(definitionListItemResponse) },
  ],
  'GET /api/process_definitions/{process_definition_name}': [{ status: 200, description: 'The definition', schema: definitionResponse }],
  'PUT /api/process_definitions/{process_definition_name}': [
    { status: 200, description: 'Replaced', schema: definitionResponse },
    { status: 201, description: 'Created', schema: definitionResponse },
  ],
  'DELETE /api/process_definitions/{process_definition_name}': [{ status: 204, description: 'Deleted' }],
  'POST /api/process_definitions/{process_definition_name}/pause': [{ status: 200, description: 'The paused definition', schema: definitionResponse }],
  'POST /api/process_definitions/{process_definition_name}/resume': [{ status: 200, description: 'The resumed definition', schema: definitionResponse }],
  'POST /api/process_definitions/{process_definition_name}/trigger': [{ status: 201, description: 'The new run', schema: processResponse }],
  'POST /api/process_definitions/{process_definition_name}/backfill': [{ status: 201, description: 'The occurrences queued, oldest first', schema: backfillResponse }],
  'GET /api/process_definitions/{process_definition_name}/backfill': [{ status: 200, description: 'The backfill, each occurrence started, waiting or cancelled', schema: backfillStatusResponse }],
  'DELETE /api/process_definitions/{process_definition_name}/backfill': [{ status: 200, description: 'The backfill as cancelled', schema: backfillStatusResponse }],
  'GET /api/processes': [{ status: 200, description: 'Runs, newest first (more: header x-next-cursor)', schema: z.array(processResponse) }],
  'GET /api/processes/{process_id}': [{ status: 200, description: 'The run', schema: processResponse }],
  'POST /api/processes/{process_id}/kill': [{ status: 201, description: 'The killed run', schema: processResponse }],
  'POST /api/processes/{process_id}/retry': [{ status: 201, description: 'The retried run', schema: processResponse }],
  'GET /api/tasks': [{ status: 200, description: 'Task attempts, newest first (more: header x-next-cursor)', schema: z.array(taskResponse) }],
  'GET /api/tasks/{task_id}/log_entries': [{ status: 200, description: "A page of the attempt's log entries, oldest first", schema: logEntriesPageResponse }],
  'GET /api/tasks/{task_id}/metadata': [{ status: 200, description: "A page of the attempt's metadata entries, oldest first", schema: metadataEntriesPageResponse }],
  'GET /api/tasks/{task_id}/output': [{ status: 200, description: 'A page of the attempt\'s stdout/stderr', schema: taskOutputResponse }],
  'GET /api/openapi.json': [{ status: 200, description: 'This document', schema: z.looseObject({ openapi: z.string() }) }],
  'GET /_internal_/metrics': [{ status: 200, description: 'Prometheus text', contentType: 'text/plain' }],
  'POST /api/tasks/{task_id}/log_entries': [{ status: 201, description: 'Stored', schema: entriesWritten }],
  'POST /api/tasks/{task_id}/metadata': [{ status: 201, description: 'Stored', schema: entriesWritten }],
  'POST /api/tasks/{task_id}/succeed': [{ status: 201, description: 'Recorded', schema: reported }],
  'POST /api/tasks/{task_id}/fail': [{ status: 201, description: 'Recorded', schema: reported }],
  'POST /api/tasks/{task_id}/progress': [{ status: 201, description: "Accepted: the attempt's progress as now stored", schema: progressRecorded }],
};

/** Request bodies whose route validates them in code rather than with its `body` schema. */
const REQUEST_BODIES: Record<string, z.ZodType> = {
  'PUT /api/process_definitions/{process_definition_name}': processDefinition,
  'POST /api/tasks/{task_id}/log_entries': logEntries,
  'POST /api/tasks/{task_id}/metadata': metadataEntries,
};

const ERRORS: Record<number, string> = {
  400: 'Invalid input: `error` is the first problem (`field` names it), `errors` lists every problem found (at most 100)',
  401: 'Missing or invalid task token',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'The answer is over the 6 MB a Lambda function may return and the request does not take gzip (send Accept-Encoding: gzip; larger answers then come compressed)',
  409: 'Conflict with the current state',
  413: 'Body too large (the message names the limit)',
  415: 'Body is not JSON (or compressed other than gzip, or gzip sent as a text type)',
};

export const routeKey = (r: Pick<Route, 'method' | 'path'>) => `${r.method} ${r.path}`;

/** JSON Schema (draft 2020-12, as OpenAPI 3.1 takes it) of a zod schema; what JSON cannot say is left open. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete out.$schema;
  return out;
}

/** Query and path parameters from an object schema, one per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'output');
  const properties = (object.properties ?? {}) as Record<string, Json>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    // Preprocessed or transformed values (dates) have no JSON shape of their own: they travel as strings.
    const described = Object.keys(property).length === 0 ? { type: 'string' } : property;
    const array = described.type === 'array';
    return {
      name,
      in: where,
      required: where === 'path' || (required.has(name) && !array),
      schema: described,
      ...(array ? { style: 'form', explode: true } : {}),
    };
  });
}

/**
 * A route's request body: JSON, or past 2.5 MiB the same JSON gzip-compressed (lambdas/http/route.ts; API
 * Gateway hands an `application/octet-stream` body over intact, base64-encoded, and a JSON one as text).
 */
function requestBody(schema: z.ZodType, required: boolean): Json {
  return {
    required,
    description:
      `JSON (at most ${MAX_BODY_BYTES} bytes). A larger body is sent gzip-compressed: \`Content-Encoding: gzip\`, \`Content-Type: application/octet-stream\`, ` +
      `at most ${MAX_COMPRESSED_BODY_BYTES} bytes compressed and ${MAX_DECOMPRESSED_BODY_BYTES} decompressed (413 past either).`,
    content: {
      'application/json': { schema: jsonSchema(schema, 'input') },
      'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/json', description: 'The JSON body, gzip-compressed (Content-Encoding: gzip)' } },
    },
  };
}

export interface OpenApiOptions {
  /** The server URL; omitted, clients use the document's own origin. */
  serverUrl?: string;
  version?: string;
}

/** The OpenAPI 3.1 document of `routes`. */
export function buildOpenApi(routes: readonly Route[], options: OpenApiOptions = {}): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const key = routeKey(route);
    const responses: Record<string, Json> = {};
    for (const r of RESPONSES[key] ?? [{ status: 200, description: 'OK' }]) {
      responses[String(r.status)] = {
        description: r.description,
        ...(r.schema ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output') } } } : {}),
        ...(r.contentType ? { content: { [r.contentType]: { schema: { type: 'string' } } } } : {}),
      };
    }
    for (const [status, description] of Object.entries(ERRORS)) {
      if (status === '401' && route.auth !== 'task') continue;
      responses[status] = { description, content: { 'application/json': { schema: jsonSchema(errorResponse, 'output') } } };
    }
    const body = REQUEST_BODIES[key] ?? route.schemas.body;
    const operation: Json = {
      operationId: key.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')).replace(/^./, (c) => c.toLowerCase()),
      summary: route.summary,
      tags: [route.auth === 'task' ? 'task callbacks' : route.path.startsWith('/_internal_') ? 'health' : 'operators'],
      security: route.auth === 'operator' ? [{ sigv4: [] }] : route.auth === 'task' ? [{ taskToken: [] }] : [],
      parameters: [...parameters(route.schemas.params, 'path'), ...parameters(route.schemas.query, 'query')],
      ...(body ? { requestBody: requestBody(body, !route.path.endsWith('/trigger')) } : {}),
      responses,
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sundial',
      version: options.version ?? '0.1.0',
      description: 'Serverless scheduler of DAGs of container jobs (the API of svc-sundial 0.1.0, plus additions).',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    components: {
      securitySchemes: {
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS SigV4 (service execute-api); open on loopback in local mode' },
        taskToken: { type: 'http', scheme: 'bearer', description: 'The attempt\'s SUNDIAL_TASK_TOKEN' },
      },
    },
    paths,
  };
}
