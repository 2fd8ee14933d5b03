/** Lambda entry: `GET /tokens/{provider}/{account}`. */
import { awsServices, observability } from './aws';
import { directInvocation, tokenRoutes } from './handlers/tokens';
import { httpPipeline } from './http/pipeline';

const services = awsServices();
// Backends inside AWS may invoke the function directly as well as through API Gateway.
export const handler = httpPipeline(services, tokenRoutes(services), {
  observability,
  directInvocation: directInvocation(),
});
