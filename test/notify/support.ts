/**
 * Notification test helpers: a PagerDuty Events API receiver and a webhook receiver on loopback (record
 * every request, answer what the test scripts), a store on in-memory dynalite, finished runs seeded
 * through it, and a notifier wired to them with instant retries.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunOutcome } from '../../lambdas/domain/notification-policy';
import { processDefinition as definitionSchema } from '../../lambdas/domain/models';
import { parseWith } from '../../lambdas/domain/validate';
import type { Logger } from '../../lambdas/logger';
import { PagerDutyEventsClient } from '../../lambdas/adapters/pagerduty';
import { WebhookClient } from '../../lambdas/adapters/webhook';
import { Notifier, type NotifierDeps } from '../../lambdas/notify/notifier';
import { PAGERDUTY_EVENTS_HOSTS, type PagerDutyUrlPolicy } from '../../lambdas/domain/pagerduty-url';
import type { EmailMessage, EmailSender, PagerDutyEvent } from '../../lambdas/notify/ports';
import { LOCAL_WEBHOOK_URLS } from '../../lambdas/domain/webhook-url';
import { Store } from '../../lambdas/store';
import { startDynamo } from '../../local/dynalite';
import { isoAt, type JsonObject, processDefinition } from '../helpers/factories';

/** The local mode's rule (PagerDuty's hosts and loopback), with no environment read. */
export const LOOPBACK_AND_PAGERDUTY: PagerDutyUrlPolicy = { hosts: PAGERDUTY_EVENTS_HOSTS, allowLoopback: true };

/** One request the receiver got. */
export interface ReceivedEvent {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: PagerDutyEvent;
}

export interface PagerDutyReceiver {
  /** Base URL, to use as a definition's `api_url`. */
  url: string;
  events: ReceivedEvent[];
  /** Statuses to answer the next requests with, in order; then 202. */
  script(...statuses: number[]): void;
  /** Makes the next `n` requests hang (no answer) for the client's timeout to fire. */
  hang(n: number): void;
  close(): Promise<void>;
}

/** A PagerDuty Events API v2 stand-in on 127.0.0.1 (port 0). */
export async function startPagerDutyReceiver(): Promise<PagerDutyReceiver> {
  const events: ReceivedEvent[] = [];
  const receiver = await startScriptedReceiver('127.0.0.1', 202, (req, raw) => {
    const body = JSON.parse(raw || '{}') as PagerDutyEvent;
    events.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    return (status) => ({
      type: 'application/json',
      text: JSON.stringify(
        status === 202
          ? { status: 'success', message: 'Event processed', dedup_key: body.dedup_key }
          : { status: 'error', message: `scripted ${status}`, errors: [`routing_key ${body.routing_key} rejected`] },
      ),
    });
  });
  return { ...receiver, url: `http://127.0.0.1:${receiver.port}`, events };
}

/** One request a {@link startWebhookReceiver} got: the raw body, as signed, and its headers. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  /** `http://<host>:<port>/hooks/<token>`: a path with a token in it, as Slack's URLs have. */
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** Statuses to answer the next requests with, in order; then 200. */
  script(...statuses: number[]): void;
  /** Makes the next `n` requests hang (no answer) for the client's timeout to fire. */
  hang(n: number): void;
  close(): Promise<void>;
}

/** The token in every {@link WebhookReceiver}'s URL path: it must never show in an answer or a log. */
export const WEBHOOK_PATH_TOKEN = 'T0KEN-in-the-path-0123456789abcdef';

/**
 * A webhook receiver on `host` (a loopback address; port 0). It answers `ok` as Slack does, and an error
 * status with a body that echoes the request's path and body (which must never reach a log or a report).
 */
export async function startWebhookReceiver(host = '127.0.0.1'): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const receiver = await startScriptedReceiver(host, 200, (req, body) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    return (status) => ({ type: 'text/plain', text: status < 300 ? 'ok' : `rejected ${req.url} ${body}` });
  });
  return { ...receiver, url: `http://${host}:${receiver.port}/hooks/${WEBHOOK_PATH_TOKEN}`, requests };
}

/**
 * A receiver on `host` (port 0) that answers what the test scripts: `onRequest` records each request and
 * says how to answer it with a status; the status is the next scripted one (`ok` once none is left), and
 * a request the test made hang gets no answer.
 */
async function startScriptedReceiver(
  host: string,
  ok: number,
  onRequest: (req: IncomingMessage, body: string) => (status: number) => { type: string; text: string },
): Promise<{ port: number; script(...statuses: number[]): void; hang(n: number): void; close(): Promise<void> }> {
  const statuses: number[] = [];
  let hanging = 0;
  const server = await serve(host, (req, body, res) => {
    const answer = onRequest(req, body);
    if (hanging > 0) {
      hanging--;
      return; // never answers; closeAllConnections ends it
    }
    const status = statuses.shift() ?? ok;
    const { type, text } = answer(status);
    res.writeHead(status, { 'content-type': type }).end(text);
  });
  return {
    ...server,
    script: (...s) => {
      statuses.push(...s);
    },
    hang: (n) => {
      hanging += n;
    },
  };
}

/** An HTTP server on `host` (port 0) that hands each request, with its whole body, to `handle`. */
async function serve(host: string, handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The signature a receiver expects, computed here independently of the code under test. */
export function expectedSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A webhook notification. */
export function webhook(url: string, notifyWhen?: string, secret?: string): JsonObject {
  return { webhook: { url, ...(notifyWhen ? { notify_when: notifyWhen } : {}), ...(secret ? { secret } : {}) } };
}

/** A request a {@link startHttpServer} server got. */
export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
}

export interface HttpServerStandIn {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Any HTTP server on 127.0.0.1 (port 0) that records every request and answers with `answer`: an
 * "attacker" host that must receive nothing, an endpoint that redirects, one that answers 500 with a body.
 */
export async function startHttpServer(
  answer: (req: RecordedRequest) => { status: number; headers?: Record<string, string>; body?: string } = () => ({ status: 202 }),
): Promise<HttpServerStandIn> {
  const requests: RecordedRequest[] = [];
  const server = await serve('127.0.0.1', (req, body, res) => {
    const recorded = { method: req.method ?? '', path: req.url ?? '', body };
    requests.push(recorded);
    const answered = answer(recorded);
    res.writeHead(answered.status, answered.headers).end(answered.body);
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, close: server.close };
}

/** An email sender that keeps what it is given; `failWith` makes the next sends throw. */
export class MemoryEmailSender implements EmailSender {
  readonly sent: EmailMessage[] = [];
  readonly failures: Error[] = [];
  async send(message: EmailMessage): Promise<void> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(message);
  }
}

/** A logger that keeps every line (to check what was, and was not, logged). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${JSON.stringify(extra ?? {})}`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface NotifyFixture {
  store: Store;
  close(): Promise<void>;
}

/** A store over in-memory dynalite. */
export async function startStore(): Promise<NotifyFixture> {
  const dynamo = await startDynamo(undefined);
  return { store: new Store(dynamo.db), close: () => dynamo.close() };
}

/** Stores a definition with `notifications`, parsed as PUT parses it (defaults applied), with any `api_url`. */
export async function putDefinition(store: Store, name: string, notifications: JsonObject[], overrides: JsonObject = {}): Promise<void> {
  const def = parseWith(definitionSchema, processDefinition(name, { notifications, ...overrides }));
  await store.definitions.put(def, isoAt(0));
}

export interface SeededFinishedRun {
  process_id: string;
  start_time: string;
  end_time: string;
}

/**
 * A finished run of `name`, started at minute `at` and ended a minute later, with task `first`
 * (status as the run) and `second` succeeded; a failed `first` carries `logLines` log entries.
 */
export async function seedFinishedRun(
  store: Store,
  name: string,
  status: RunOutcome,
  at: number,
  options: { reason?: string; logLines?: string[]; endAt?: number } = {},
): Promise<SeededFinishedRun> {
  const processId = randomUUID();
  const start = isoAt(at);
  const end = isoAt(options.endAt ?? at + 1);
  await store.runs.createRun({
    process_id: processId,
    process_definition_name: name,
    start_time: start,
    end_time: end,
    status,
    ...(options.reason ? { reason: options.reason } : {}),
  });
  const tasks: Array<[string, 'succeeded' | 'failed']> = [
    ['first', status],
    ['second', 'succeeded'],
  ];
  for (const [i, [task, taskStatus]] of tasks.entries()) {
    const taskId = randomUUID();
    await store.runs.createTask({
      task_id: taskId,
      process_id: processId,
      process_definition_name: name,
      task_definition_name: task,
      start_time: new Date(Date.parse(start) + i * 10_000).toISOString(),
      end_time: new Date(Date.parse(start) + i * 10_000 + 5_000).toISOString(),
      previous_attempt_count: 0,
      status: taskStatus,
    });
    if (taskStatus === 'failed') {
      await store.runs.appendLogEntries(
        processId,
        taskId,
        (options.logLines ?? []).map((message, n) => ({
          log_entry_id: randomUUID(),
          when: new Date(Date.parse(start) + n * 100).toISOString(),
          source: 'stdout',
          message,
        })),
      );
    }
  }
  return { process_id: processId, start_time: start, end_time: end };
}

/** A notifier over `store` with instant retries, real PagerDuty and webhook clients (loopback allowed), and `email` as sender. */
export function testNotifier(store: Store, overrides: Partial<NotifierDeps> = {}, email: EmailSender = new MemoryEmailSender()) {
  const logger = memoryLogger();
  const notifier = new Notifier({
    store,
    email: { sender: email, from: 'sundial@example.com' },
    pagerduty: new PagerDutyEventsClient({ urls: LOOPBACK_AND_PAGERDUTY, timeoutMs: 500 }),
    webhook: new WebhookClient({ urls: LOCAL_WEBHOOK_URLS, timeoutMs: 500 }),
    runUrl: (id) => `https://console.example.com/#/run/${id}`,
    logger,
    retry: { attempts: 3, baseDelayMs: 1, sleep: async () => undefined },
    ...overrides,
  });
  return { notifier, logger };
}

/** A PagerDuty notification pointing at `receiver`. */
export function pagerduty(receiver: { url: string }, serviceKey: string, numConsecutiveFailures = 1): JsonObject {
  return { pagerduty: { service_key: serviceKey, num_consecutive_failures: numConsecutiveFailures, api_url: receiver.url } };
}

/** An email notification. */
export function email(address: string, notifyWhen?: string): JsonObject {
  return { email: { name: address.split('@')[0] ?? address, email: address, ...(notifyWhen ? { notify_when: notifyWhen } : {}) } };
}
