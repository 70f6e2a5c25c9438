/** Lambda entry point of the task callback routes (bearer task tokens, checked there). */
import { callbackRoutes } from '../callbacks/routes';
import { createRouter } from '../http/router';
import { callbackServices } from './wiring';

const services = callbackServices();
export const handler = createRouter(callbackRoutes(services), services.logger);
