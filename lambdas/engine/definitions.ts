/**
 * Process definitions as the API serves them, beside `Schedules`: the one owner of a PUT (read the
 * definition it replaces, check every rule at once, store, sync the schedule), of a DELETE, and of the
 * form every definition route answers. The routes (lambdas/api/routes.ts) call it and nothing else.
 */
import { randomUUID } from 'node:crypto';
import { mapLimited } from '../domain/concurrency';
import { dagProblems } from '../domain/dag';
import { upstreamProblems } from '../domain/upstream';
import { BadRequestError, type FieldError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError } from '../domain/errors';
import { type ProcessDefinition, processDefinition } from '../domain/models';
import { declarationProblems, defaultVariables } from '../domain/parameters';
import { definitionRequestProblems } from './request-limits';
import { slotSizeProblems } from './slot-size';
import { MAX_PROBLEMS, parseWith } from '../domain/validate';
import { DEPLOYED_PAGERDUTY_URLS, type PagerDutyUrlPolicy, pagerDutyUrlProblems } from '../domain/pagerduty-url';
import { maskDefinitionSecrets, restoreMaskedSecrets } from '../domain/notification-secrets';
import { DEPLOYED_WEBHOOK_URLS, type WebhookUrlPolicy, webhookUrlProblems } from '../domain/webhook-url';
import type { Store } from '../store';
import type { DefinitionBody, DefinitionSummary, ListedDefinition, StoredDefinition } from '../store/definitions';
import type { UpstreamVersion } from '../store/upstream-version';
import type { DefinitionStats, Schedules } from './schedules';

/**
 * The largest definition, as compact JSON: 16 MB, room for 10,000 tasks written out in full (README
 * "Limits": ~9.1 MB), and pretty-printed still within the decompressed body limit (32 MiB,
 * lambdas/http/route.ts): past 2.5 MiB a body travels gzip-compressed. It is stored gzipped, in parts past
 * one item (lambdas/store/definitions.ts, where its compressed size meets what an answer can carry).
 */
export const MAX_DEFINITION_BYTES = 16_000_000;

/** What a definition is checked against beyond itself. */
export interface DefinitionRules {
  /** Where a PagerDuty `api_url` may point. */
  pagerDutyUrls: PagerDutyUrlPolicy;
  /** Where a webhook `url` may point. @default {@link DEPLOYED_WEBHOOK_URLS} */
  webhookUrls?: WebhookUrlPolicy;
  /**
   * What the scheduler can fire (`Schedules.spec`): throws a 400 for a cron or interval it cannot, and
   * for an interval start that has passed unless `previous` has the same one.
   */
  schedule: (def: DefinitionBody, previous: DefinitionSummary | undefined) => unknown;
  /**
   * The stored definitions that runs of this one start, directly or not, each with its path from this one
   * (`Definitions` reads them from the downstream index): an `upstream` among them is a cycle. @default none
   */
  downstream?: ReadonlyMap<string, readonly string[]>;
}

/**
 * A process definition from a PUT body, every rule checked and every problem answered in one 400
 * (`errors`, at most {@link MAX_PROBLEMS}): the schema first (the other rules read what it parsed), then
 * path/body name agreement, the DAG (and each task's slot within DynamoDB's item: slot-size.ts), the declared parameters (domain/parameters.ts), upstream cycles, the
 * schedule, AWS's limits on each task's requests (with the parameters' defaults),
 * the PagerDuty `api_url`s and webhook `url`s, and masked secrets, which are restored from `previous` (domain/notification-secrets.ts). A
 * definition otherwise valid but larger than {@link MAX_DEFINITION_BYTES} is a 413.
 */
export function validateDefinition(body: unknown, pathName: string, previous: DefinitionSummary | undefined, rules: DefinitionRules): ProcessDefinition {
  const parsed = parseWith(processDefinition, body);
  const problems: FieldError[] = [];
  // At most MAX_PROBLEMS are answered: a 10,000-task body wrong in every task keeps no more (and no spread of them).
  const add = (more: readonly FieldError[]) => {
    for (const p of more) {
      if (problems.length >= MAX_PROBLEMS) return;
      problems.push(p);
    }
  };
  const check = (rule: () => void) => {
    try {
      rule();
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
      add(err.problems ?? [err.toFieldError()]);
    }
  };
  if (parsed.process_definition_name !== pathName) {
    problems.push({
      code: 'name_mismatch',
      message: `process_definition_name "${parsed.process_definition_name}" differs from the name in the path "${pathName}"`,
      field: 'process_definition_name',
    });
  }
  const dag = dagProblems(parsed.task_definitions);
  add(dag);
  // Each task's slot, one DynamoDB item a run keeps of it, fits in 400 KB at its largest (slot-size.ts).
  if (dag.length === 0) add(slotSizeProblems(parsed.task_definitions, parsed.process_definition_name));
  // Declared run parameters: unique, with the defaults their kind (and a schedule) needs.
  add(declarationProblems(parsed.parameters, parsed.schedule));
  // Upstream definitions listed once, none of them started (directly or not) by this one's runs.
  add(upstreamProblems(pathName, parsed.upstream ?? [], rules.downstream ?? new Map()));
  // Cron and interval grammar, then what depends on the time and the scheduler (start in the past, minimum interval).
  check(() => rules.schedule(parsed, previous));
  if (problems.length === 0 && Buffer.byteLength(JSON.stringify(parsed)) > MAX_DEFINITION_BYTES) {
    throw new PayloadTooLargeError(`process definition is larger than ${MAX_DEFINITION_BYTES} bytes as compact JSON`, 'task_definitions');
  }
  // What AWS would refuse at every attempt's RunTask or SubmitJob (request-limits.ts) is refused now.
  add(definitionRequestProblems(parsed.task_definitions, defaultVariables(parsed.parameters)));
  // A service key goes where api_url says: only to PagerDuty's hosts (locally also loopback).
  add(pagerDutyUrlProblems(parsed.notifications, rules.pagerDutyUrls));
  // A webhook goes to public https hosts only (locally also loopback); a masked url keeps its host.
  add(webhookUrlProblems(parsed.notifications, rules.webhookUrls ?? DEPLOYED_WEBHOOK_URLS));
  // A GET answer PUT back carries masked secrets: keep the stored ones (for the same URL only).
  let def = parsed;
  check(() => {
    def = restoreMaskedSecrets(parsed, previous);
  });
  if (problems.length > 0) throw BadRequestError.of(problems);
  return def;
}

/**
 * A definition as every route answers it: the body as stored, with `paused` always present and every
 * PagerDuty `service_key`, webhook `url` and webhook `secret` masked (`****` and the last four
 * characters; a PUT of the masked form keeps the stored value).
 */
export function presentDefinition(stored: StoredDefinition<DefinitionSummary>): Record<string, unknown> {
  return { ...maskDefinitionSecrets(stored.definition), paused: stored.paused };
}

/** {@link presentDefinition} and, beyond Sundial (Kala's job stats), `next_run_time`, `last_run`, `runs_succeeded`, `runs_failed`. */
export type DescribedDefinition = Record<string, unknown> & DefinitionStats;

export interface DefinitionsDeps {
  store: Store;
  schedules: Schedules;
  now: () => Date;
  /** Where a definition's PagerDuty `api_url` may point (PUT refuses the rest). @default PagerDuty's hosts only */
  pagerDutyUrls?: PagerDutyUrlPolicy;
  /** Where a definition's webhook `url` may point (PUT refuses the rest). @default public https hosts only */
  webhookUrls?: WebhookUrlPolicy;
}

export class Definitions {
  constructor(private readonly d: DefinitionsDeps) {}

  /**
   * `PUT /api/process_definitions/{name}`: creates or replaces the definition and its schedule. Nothing
   * is written unless every rule holds ({@link validateDefinition}).
   */
  async put(name: string, body: unknown): Promise<{ created: boolean; definition: DescribedDefinition }> {
    // What a PUT keeps of the definition it replaces (schedule, secrets, upstream) is in its item: no part read.
    const previous = (await this.d.store.definitions.summary(name))?.definition;
    // Only a PUT that lists upstream definitions can close a cycle: it alone reads the upstream version
    // (before anything its check reads) and claims the next one (claimUpstream). The others pay nothing.
    const version = listsUpstream(body) ? await this.d.store.upstreamVersion.read(this.d.now().toISOString()) : undefined;
    const def = validateDefinition(body, name, previous, {
      pagerDutyUrls: this.d.pagerDutyUrls ?? DEPLOYED_PAGERDUTY_URLS,
      ...(this.d.webhookUrls ? { webhookUrls: this.d.webhookUrls } : {}),
      schedule: (candidate, replaced) => this.d.schedules.spec(candidate, replaced),
      downstream: version ? await this.downstreamOf(name, version) : new Map(),
    });
    const upstream = (def.upstream ?? []).map((u) => u.process_definition_name);
    const claim = version && upstream.length > 0 ? await this.claimUpstream(def, version) : undefined;
    let stored: StoredDefinition;
    let created: boolean;
    try {
      // Linked before the definition is stored and unlinked after: an entry a failed PUT leaves behind
      // starts nothing (whoever reads the index checks the definition), a missing one would lose runs.
      await this.d.store.downstream.link(name, upstream);
      ({ created, stored } = await this.d.store.definitions.put(def, this.d.now().toISOString()));
      await this.unlinkDropped(name, upstreamNames(previous).filter((u) => !upstream.includes(u)));
      // And again once stored: a concurrent PUT of this name that removed an edge before this store
      // read its own definition, not this one, and did not put it back ({@link unlinkDropped}).
      await this.d.store.downstream.link(name, upstream);
    } catch (err) {
      // Released even so (its edges may be stored or not): a release that fails too leaves the entry to age out.
      if (claim) await this.d.store.upstreamVersion.release(claim).catch(() => undefined);
      throw err;
    }
    // Stored: its edges are in its definition now, the pending entry is no longer needed.
    if (claim) await this.d.store.upstreamVersion.release(claim);
    await this.d.schedules.sync(stored);
    return { created, definition: await this.described(stored) };
  }

  /** `DELETE`: the definition and its schedule go; its runs are kept. */
  async delete(name: string): Promise<void> {
    const upstream = upstreamNames((await this.d.store.definitions.summary(name))?.definition);
    if (!(await this.d.store.definitions.delete(name, this.d.now().toISOString()))) throw this.missing(name);
    // Its own downstream index stays (Kala: deleting a parent leaves its children defined, and a
    // definition PUT again under this name starts them again).
    await this.unlinkDropped(name, upstream);
    await this.d.schedules.removed(name);
  }

  /**
   * Removes `name` from the downstream index of the upstream definitions it no longer lists, then links
   * it again to whatever the definition stored *now* lists. Another PUT of the same name may have linked
   * one of them and stored its definition meanwhile: removed after that link, its edge would be missing,
   * and its upstream's runs would no longer start it. Whoever removes reads the definition afterwards and
   * puts back what it lists, and every PUT links again after its own store, so the last stored
   * definition's edges are in the index however the PUTs interleave: a removal after that PUT's last link
   * is followed by a read that sees its definition (an extra entry is harmless: readers check the
   * definition). `test/engine/upstream-index-race.test.ts`.
   */
  private async unlinkDropped(name: string, dropped: readonly string[]): Promise<void> {
    if (dropped.length === 0) return;
    await this.d.store.downstream.unlink(name, dropped);
    const now = upstreamNames((await this.d.store.definitions.summary(name))?.definition);
    await this.d.store.downstream.link(name, now.filter((u) => dropped.includes(u)));
  }

  async get(name: string): Promise<DescribedDefinition> {
    const stored = await this.d.store.definitions.get(name);
    if (!stored) throw this.missing(name);
    return this.described(stored);
  }

  /**
   * Every definition, read from its item alone: one stored in parts (past one item) is answered without its
   * tasks, `task_definitions_omitted` counting them (GET by name answers them), so that the list neither
   * reads every part nor outgrows an answer.
   */
  async list(): Promise<DescribedDefinition[]> {
    return mapLimited(await this.d.store.definitions.list(), 16, async (listed: ListedDefinition) => ({
      ...(await this.described(listed)),
      ...(listed.task_definitions_omitted === undefined ? {} : { task_definitions_omitted: listed.task_definitions_omitted }),
    }));
  }

  /** `POST …/pause` (Schedules.pause), answered as GET answers the definition. */
  async pause(name: string): Promise<DescribedDefinition> {
    return this.described(await this.d.schedules.pause(name));
  }

  /** `POST …/resume` (Schedules.resume), answered as GET answers the definition. */
  async resume(name: string): Promise<DescribedDefinition> {
    return this.described(await this.d.schedules.resume(name));
  }

  /** A PUT ignores the fields added here, so that what GET answers can be PUT back. */
  private async described(stored: StoredDefinition<DefinitionSummary>): Promise<DescribedDefinition> {
    return { ...presentDefinition(stored), ...(await this.d.schedules.describe(stored)) };
  }

  /**
   * Claims the upstream version after `read` for a PUT of `def` (store/upstream-version.ts), its edges
   * pending until it releases them. When another PUT claimed first, the version is read again and the
   * cycle check made again, now counting that PUT's edges: the loser of two PUTs closing a cycle gets the
   * 400 it would get sent after the winner. Answers the claim's id.
   */
  private async claimUpstream(def: ProcessDefinition, read: UpstreamVersion): Promise<string> {
    const name = def.process_definition_name;
    const id = randomUUID();
    const entry = { name, upstream: upstreamNames(def), at: this.d.now().toISOString() };
    for (let attempt = 1, version = read; ; attempt++) {
      if (await this.d.store.upstreamVersion.claim(version, id, entry)) return id;
      if (attempt >= CLAIM_ATTEMPTS) throw new ServiceUnavailableError('upstream definitions are being changed by other requests; retry shortly', 'upstream');
      version = await this.d.store.upstreamVersion.read(this.d.now().toISOString());
      const problems = upstreamProblems(name, def.upstream ?? [], await this.downstreamOf(name, version));
      if (problems.length > 0) throw BadRequestError.of(problems);
    }
  }

  /**
   * The definitions that runs of `name` start, directly or not, each with its path from `name`: the
   * downstream index read breadth first, each edge checked against the definition it names, and the
   * edges of the PUTs under way (`version.pending`), which count without a check (their definitions may
   * not be stored yet).
   */
  private async downstreamOf(name: string, version: UpstreamVersion): Promise<Map<string, string[]>> {
    const pending = new Map<string, Set<string>>();
    for (const p of version.pending.values()) {
      for (const u of p.upstream) pending.set(u, (pending.get(u) ?? new Set()).add(p.name));
    }
    const paths = new Map<string, string[]>();
    const queue: string[][] = [[name]];
    for (let path = queue.shift(); path; path = queue.shift()) {
      const from = path[path.length - 1] ?? name;
      const underWay = pending.get(from) ?? new Set<string>();
      for (const next of [...new Set([...(await this.d.store.downstream.of(from)), ...underWay])].sort()) {
        if (next === name || paths.has(next)) continue;
        if (!underWay.has(next) && !upstreamNames((await this.d.store.definitions.summary(next))?.definition).includes(from)) continue; // a stale entry
        paths.set(next, [...path, next]);
        queue.push([...path, next]);
      }
    }
    return paths;
  }

  private missing(name: string): NotFoundError {
    return new NotFoundError(`process definition "${name}" does not exist`);
  }
}

/**
 * Claims of the upstream version one PUT makes before answering 503: each lost claim means another PUT
 * claimed meanwhile, so only many PUTs listing upstream definitions at the same moment reach it.
 */
const CLAIM_ATTEMPTS = 10;

/**
 * Whether a PUT body lists upstream definitions, before it is parsed (so that the version is read before
 * what the check reads). A body that passes here and fails the schema is refused all the same.
 */
function listsUpstream(body: unknown): boolean {
  const upstream = (body as { upstream?: unknown } | null)?.upstream;
  return Array.isArray(upstream) && upstream.length > 0;
}

/** The names a definition's `upstream` lists. */
function upstreamNames(def: DefinitionSummary | undefined): string[] {
  return (def?.upstream ?? []).map((u) => u.process_definition_name);
}
