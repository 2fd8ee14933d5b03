/** Lambda entry: the scheduled sweep. */
import { awsServices, observability } from './aws';
import { sweepJob } from './handlers/sweep';
import { jobPipeline } from './observability';

export const handler = jobPipeline(sweepJob(awsServices()), observability);
