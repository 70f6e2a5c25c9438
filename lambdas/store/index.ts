/** The store: one object per entity over one DynamoDB table. */
import { DEFAULT_RETENTION_DAYS } from '../domain/retention';
import { BackfillStore } from './backfills';
import type { Db } from './client';
import { DefinitionStore } from './definitions';
import { DeliveryStore } from './deliveries';
import { DownstreamStore } from './downstream';
import { FanOutStore } from './fan-outs';
import { RunStore } from './runs';
import { ScheduleStore } from './schedules';
import { SlotStore } from './slots';
import { StatsStore } from './stats';
import { UpstreamVersionStore } from './upstream-version';

export class Store {
  readonly stats: StatsStore;
  readonly definitions: DefinitionStore;
  readonly runs: RunStore;
  readonly slots: SlotStore;
  readonly schedules: ScheduleStore;
  readonly deliveries: DeliveryStore;
  /** Backfills queued by `POST …/backfill`, one per definition. */
  readonly backfills: BackfillStore;
  /** Which definitions each definition's runs start (`upstream`). */
  readonly downstream: DownstreamStore;
  /** The version PUTs that list upstream definitions claim, so that no two of them close a cycle together. */
  readonly upstreamVersion: UpstreamVersionStore;
  /** Plans and markers of the fan-outs handed to the engine function (lambdas/engine/fan-out.ts). */
  readonly fanOuts: FanOutStore;

  /** `retentionDays`: how long entries are kept after they are written (domain/retention.ts). @default DEFAULT_RETENTION_DAYS (deployed: SUNDIAL_RETENTION_DAYS, lambdas/functions/wiring.ts) */
  constructor(
    readonly db: Db,
    options: { retentionDays?: number } = {},
  ) {
    this.stats = new StatsStore(db);
    this.definitions = new DefinitionStore(db, this.stats);
    this.runs = new RunStore(db, this.stats, options.retentionDays ?? DEFAULT_RETENTION_DAYS);
    this.slots = new SlotStore(db);
    this.schedules = new ScheduleStore(db);
    this.deliveries = new DeliveryStore(db);
    this.backfills = new BackfillStore(db);
    this.downstream = new DownstreamStore(db);
    this.upstreamVersion = new UpstreamVersionStore(db);
    this.fanOuts = new FanOutStore(db);
  }
}

export { createDb, type Db } from './client';
