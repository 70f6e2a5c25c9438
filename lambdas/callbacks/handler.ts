/** Lambda entry point of the task callback routes (bearer task tokens, checked here). */
import { createRouter } from '../http/router';
import { servicesFromEnv } from '../services';
import { callbackRoutes } from './routes';

const services = servicesFromEnv();
export const handler = createRouter(callbackRoutes(services), services.logger);
