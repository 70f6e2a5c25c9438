/** Lambda entry point of the engine: task state machine steps, ticks, reaps, ended executions (../engine/events.ts). */
import { engineEventHandler } from '../engine/events';
import { engineEventDeps } from './wiring';

export const handler = engineEventHandler(engineEventDeps);
