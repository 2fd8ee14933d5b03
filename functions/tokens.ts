/** Lambda entry: `GET /tokens/{provider}/{account}`. */
import { lambdaHandler } from './aws';
import { createTokensHandler } from './handlers/tokens';

export const handler = lambdaHandler(createTokensHandler);
