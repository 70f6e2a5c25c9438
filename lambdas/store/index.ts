/** The store: one object per entity over one DynamoDB table. */
import type { Db } from './client';
import { DefinitionStore } from './definitions';
import { RunStore } from './runs';
import { ScheduleStore } from './schedules';
import { SlotStore } from './slots';
import { StatsStore } from './stats';

export class Store {
  readonly stats: StatsStore;
  readonly definitions: DefinitionStore;
  readonly runs: RunStore;
  readonly slots: SlotStore;
  readonly schedules: ScheduleStore;

  constructor(readonly db: Db) {
    this.stats = new StatsStore(db);
    this.definitions = new DefinitionStore(db, this.stats);
    this.runs = new RunStore(db, this.stats);
    this.slots = new SlotStore(db);
    this.schedules = new ScheduleStore(db);
  }
}

export { createDb, type Db } from './client';
