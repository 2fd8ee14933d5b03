/** Shared pieces of the fault-injection suites: bounded waiting and the "nothing lost" check. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { LOCAL_CREDENTIALS, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { MAX_CLOCK_SKEW_MS } from '../../shared/domain/lease-watch';
import { connect, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import { DynamoFaultProxy } from './dynamo-proxy';

/** Error codes the contract (and the README's additions) allow in a JSON error body. */
export const KNOWN_ERROR_CODES = new Set([
  'invalid_request',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'reauthorization_required',
  'token_expired',
  'provider_unavailable',
  'internal_error',
]);

/** Polls `probe` every `intervalMs` until it returns true; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 20 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects every account through the real connect flow, a few at a time. */
export async function connectAll(t: TestBroker, accounts: readonly string[]): Promise<void> {
  for (let i = 0; i < accounts.length; i += 8) {
    const responses = await Promise.all(accounts.slice(i, i + 8).map((account) => connect(t, account)));
    for (const response of responses) expect(response.status).toBe(200);
  }
}

/** A JSON error body is exactly `{error, message}` with a known code and nothing secret-shaped in it. */
export function expectCleanError(body: unknown, code?: string): void {
  expect(body).toEqual({ error: expect.any(String), message: expect.any(String) });
  const { error, message } = body as { error: string; message: string };
  expect(KNOWN_ERROR_CODES.has(error), `unknown error code ${error}`).toBe(true);
  if (code !== undefined) expect(error).toBe(code);
  // No stack frame, no source path, nothing token-shaped.
  expect(message).not.toMatch(/\n\s*at |\.ts:\d+|node_modules|node:internal|[A-Za-z0-9]{40}/);
}

/**
 * After a fault scenario: no connection lost a still-valid refresh token. Every account refreshes
 * once more (force_refresh → 200), stays active, and the provider never saw a revoked refresh
 * token presented (which is what a dropped rotation looks like) since the scenario's stats reset.
 */
export async function expectNothingLost(t: TestBroker, accounts: readonly string[]): Promise<void> {
  const answers = await Promise.all(
    accounts.map((account) => t.json<TokenBody>(`/tokens/lightspeed-x/${account}?force_refresh=true`)),
  );
  for (const [index, answer] of answers.entries()) {
    expect(answer.status, `${accounts[index]}: ${JSON.stringify(answer.body)}`).toBe(200);
    expect(answer.body.stale).toBeUndefined();
  }
  for (const account of accounts) {
    const { body } = await t.json<{ status: string; last_error: string | null }>(
      `/connections/lightspeed-x/${account}`,
    );
    expect(body.status, account).toBe('active');
  }
  const stats = t.simulator.stats();
  expect(stats.revokedRefreshTokenUses).toBe(0);
  expect(stats.invalidGrants).toBe(0);
  expect(stats.maxConcurrentRefreshesPerAccount).toBeLessThanOrEqual(1);
}

/**
 * Makes the refresh lease on an OAuth connection look abandoned to any process, straight in the
 * table (not through any broker): its holder's end estimate is moved further back than the clock
 * skew a cold observer tolerates (MAX_CLOCK_SKEW_MS). This stands in for time passing: a real
 * lease is taken over after a process has watched it unchanged for a whole lease length (~37 s
 * with the default policy), which a test should not sleep through. Fails unless a lease is held,
 * and returns it as it was.
 */
export async function expireLease(
  endpoint: string,
  account: string,
  tableName = 'token-broker',
): Promise<{ leaseOwner: string; leaseUntil: number }> {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS });
  const documents = DynamoDBDocumentClient.from(client);
  const Key = { pk: `conn#lightspeed-x#${account}`, sk: 'oauth' };
  try {
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key, ConsistentRead: true }),
    );
    if (typeof Item?.leaseOwner !== 'string' || typeof Item.leaseUntil !== 'number') {
      throw new Error(`${account} holds no refresh lease`);
    }
    await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: 'SET leaseUntil = :past',
        ConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: {
          ':past': Date.now() - MAX_CLOCK_SKEW_MS - 1_000,
          ':owner': Item.leaseOwner,
        },
      }),
    );
    return { leaseOwner: Item.leaseOwner, leaseUntil: Item.leaseUntil };
  } finally {
    client.destroy();
  }
}

/** The raw lease attributes of an OAuth connection's item (undefined when none is held). */
export async function readLease(
  endpoint: string,
  account: string,
  tableName = 'token-broker',
): Promise<{ leaseOwner?: unknown; leaseUntil?: unknown }> {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS });
  try {
    const { Item } = await DynamoDBDocumentClient.from(client).send(
      new GetCommand({
        TableName: tableName,
        Key: { pk: `conn#lightspeed-x#${account}`, sk: 'oauth' },
        ConsistentRead: true,
      }),
    );
    return { leaseOwner: Item?.leaseOwner, leaseUntil: Item?.leaseUntil };
  } finally {
    client.destroy();
  }
}

/** An in-process broker whose DynamoDB traffic passes a fault proxy in front of dynalite. */
export interface ProxiedBroker {
  readonly t: TestBroker;
  readonly proxy: DynamoFaultProxy;
  /** dynalite itself, past the proxy (for reading or editing items directly). */
  readonly dynamodbEndpoint: string;
  /** Clears the proxy's and the simulator's faults and counters (before each test). */
  reset(): void;
  close(): Promise<void>;
}

/** Starts dynalite, the fault proxy in front of it and a test broker that talks through the proxy. */
export async function startProxiedBroker(): Promise<ProxiedBroker> {
  const dynamodb = await startEmbeddedDynamoDb(undefined);
  const proxy = await DynamoFaultProxy.start(dynamodb.endpoint);
  const t = await startTestBroker({ DYNAMODB_ENDPOINT: proxy.endpoint });
  return {
    t,
    proxy,
    dynamodbEndpoint: dynamodb.endpoint,
    reset: () => {
      proxy.clear();
      proxy.resetStats();
      t.simulator.clearFaults();
      t.simulator.resetStats();
    },
    close: async () => {
      await t.close();
      await proxy.close();
      await dynamodb.close();
    },
  };
}
