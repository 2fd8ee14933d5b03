/** Lambda entry: backend management routes (connect sessions, connections, personal tokens). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { awsServices, logger } from './aws';
import { createAdminHandler } from './handlers/admin';

export const handler = createAdminHandler(awsServices()).use(injectLambdaContext(logger));
