/** Lambda entry point of the operator API (and the open metrics route). */
import { operatorRoutes } from '../api/routes';
import { createRouter } from '../http/router';
import { apiServices } from './wiring';

const services = apiServices();
export const handler = createRouter(operatorRoutes(services), services.logger);
