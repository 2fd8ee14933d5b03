/**
 * The cold-start reference: a Lambda function that only reads one item with @aws-sdk/client-dynamodb,
 * its client built at module scope as the broker's functions build theirs. Bundled with the stack's
 * settings (bench/lib/bundling.ts), it is what importing "the AWS SDK for DynamoDB alone" costs.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

const client = new DynamoDBClient({});

export const handler = async (event: { pk: string; sk: string }) =>
  client.send(
    new GetItemCommand({
      TableName: process.env.BROKER_TABLE_NAME,
      Key: { pk: { S: event.pk }, sk: { S: event.sk } },
      ConsistentRead: true,
    }),
  );
