/** Lambda entry: `GET /tokens/{provider}/{account}`. */
import { lambdaHandler } from './aws';
import { tokenRoutes } from './handlers/tokens';

// Backends inside AWS may invoke the function directly as well as through API Gateway.
export const handler = lambdaHandler(tokenRoutes, { directInvocation: true });
