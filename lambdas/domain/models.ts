/**
 * The seed spec's models (svc-sundial 0.1.0) as zod schemas: the one source for request validation,
 * TypeScript types and the OpenAPI document (lambdas/api/openapi.ts builds it from these schemas).
 *
 * Wire format (DESIGN.md): field names and enums exactly as in the seed; unions are one-key wrapper
 * objects (`{"shell_script_command": {...}}`); the spec's defaults apply when a field is absent; `null`
 * counts as absent for optional fields (generated clients send it). Request objects are strict: a field
 * the schema does not know is a 400 naming it (DESIGN.md: a typo must never drop a schedule silently),
 * except the read-only fields a GET answers ({@link DEFINITION_READ_ONLY_FIELDS}), which a PUT ignores
 * so that a definition read with GET can be PUT back unchanged.
 */
import * as z from 'zod';

// ---- enums -------------------------------------------------------------------------------------

export const NOTIFICATION_OPTIONS = ['always', 'on_failure', 'on_state_change', 'on_state_change_and_failures', 'never'] as const;
export const OVERLAP_ACTIONS = ['wait', 'terminate'] as const;
export const PROCESS_STATUSES = ['running', 'succeeded', 'failed'] as const;
export const TASK_STATUSES = ['submitted', 'runnable', 'starting', 'pending', 'running', 'failed', 'succeeded'] as const;
/** Beyond Sundial (docs/TRIGGERS.md): how a declared run parameter gets its value. */
export const PARAMETER_KINDS = ['required', 'optional', 'static'] as const;
/** Beyond Sundial: where a run's parameter value came from. */
export const PARAMETER_SOURCES = ['given', 'default', 'static', 'upstream'] as const;
/** Beyond Sundial: what started a run (its `trigger.kind`). */
export const TRIGGER_KINDS = ['manual', 'schedule', 'backfill', 'upstream', 'retry'] as const;

export type NotificationOption = (typeof NOTIFICATION_OPTIONS)[number];
export type OverlapAction = (typeof OVERLAP_ACTIONS)[number];
export type ProcessStatus = (typeof PROCESS_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type ParameterKind = (typeof PARAMETER_KINDS)[number];
export type ParameterSource = (typeof PARAMETER_SOURCES)[number];
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

export const notificationOption = z.enum(NOTIFICATION_OPTIONS);
export const processStatus = z.enum(PROCESS_STATUSES);
export const taskStatus = z.enum(TASK_STATUSES);
export const triggerKind = z.enum(TRIGGER_KINDS);

// ---- limits (documented in README) -------------------------------------------------------------

export const LIMITS = {
  /** Names end up in DynamoDB keys, Scheduler schedule names (64) and Step Functions execution names (80). */
  nameMaxLength: 64,
  /** 10,000 written out in full are ~9 MB of JSON: sent gzip-compressed, stored in parts (README "Limits"). */
  taskDefinitionsPerProcess: 10_000,
  dependenciesPerTask: 100,
  stringMaxLength: 4096,
  scriptMaxLength: 65_536,
  listMaxItems: 1000,
  entriesPerCall: 500,
  entryMessageMaxLength: 32_768,
  progressMessageMaxLength: 1000,
  parametersPerProcess: 100,
  upstreamPerProcess: 100,
  /** Runs one backfill may start (`max_runs`' default and cap). */
  backfillRuns: 1000,
} as const;

/** Letters, digits, `_`, `-`, `.`: safe in URLs, keys, schedule and execution names. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

// ---- helpers -----------------------------------------------------------------------------------

/** An optional field: absent or `null` both read as absent. */
const optional = <T extends z.ZodType>(schema: T) =>
  schema
    .nullable()
    .transform((v) => v ?? undefined)
    .optional();

const text = (max: number = LIMITS.stringMaxLength) => z.string().max(max, `must be at most ${max} characters`);

/**
 * A string handed to a process (script, command argument, environment variable, image): a NUL cannot
 * cross `execve` (C strings end at it), so the run would only fail at spawn; refuse it at the request.
 */
const argText = (max: number = LIMITS.stringMaxLength) =>
  text(max).refine((v) => !v.includes('\u0000'), 'must not contain NUL characters (\\u0000): a process cannot receive them');
const nonEmptyArgText = (max: number = LIMITS.stringMaxLength) => argText(max).min(1, 'must not be empty');

/** A request object: a field it does not know is refused (route/validate turn the issue into `unknown_field`). */
const object = z.strictObject;
const nonEmptyText = (max: number = LIMITS.stringMaxLength) => text(max).min(1, 'must not be empty');

export const name = z
  .string()
  .min(1, 'must not be empty')
  .max(LIMITS.nameMaxLength, `must be at most ${LIMITS.nameMaxLength} characters`)
  .regex(NAME_PATTERN, 'may contain only letters, digits, "_", "-" and "."')
  .refine((n) => n !== '.' && n !== '..', 'cannot be "." or ".." (they cannot be addressed in a URL)');

const positiveInt = z.int('must be an integer').min(1, 'must be at least 1').max(1_000_000_000, 'is too large');
const nonNegativeInt = z.int('must be an integer').min(0, 'must not be negative').max(1_000_000_000, 'is too large');

const list = <T extends z.ZodType>(item: T, max: number = LIMITS.listMaxItems) =>
  z.array(item).max(max, `must have at most ${max} items`);

/**
 * A union encoded as a one-key wrapper object, e.g. `{"cron_schedule": {...}}`. Exactly one of the
 * variants must be present.
 */
const oneKeyUnion = <S extends Record<string, z.ZodType>>(variants: S) => {
  const keys = Object.keys(variants);
  const shape = Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof S]: z.ZodOptional<S[K]>;
  };
  return object(shape).superRefine((value, ctx) => {
    const present = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `must have exactly one of ${keys.join(', ')}${present.length > 1 ? ` (got ${present.join(', ')})` : ''}`,
      });
    }
  });
};

// ---- models ------------------------------------------------------------------------------------

const environmentVariableName = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');

export const environmentVariable = object({
  variable_name: environmentVariableName,
  value: argText(),
});

/**
 * Beyond Sundial: a run parameter's name, the environment variable every task of the run gets. Sundial's
 * own variables (`SUNDIAL_*`) are not a parameter's: a task could not tell them apart.
 */
export const parameterName = environmentVariableName.refine((n) => !n.startsWith('SUNDIAL_'), 'must not start with SUNDIAL_ (Sundial sets those variables)');

/**
 * Beyond Sundial (Spin Cycle's request arguments): a run input a definition declares. `required`: a
 * manual trigger must give it (a scheduled run takes its `default`); `optional`: a trigger may give it,
 * else `default`; `static`: always `default`, a trigger may not give it. The rules across fields
 * (default present, names unique, schedules) are in domain/parameters.ts.
 */
export const parameterDeclaration = object({
  name: parameterName,
  kind: z.enum(PARAMETER_KINDS),
  default: optional(argText()),
  description: optional(text()),
});

const environmentVariables = list(environmentVariable, 200);

export const batchImageCommand = object({
  image: nonEmptyArgText(),
  tag: nonEmptyArgText(128).default('latest'),
  command: list(argText()),
  memory: optional(positiveInt),
  vCpus: positiveInt,
  taskRoleArn: nonEmptyText(2048),
  environment_variables: environmentVariables.default([]),
  job_queue: optional(nonEmptyText(2048)),
});

export const dockerImageCommand = object({
  image: nonEmptyArgText(),
  tag: nonEmptyArgText(128).default('latest'),
  command: list(argText()),
  memory: optional(positiveInt),
  cpu: optional(positiveInt),
  taskRoleArn: optional(nonEmptyText(2048)),
  log_paths: list(argText()).default([]),
  environment_variables: environmentVariables.default([]),
});

export const shellScriptCommand = object({
  script: nonEmptyArgText(LIMITS.scriptMaxLength),
  environment_variables: optional(environmentVariables),
});

export const taskExecutable = oneKeyUnion({
  docker_image_command: dockerImageCommand,
  shell_script_command: shellScriptCommand,
  batch_image_command: batchImageCommand,
});

export const taskDependency = object({
  task_definition_name: name,
  success_required: z.boolean().default(true),
});

/**
 * Most attempts of one task. All of them run in one Standard execution (lib/task-state-machine.ts), whose history holds
 * at most 25,000 events (SFN_HISTORY_MAX_EVENTS, lambdas/domain/aws-limits.ts). One attempt of the
 * synthesized machine writes about 22 events on the Batch path (Prepare 5, Route? 2, backoff Wait 2,
 * RunBatchJob 6, Record 5, Again? 2) and about 30 on the ECS path (its Parallel and deadline branch);
 * local/engine/execution-limits.ts counts them the same way. 500 attempts × 30 = 15,000 events, which
 * leaves 10,000 (some 3,300 Lambda-error retries of Prepare or Record, 3 events each) to spare.
 */
export const MAX_ATTEMPTS = 500;
const maxAttempts = z
  .int('must be an integer')
  .min(1, 'must be at least 1')
  .max(MAX_ATTEMPTS, `must be at most ${MAX_ATTEMPTS} (all attempts of a task run in one Step Functions execution, whose history is limited)`);

export const taskDefinition = object({
  task_definition_name: name,
  dependencies: list(taskDependency, LIMITS.dependenciesPerTask),
  executable: taskExecutable,
  max_attempts: maxAttempts,
  max_runtime_seconds: optional(positiveInt),
  backoff_base_seconds: nonNegativeInt,
  backoff_exponent: z.number().min(1, 'must be at least 1').max(100, 'must be at most 100').default(1),
  require_explicit_success: z.boolean(),
});

export const cronSchedule = object({
  minutes: nonEmptyText(256),
  hours: nonEmptyText(256),
  day_of_month: nonEmptyText(256),
  month: nonEmptyText(256),
  day_of_week: nonEmptyText(256),
  /** Beyond Sundial: the IANA time zone the expression is read in. */
  time_zone: optional(nonEmptyText(64)),
});

export const continuousSchedule = object({
  buffer_seconds: optional(nonNegativeInt),
});

/**
 * Beyond Sundial (Kala's ISO 8601 form): `R[n]/<start>/<duration>`, e.g. `R5/2026-12-01T00:00:00Z/PT10M`:
 * n runs in all (none = for ever), the first at `start`, then one every `duration`. The string's
 * grammar and rules are checked in `domain/schedule.ts`.
 */
export const intervalSchedule = object({
  repeat: nonEmptyText(128),
});

export const processSchedule = oneKeyUnion({
  cron_schedule: cronSchedule,
  continuous_schedule: continuousSchedule,
  interval_schedule: intervalSchedule,
});

export const emailNotification = object({
  name: nonEmptyText(256),
  email: z.email('must be an email address').max(320),
  notify_when: notificationOption.default('on_state_change_and_failures'),
});

export const pagerdutyNotification = object({
  service_key: nonEmptyText(256),
  num_consecutive_failures: positiveInt.default(1),
  api_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).default('https://events.pagerduty.com'),
});

/**
 * Beyond Sundial: a JSON summary of the run POSTed to `url` (a Slack or Teams incoming webhook works as
 * it is: the body carries `text`), decided like an email; with `secret`, signed (notify/webhook-signature.ts).
 * Where `url` may point: ./webhook-url.ts; `url` and `secret` are masked on GET (./notification-secrets.ts).
 */
export const webhookNotification = object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  notify_when: notificationOption.default('on_state_change_and_failures'),
  secret: optional(nonEmptyText(256)),
});

export const notification = oneKeyUnion({
  email: emailNotification,
  pagerduty: pagerdutyNotification,
  webhook: webhookNotification,
});

/** Beyond Sundial: which ending of an upstream definition's run starts a run of this one. */
export const UPSTREAM_WHEN = ['succeeded', 'failed', 'finished'] as const;

/**
 * Beyond Sundial (Kala's parent jobs, Airflow's triggered DAGs): a run of this definition starts when a
 * run of `process_definition_name` ends `when` (`finished`: either way). The definition need not exist
 * yet: its runs start this one once it does. Cycles across definitions are refused at PUT
 * (domain/upstream.ts).
 */
export const upstreamDependency = object({
  process_definition_name: name,
  when: z.enum(UPSTREAM_WHEN).default('succeeded'),
});

const processDefinitionFields = {
  process_definition_name: name,
  paused: optional(z.boolean()),
  process_description: optional(text()),
  schedule: optional(processSchedule),
  task_definitions: list(taskDefinition, LIMITS.taskDefinitionsPerProcess).min(1, 'must have at least one task'),
  overlap_action: z.enum(OVERLAP_ACTIONS).default('wait'),
  notifications: optional(list(notification, 50)),
  /** Beyond Sundial: the run inputs of every run (docs/TRIGGERS.md). */
  parameters: optional(list(parameterDeclaration, LIMITS.parametersPerProcess)),
  /** Beyond Sundial: the definitions whose runs' ends start a run of this one (docs/TRIGGERS.md). */
  upstream: optional(list(upstreamDependency, LIMITS.upstreamPerProcess)),
};

/**
 * What a GET of a definition answers beside the definition (schedule facts, `routes.ts`): a PUT accepts
 * and ignores them, whatever their value, so that a GET answer edited and PUT back is not refused.
 * (`paused` is a field of the definition; masked PagerDuty keys are restored by `notification-secrets.ts`.)
 */
export const DEFINITION_READ_ONLY_FIELDS = ['next_run_time', 'last_run', 'runs_succeeded', 'runs_failed'] as const;

const ignoredOnPut = z.unknown().optional();

/** A PUT body: the definition, strict, with the read-only fields of a GET answer dropped. */
export const processDefinition = object({
  ...processDefinitionFields,
  next_run_time: ignoredOnPut,
  last_run: ignoredOnPut,
  runs_succeeded: ignoredOnPut,
  runs_failed: ignoredOnPut,
}).transform((body) => {
  const def: Partial<typeof body> = { ...body };
  for (const k of DEFINITION_READ_ONLY_FIELDS) delete def[k];
  return def as Omit<typeof body, (typeof DEFINITION_READ_ONLY_FIELDS)[number]>;
});

/**
 * An entry id: a UUID, compared in its canonical lower-case form (RFC 9562 §4: input is case-insensitive),
 * so that the same id in upper case is the same entry, not a second one.
 */
const entryId = z.uuid('must be a UUID').transform((id) => id.toLowerCase());

export const logEntry = object({
  log_entry_id: entryId,
  when: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
  source: text(256),
  message: text(LIMITS.entryMessageMaxLength),
});

export const metadataEntry = object({
  metadata_entry_id: entryId,
  when: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
  key: nonEmptyText(256),
  value: text(LIMITS.entryMessageMaxLength),
});

/**
 * One line of text that a console and a terminal show as it is: no control characters (C0, DEL, C1: a
 * newline or an escape sequence would redraw `sundial trigger --wait`'s screen) and no lone surrogates,
 * so that a character costs at most 4 bytes of a Lambda answer (domain/response-size.ts).
 */
const lineText = (max: number) =>
  text(max)
    .refine((v) => !/[\u0000-\u001f\u007f-\u009f]/.test(v), 'must be one line of text, without control characters')
    .refine((v) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v), 'must be well-formed Unicode (no lone surrogates)');

/**
 * Beyond Sundial: a running attempt's progress report (`POST /api/tasks/{task_id}/progress`, agenda's
 * percent and `processingStateMessage`). Any number from 0 to 100, kept to six decimal places (a
 * DynamoDB number cannot be as small as 1e-200, which JSON can carry); the message is optional.
 */
export const progressReport = object({
  percent: z
    .number('must be a number')
    .min(0, 'must be at least 0')
    .max(100, 'must be at most 100')
    .transform((p) => Math.round(p * 1e6) / 1e6),
  message: optional(lineText(LIMITS.progressMessageMaxLength)),
});

export const logEntries = z.array(logEntry).max(LIMITS.entriesPerCall, `must have at most ${LIMITS.entriesPerCall} entries`);
export const metadataEntries = z
  .array(metadataEntry)
  .max(LIMITS.entriesPerCall, `must have at most ${LIMITS.entriesPerCall} entries`);

// ---- types -------------------------------------------------------------------------------------

export type EnvironmentVariable = z.output<typeof environmentVariable>;
export type TaskExecutable = z.output<typeof taskExecutable>;
export type TaskDependency = z.output<typeof taskDependency>;
export type TaskDefinition = z.output<typeof taskDefinition>;
export type CronSchedule = z.output<typeof cronSchedule>;
export type ContinuousSchedule = z.output<typeof continuousSchedule>;
export type IntervalSchedule = z.output<typeof intervalSchedule>;
export type ProcessSchedule = z.output<typeof processSchedule>;
export type Notification = z.output<typeof notification>;
export type ProcessDefinition = z.output<typeof processDefinition>;
export type LogEntry = z.output<typeof logEntry>;
export type MetadataEntry = z.output<typeof metadataEntry>;
export type ProgressReport = z.output<typeof progressReport>;
export type ParameterDeclaration = z.output<typeof parameterDeclaration>;
export type UpstreamDependency = z.output<typeof upstreamDependency>;
export type UpstreamWhen = (typeof UPSTREAM_WHEN)[number];
export type BackfillRequest = z.output<typeof backfillBody>;
export type BackfillAnswer = z.output<typeof backfillResponse>;
export type BackfillStatus = z.output<typeof backfillStatusResponse>;

/** Beyond Sundial: an attempt's progress, the highest report so far (`when`: when Sundial received it). */
export interface AttemptProgress {
  percent: number;
  message?: string;
  when: string;
}

/** A task record: one attempt of one task definition in one run (seed model `task`). */
export interface Task {
  task_id: string;
  process_id: string;
  process_definition_name: string;
  task_definition_name: string;
  start_time: string;
  end_time?: string;
  previous_attempt_count: number;
  log_entries: LogEntry[];
  metadata_entries: MetadataEntry[];
  execution_state?: MetadataEntry[];
  status: TaskStatus;
  /** Beyond Sundial: `log_entries` holds the last entries only; `GET /api/tasks/{task_id}/log_entries` pages through all. */
  log_entries_truncated?: boolean;
  /** Beyond Sundial: `metadata_entries` holds the last entries only; `GET /api/tasks/{task_id}/metadata` pages through all. */
  metadata_entries_truncated?: boolean;
  /** Beyond Sundial: no entries were read for this answer (lists; a run past its budget): page them as above. */
  entries_omitted?: boolean;
  /** Beyond Sundial: the attempt's latest progress report that did not move it backwards. */
  progress?: AttemptProgress;
}

/** Beyond Sundial: one parameter of a run, its final value and where that came from (docs/TRIGGERS.md). */
export interface RunParameter {
  name: string;
  value: string;
  source: ParameterSource;
}

/** Beyond Sundial: what started a run (docs/TRIGGERS.md). */
export interface TriggerFacts {
  kind: TriggerKind;
  /** Who: an IAM principal ARN (deployed), `local`, `schedule:<definition>`. */
  by: string;
  /** When it was asked for. */
  at: string;
  /** The logical time of the run (`SUNDIAL_SCHEDULED_TIME`): the cron occurrence it stands for, else `at`. */
  scheduled_time: string;
  /** The run whose end started this one (kind `upstream`). */
  upstream_process_id?: string;
  /** Stored before provenance was recorded: inferred from what the run item holds. */
  derived?: boolean;
}

/** {@link TriggerFacts} and, after a retry, the trigger that started the run. */
export interface RunTrigger extends TriggerFacts {
  previous?: TriggerFacts;
}

/** A run of a process definition (seed model `process`). */
export interface Process {
  process_id: string;
  process_definition_name: string;
  start_time: string;
  end_time?: string;
  status: ProcessStatus;
  task: Task[];
  /** Beyond Sundial: why the run ended as it did (e.g. killed), when not obvious. */
  reason?: string;
  /** Beyond Sundial: counts of the run's tasks by state (agenda's progress). */
  progress?: { total: number; succeeded: number; failed: number; running: number; waiting: number };
  /**
   * Beyond Sundial: the run's attempts were cut so that the answer fits (domain/response-size.ts); `task`
   * holds those before this cursor, and `GET /api/tasks/?process_id=<id>&next=<this>` pages through the rest.
   */
  attempts_next?: string;
  /** Beyond Sundial: a trigger queued behind the run in progress (overlap_action wait); no tasks yet. */
  queued?: boolean;
  /** Beyond Sundial: what started the run. */
  trigger: RunTrigger;
  /** Beyond Sundial: the run's parameters (none declared: `[]`). */
  parameters: RunParameter[];
}

// ---- request parameters (path and query) -------------------------------------------------------

/** A query parameter that may be repeated (`?s=a&s=b`) or comma-separated (`?s=a,b`, API Gateway's form). */
const repeated = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).filter((s) => s !== '')),
    z.array(item),
  );

/** A query parameter given at most once. */
const single = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (Array.isArray(v) ? (v.length === 1 ? v[0] : v) : v), item);

/** The largest page a listing answers (`limit`, `max_records`). */
export const PAGE_SIZE_MAX = 1000;

const pageSize = z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(PAGE_SIZE_MAX, `must be at most ${PAGE_SIZE_MAX}`);

/** An ISO 8601 date-time in a query, normalised to UTC `toISOString()` form. */
const isoTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/, 'must be an ISO 8601 date-time (e.g. 2026-11-23T10:00:00Z)')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be a valid date-time')
  .transform((s) => new Date(s).toISOString());

export const DEFAULT_PAGE_SIZE = 100;

export const definitionNameParams = z.object({ process_definition_name: name });
export const processIdParams = z.object({ process_id: z.uuid('must be a UUID') });
export const taskIdParams = z.object({ task_id: z.uuid('must be a UUID') });

export const processesQuery = z.object({
  process_definition_name: single(name.optional()),
  start_time: single(isoTime.optional()),
  end_time: single(isoTime.optional()),
  max_records: single(pageSize.optional()),
  limit: single(pageSize.optional()),
  allowed_statuses: repeated(processStatus),
  /** Beyond Sundial: only runs started so (`trigger.kind`), e.g. `?trigger_kind=manual,schedule`. */
  trigger_kind: repeated(triggerKind),
  next: single(z.string().max(2048).optional()),
});

export const tasksQuery = z.object({
  /** Beyond Sundial: only this run's attempts, in the order of their ids (a run's `attempts_next` pages on from there). */
  process_id: single(z.uuid('must be a UUID').optional()),
  process_definition_name: single(name.optional()),
  task_definition_name: single(name.optional()),
  start_time: single(isoTime.optional()),
  end_time: single(isoTime.optional()),
  limit: single(pageSize.optional()),
  max_records: single(pageSize.optional()),
  allowed_statuses: repeated(taskStatus),
  next: single(z.string().max(2048).optional()),
});

/** An attempt's entries, a page at a time; `process_id` saves looking the attempt's run up. */
export const taskEntriesQuery = z.object({
  process_id: single(z.uuid('must be a UUID').optional()),
  limit: single(pageSize.optional()),
  next: single(z.string().max(2048).optional()),
});

export const triggerQuery = z.object({
  task_definition_name: single(name.optional()),
  /** Beyond Sundial: `true` starts the run at once whatever runs (overlap_action does not apply). */
  force: single(z.enum(['true', 'false'], 'must be true or false').optional()),
});

/**
 * Optional body of a trigger: variables added to (or overriding) every task's environment in this run,
 * and, beyond Sundial, values of the definition's declared parameters (`{"NAME": "value"}`), checked
 * against the declarations in domain/parameters.ts.
 */
export const triggerBody = object({
  environment_variables: list(environmentVariable, 200).optional(),
  parameters: optional(
    z
      .record(z.string(), argText())
      .refine((p) => Object.keys(p).length <= LIMITS.parametersPerProcess, `must have at most ${LIMITS.parametersPerProcess} parameters`),
  ),
});

/** A backfill window's bound: an ISO 8601 date-time with `Z` or an offset (a bare local time is ambiguous). */
const windowTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with Z or an offset (e.g. 2026-11-01T00:00:00Z)' });

/**
 * Beyond Sundial (Airflow's and Temporal's backfill): `POST …/backfill` starts one run per cron occurrence
 * in `[start_time, end_time]` (both inclusive), oldest first, one after another; at most `max_runs`
 * (default and cap {@link LIMITS.backfillRuns}). The rules past the schema are in engine/backfills.ts.
 */
export const backfillBody = object({
  start_time: windowTime,
  end_time: windowTime,
  max_runs: optional(z.int('must be an integer').min(1, 'must be at least 1').max(LIMITS.backfillRuns, `must be at most ${LIMITS.backfillRuns}`)),
});

// ---- responses (what the API answers; the OpenAPI document is generated from these) -------------

/** A task attempt as the API answers it (the {@link Task} interface, as a schema). */
export const taskResponse = z.object({
  task_id: z.uuid(),
  process_id: z.uuid(),
  process_definition_name: z.string(),
  task_definition_name: z.string(),
  start_time: z.iso.datetime({ offset: true }),
  end_time: z.iso.datetime({ offset: true }).optional(),
  previous_attempt_count: z.int().min(0),
  log_entries: z.array(logEntry),
  metadata_entries: z.array(metadataEntry),
  execution_state: z.array(metadataEntry).optional(),
  status: taskStatus,
  /** Beyond Sundial: answered without its entries (lists, or a run past its budget: domain/response-size.ts). */
  entries_omitted: z.boolean().optional(),
  /** Beyond Sundial: only the last log entries are embedded; `GET /api/tasks/{task_id}/log_entries` pages through all. */
  log_entries_truncated: z.boolean().optional(),
  /** Beyond Sundial: only the last metadata entries are embedded; `GET /api/tasks/{task_id}/metadata` pages through all. */
  metadata_entries_truncated: z.boolean().optional(),
  /** Beyond Sundial: the attempt's progress ({@link AttemptProgress}), once it reported some. */
  progress: z.object({ percent: z.number().min(0).max(100), message: z.string().optional(), when: z.iso.datetime({ offset: true }) }).optional(),
});

/** A page of an attempt's log entries, oldest first (`GET /api/tasks/{task_id}/log_entries`). */
export const logEntriesPageResponse = z.object({
  task_id: z.uuid(),
  process_id: z.uuid(),
  log_entries: z.array(logEntry),
  next: z.string().optional(),
});

/** A page of an attempt's metadata entries, oldest first (`GET /api/tasks/{task_id}/metadata`). */
export const metadataEntriesPageResponse = z.object({
  task_id: z.uuid(),
  process_id: z.uuid(),
  metadata_entries: z.array(metadataEntry),
  next: z.string().optional(),
});

const triggerFacts = {
  kind: triggerKind,
  by: z.string(),
  at: z.iso.datetime({ offset: true }),
  scheduled_time: z.iso.datetime({ offset: true }),
  upstream_process_id: z.uuid().optional(),
  derived: z.boolean().optional(),
};

/** Beyond Sundial: what started a run ({@link RunTrigger}). */
export const runTrigger = z.object({ ...triggerFacts, previous: z.object(triggerFacts).optional() });

/** Beyond Sundial: a run's parameter ({@link RunParameter}). */
export const runParameter = z.object({ name: z.string(), value: z.string(), source: z.enum(PARAMETER_SOURCES) });

/** A run as the API answers it (the {@link Process} interface, as a schema). */
export const processResponse = z.object({
  process_id: z.uuid(),
  process_definition_name: z.string(),
  start_time: z.iso.datetime({ offset: true }),
  end_time: z.iso.datetime({ offset: true }).optional(),
  status: processStatus,
  task: z.array(taskResponse),
  /**
   * Beyond Sundial: the run's attempts were cut so that the answer fits (domain/response-size.ts); pass it as
   * `next` to `GET /api/tasks/?process_id=<id>` for the rest.
   */
  attempts_next: z.string().optional(),
  /** Beyond Sundial: a trigger queued behind the run in progress (overlap_action wait); it has no tasks yet. */
  queued: z.boolean().optional(),
  reason: z.string().optional(),
  progress: z
    .object({ total: z.int(), succeeded: z.int(), failed: z.int(), running: z.int(), waiting: z.int() })
    .optional(),
  trigger: runTrigger,
  parameters: z.array(runParameter),
});

/**
 * Beyond Sundial: what `POST …/backfill` answers (201): each occurrence queued, oldest first, with the id
 * its run will have (`GET /api/processes/{id}` answers 404 until it starts).
 */
export const backfillResponse = z.object({
  process_definition_name: z.string(),
  occurrences: z.array(z.object({ scheduled_time: z.iso.datetime({ offset: true }), process_id: z.uuid() })),
});

/**
 * Beyond Sundial: a definition's backfill as `GET` and `DELETE …/backfill` answer it, each occurrence
 * `started` (its run started, or it was stepped over: the definition refused it), `waiting` or `cancelled`.
 */
export const backfillStatusResponse = z.object({
  process_definition_name: z.string(),
  by: z.string(),
  requested_at: z.iso.datetime({ offset: true }),
  cancelled_by: z.string().optional(),
  cancelled_at: z.iso.datetime({ offset: true }).optional(),
  occurrences: z.array(z.object({ scheduled_time: z.iso.datetime({ offset: true }), process_id: z.uuid(), state: z.enum(['started', 'waiting', 'cancelled']) })),
});

/** A definition as every definition route answers it: the stored definition plus schedule facts. */
export const definitionResponse = z.object({
  ...processDefinitionFields,
  paused: z.boolean().optional(),
  next_run_time: z.iso.datetime({ offset: true }).nullable().optional(),
  last_run: z
    .object({ process_id: z.uuid(), status: processStatus, start_time: z.string(), end_time: z.string().optional() })
    .nullable()
    .optional(),
  runs_succeeded: z.int().min(0).optional(),
  runs_failed: z.int().min(0).optional(),
});

/**
 * A definition as the list answers it: as {@link definitionResponse}, but a definition stored in parts
 * (past one DynamoDB item: lambdas/store/definitions.ts) comes without its tasks, `task_definitions_omitted`
 * counting them; `GET /api/process_definitions/{name}` answers them.
 */
export const definitionListItemResponse = definitionResponse.extend({
  task_definitions: definitionResponse.shape.task_definitions.optional(),
  /** Beyond Sundial: the definition's tasks, left out of the list (see above). */
  task_definitions_omitted: z.int().min(1).optional(),
});

/** One line of a task's container output. `output`: stdout and stderr together (CloudWatch Logs). */
export const outputLine = z.object({
  when: z.iso.datetime({ offset: true }),
  stream: z.enum(['stdout', 'stderr', 'output']),
  message: z.string(),
});

/** `GET /api/tasks/{task_id}/output`: a page of the attempt's stdout/stderr. */
export const taskOutputResponse = z.object({
  task_id: z.uuid(),
  process_id: z.uuid(),
  status: taskStatus,
  /** Where the lines come from: output captured by the local mode, or CloudWatch Logs. */
  origin: z.enum(['captured', 'cloudwatch', 'none']),
  lines: z.array(outputLine),
  /** Pass back as `next=` to read what follows (also once more lines may have arrived). */
  next: z.string().optional(),
  /** Why lines may be missing (e.g. the log stream could not be found). */
  note: z.string().optional(),
});

export const taskOutputQuery = z.object({
  /** The run, when the caller knows it (attempts stored before task locators existed need it). */
  process_id: single(z.uuid('must be a UUID').optional()),
  next: single(z.string().max(2048).optional()),
  limit: single(pageSize.optional()),
});

const fieldError = z.object({ code: z.string(), message: z.string(), field: z.string().optional() });

/**
 * Every error answer: `error`, the (first) problem; on a 400 also `errors`, every problem found in the
 * request (at most 100, the first equal to `error`), each naming its field.
 */
export const errorResponse = z.object({
  error: fieldError,
  errors: z.array(fieldError).optional(),
});

export type OutputLine = z.output<typeof outputLine>;
export type TaskOutputResponse = z.output<typeof taskOutputResponse>;

// The interfaces above and their response schemas must not drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _taskMatches: Same<z.output<typeof taskResponse>['status'], Task['status']> & Same<keyof z.output<typeof taskResponse>, keyof Task> = true;
const _processMatches: Same<keyof z.output<typeof processResponse>, keyof Process> = true;
const _triggerMatches: Same<z.output<typeof runTrigger>, RunTrigger> & Same<z.output<typeof runParameter>, RunParameter> = true;
void _taskMatches;
void _processMatches;
void _triggerMatches;
