/** Lambda entry: `GET /tokens/{provider}/{account}`. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { awsServices, logger, metrics } from './aws';
import { createTokensHandler } from './handlers/tokens';

export const handler = createTokensHandler(awsServices())
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
