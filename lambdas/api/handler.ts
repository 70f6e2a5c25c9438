/** Lambda entry point of the operator API (and the open metrics route). */
import { createRouter } from '../http/router';
import { servicesFromEnv } from '../services';
import { operatorRoutes } from './routes';

const services = servicesFromEnv();
export const handler = createRouter(operatorRoutes(services), services.logger);
