/**
 * The embedded DynamoDB: dynalite speaks the real wire protocol (conditional writes, GSIs,
 * ConsumedCapacity), so the adapter that ships is the one under test. Persisted in a LevelDB
 * folder, so connections survive a restart.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TABLE } from '../../shared/adapters/dynamodb/schema';

export interface EmbeddedDynamoDb {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1; `path` persists it, undefined keeps it in memory. */
export async function startEmbeddedDynamoDb(path: string | undefined, port = 0): Promise<EmbeddedDynamoDb> {
  const server: Server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Local credentials for a DynamoDB-compatible endpoint that does not check them. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Creates the broker's table (the same key schema and indexes as the CDK stack) unless it exists. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (
      !(error instanceof ResourceNotFoundException) &&
      (error as Error).name !== 'ResourceNotFoundException'
    )
      throw error;
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE.sweepIndex.partitionKey, AttributeType: 'N' },
          { AttributeName: TABLE.sweepIndex.sortKey, AttributeType: 'N' },
          { AttributeName: TABLE.providerIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.providerIndex.sortKey, AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE.sweepIndex.name,
            KeySchema: [
              { AttributeName: TABLE.sweepIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.sweepIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: TABLE.sweepIndex.projection },
          },
          {
            IndexName: TABLE.providerIndex.name,
            KeySchema: [
              { AttributeName: TABLE.providerIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.providerIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: TABLE.providerIndex.projection },
          },
        ],
      }),
    );
  } catch (error) {
    // Another process sharing the endpoint created it first.
    if (!(error instanceof ResourceInUseException) && (error as Error).name !== 'ResourceInUseException')
      throw error;
  }
}
