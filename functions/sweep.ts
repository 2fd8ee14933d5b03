/** Lambda entry: the scheduled sweep. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { awsServices, logger, metrics } from './aws';
import { createSweepHandler } from './handlers/sweep';

export const handler = createSweepHandler(awsServices())
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
