/** Lambda entry point of the task callback routes (bearer task tokens, checked here). */
import { createRouter } from '../http/router';
import { coreServicesFromEnv } from '../core-services';
import { callbackRoutes } from './routes';

// Only what its routes use (../core-services.ts): no engine, schedules or AWS adapters at cold start.
const services = coreServicesFromEnv();
export const handler = createRouter(callbackRoutes(services), services.logger);
