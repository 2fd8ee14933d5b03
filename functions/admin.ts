/** Lambda entry: backend management routes (connect sessions, connections, personal tokens). */
import { awsServices, observability } from './aws';
import { adminRoutes } from './handlers/admin';
import { httpPipeline } from './http/pipeline';

const services = awsServices();
export const handler = httpPipeline(services, adminRoutes(services), { observability });
