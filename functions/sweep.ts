/** Lambda entry: the scheduled sweep. */
import { lambdaJob } from './aws';
import { sweepJob } from './handlers/sweep';

export const handler = lambdaJob(sweepJob);
