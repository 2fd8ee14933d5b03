/**
 * What the AWS SDK v3 DynamoDB client — built exactly as the local runtime builds it — retries when
 * the fault proxy sheds load. The DynamoDB fault suite relies on these facts, so they are pinned
 * here rather than assumed: throttling (400 ProvisionedThroughputExceeded, 500/503
 * ThrottlingException), 500 InternalServerError and a reset connection are retried; a
 * ValidationException is not; a request is tried 4 times at most.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type EmbeddedDynamoDb,
  ensureTable,
  LOCAL_CREDENTIALS,
  startEmbeddedDynamoDb,
} from '../../functions/local/dynamodb';
import { type DynamoFaultKind, DynamoFaultProxy } from './dynamo-proxy';

const TABLE = 'proxy-probe';
let dynamodb: EmbeddedDynamoDb;
let proxy: DynamoFaultProxy;
let client: DynamoDBClient;
/** One attempt only: shows the error name each fault parses to. */
let once: DynamoDBClient;

beforeAll(async () => {
  dynamodb = await startEmbeddedDynamoDb(undefined);
  proxy = await DynamoFaultProxy.start(dynamodb.endpoint);
  // The same construction as functions/local/runtime.ts: SDK defaults for retries.
  client = new DynamoDBClient({ endpoint: proxy.endpoint, region: 'local', credentials: LOCAL_CREDENTIALS });
  once = new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  await ensureTable(client, TABLE);
});
afterAll(async () => {
  client?.destroy();
  once?.destroy();
  await proxy?.close();
  await dynamodb?.close();
});
beforeEach(() => {
  proxy.clear();
  proxy.resetStats();
});

const getItem = (through = client) =>
  through.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'conn#x#y' }, sk: { S: 'oauth' } } }));

describe('the DynamoDB fault proxy and the SDK retries the broker relies on', () => {
  it.each<[DynamoFaultKind, string]>([
    ['provisioned-throughput', 'ProvisionedThroughputExceededException'],
    ['throttling-500', 'ThrottlingException'],
    ['throttling-503', 'ThrottlingException'],
    ['internal-500', 'InternalServerError'],
    ['connection-reset', 'ECONNRESET'],
  ])('absorbs one %s answer (%s) with a retry', async (kind, name) => {
    proxy.fail({ kind, count: 1 });
    await expect(getItem(once)).rejects.toSatisfy(
      (error: Error & { code?: string }) => error.name === name || error.code === name,
    );
    proxy.resetStats();
    proxy.fail({ kind, count: 1 });
    const result = await getItem();
    expect(result.$metadata.attempts).toBe(2);
    expect(proxy.stats()).toEqual({ requests: { GetItem: 2 }, faulted: { GetItem: 1 } });
  });

  it('gives up after 4 attempts and surfaces the DynamoDB error name', async () => {
    proxy.fail({ kind: 'internal-500', count: 10 });
    const error = await getItem().then(
      () => undefined,
      (caught: unknown) => caught as Error & { $metadata?: { attempts?: number } },
    );
    expect(error?.name).toBe('InternalServerError');
    expect(error?.$metadata?.attempts).toBe(4);
    expect(proxy.stats().requests.GetItem).toBe(4);
  });

  it('does not retry a ValidationException', async () => {
    proxy.fail({ kind: 'validation-400', count: 1 });
    await expect(getItem()).rejects.toMatchObject({ name: 'ValidationException' });
    expect(proxy.stats().requests.GetItem).toBe(1);
  });

  it('faults only the operations asked for, after letting `skip` of them through', async () => {
    proxy.fail({ kind: 'internal-500', count: 1, operations: ['PutItem'] });
    proxy.fail({ kind: 'internal-500', count: 1, operations: ['GetItem'], skip: 1 });
    expect((await getItem()).$metadata.attempts).toBe(1);
    expect((await getItem()).$metadata.attempts).toBe(2);
    expect(proxy.stats().faulted).toEqual({ GetItem: 1 });
    expect(proxy.pending()).toBe(1);
  });
});
