/** The store: one object per entity over one DynamoDB table. */
import type { Db } from './client';
import { DefinitionStore } from './definitions';
import { RunStore } from './runs';
import { StatsStore } from './stats';

export class Store {
  readonly stats: StatsStore;
  readonly definitions: DefinitionStore;
  readonly runs: RunStore;

  constructor(readonly db: Db) {
    this.stats = new StatsStore(db);
    this.definitions = new DefinitionStore(db, this.stats);
    this.runs = new RunStore(db, this.stats);
  }
}

export { createDb, type Db } from './client';
