/**
 * Child process: the benchmark's one dynalite (in memory), shared by every measurement in a run.
 * Its own process, as DynamoDB is its own service: its CPU time is not charged to the broker's
 * event loop, and the broker reaches it over loopback HTTP like the AWS SDK reaches DynamoDB.
 */
import { startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { serveParent } from '../lib/child';

const db = await startEmbeddedDynamoDb(undefined);
serveParent(
  { endpoint: db.endpoint },
  {
    cpu: () => process.cpuUsage(),
  },
);
