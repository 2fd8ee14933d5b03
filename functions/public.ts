/** Lambda entry: public routes (health, connect link, OAuth callback). */
import { awsServices, observability } from './aws';
import { publicRoutes } from './handlers/public';
import { httpPipeline } from './http/pipeline';

const services = awsServices();
export const handler = httpPipeline(services, publicRoutes(services), { observability });
