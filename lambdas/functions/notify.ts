/** Lambda entry point of notifications: a run that ended, invoked asynchronously (../notify/events.ts). */
import { notifyEventHandler } from '../notify/events';
import { notifier } from './wiring';

export const handler = notifyEventHandler(notifier);
