/** The DynamoDB document client, built once per process (module scope in Lambda). */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * A document client that drops undefined attributes (optional fields are simply absent).
 * `tracer` (Powertools) instruments the underlying client for X-Ray on AWS.
 */
export function createDocumentClient(
  tracer?: { captureAWSv3Client<T>(client: T): T },
  config: DynamoDBClientConfig = {},
): DynamoDBDocumentClient {
  const client = new DynamoDBClient(config);
  return DynamoDBDocumentClient.from(tracer === undefined ? client : tracer.captureAWSv3Client(client), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
