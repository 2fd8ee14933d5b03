/** Lambda entry: public routes (health, connect link, OAuth callback). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { awsServices, logger } from './aws';
import { createPublicHandler } from './handlers/public';

export const handler = createPublicHandler(awsServices()).use(injectLambdaContext(logger));
