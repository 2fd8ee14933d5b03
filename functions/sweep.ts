/** Lambda entry: the scheduled sweep. */
import { lambdaHandler } from './aws';
import { createSweepHandler } from './handlers/sweep';

export const handler = lambdaHandler(createSweepHandler);
