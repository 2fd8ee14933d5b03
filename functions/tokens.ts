/** Lambda entry: `GET /tokens/{provider}/{account}`. */
import { lambdaHandler } from './aws';
import { createTokensHandler } from './handlers/tokens';

// Backends inside AWS may invoke the function directly as well as through API Gateway.
export const handler = lambdaHandler((services) => createTokensHandler(services, { directInvocation: true }));
