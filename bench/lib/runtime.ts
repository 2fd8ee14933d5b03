/**
 * The broker's runtime pieces as the local runtime assembles them (functions/local/runtime.ts):
 * DynamoDbStore over a document client, EnvelopeCipher over a LocalKeyring, FileSecretStore.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ensureTable, LOCAL_CREDENTIALS } from '../../functions/local/dynamodb';
import { LocalKeyring } from '../../shared/adapters/crypto/local-keyring';
import { DynamoDbStore } from '../../shared/adapters/dynamodb/store';
import { type BrokerConfig, loadConfig } from '../../shared/config';
import { EnvelopeCipher } from '../../shared/domain/crypto';
import type { ConnectionKey } from '../../shared/domain/model';
import type { KeyProvider, Logger } from '../../shared/domain/ports';
import { renewalOf, UNSTATED_RENEWAL } from '../../shared/domain/renewal';

/** The OAuth app the sweep measurement registers at the simulator. */
export const SIMULATOR_APP = {
  clientId: 'bench-client-id',
  clientSecret: 'bench-client-secret-0123456789',
  redirectUri: 'https://broker.example.com/oauth/lightspeed-x/callback',
  scope: 'outlets:read products:read',
} as const;

/** The local runtime's API key in the HTTP measurement. */
/**
 * Token-endpoint calls the bench's simulator allows per retailer in a 5-minute window (an assumed
 * number: Lightspeed documents only "its own, smaller limit"; see bench/children/simulator.ts).
 */
export const TOKEN_CALLS_PER_RETAILER = 10;

export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

/** The connection every fetch measurement reads. */
export const FETCH_KEY: ConnectionKey = { provider: 'lightspeed-x', account: 'bench-store' };

/** A DynamoDB client and document client configured as the local runtime configures them. */
export function localClients(endpoint: string) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS });
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, documents };
}

/** Counts the key provider's calls: on AWS each is a KMS request (GenerateDataKey or Decrypt). */
export class CountingKeyProvider implements KeyProvider {
  calls = 0;
  constructor(private readonly inner: KeyProvider) {}
  generateDataKey() {
    this.calls++;
    return this.inner.generateDataKey();
  }
  unwrap(wrapped: string, keyId: string) {
    this.calls++;
    return this.inner.unwrap(wrapped, keyId);
  }
}

/** A store on `table` (created if missing) sealing under the keyring in `dataDir`. */
export async function openStore(
  client: DynamoDBClient,
  documents: DynamoDBDocumentClient,
  table: string,
  dataDir: string,
) {
  await ensureTable(client, table);
  const keys = new CountingKeyProvider(await LocalKeyring.open(join(dataDir, 'keyring.json')));
  const cipher = new EnvelopeCipher(keys);
  return { store: new DynamoDbStore(documents, table, cipher), cipher, keys };
}

/** Broker configuration for the benchmark: an OAuth app for lightspeed-x, everything else default. */
export function benchConfig(env: Record<string, string> = {}): BrokerConfig {
  return loadConfig({
    LIGHTSPEED_X_CLIENT_ID: 'bench-client-id',
    LIGHTSPEED_X_CLIENT_SECRET: 'bench-client-secret',
    ...env,
  });
}

/** A token as long as the real ones (40 characters). */
export const fakeToken = (): string => randomBytes(30).toString('base64url');

/** Writes a valid, long-lived token for `key` through the store. */
export async function seedValidToken(store: DynamoDbStore, key: ConnectionKey = FETCH_KEY): Promise<void> {
  const now = Date.now();
  await store.saveAuthorization(
    key,
    {
      accessToken: fakeToken(),
      refreshToken: fakeToken(),
      expiresAt: now + 24 * 3600_000,
      scope: 'outlets:read products:read',
    },
    { now, renewal: renewalOf({ accessToken: 'seed', expiresAt: now }, undefined, UNSTATED_RENEWAL, now) },
  );
}

/** A logger that keeps only counts (sweep measurements must not print thousands of lines). */
export function countingLogger(): Logger & { counts: Record<string, number>; errors: string[] } {
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  const log = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    counts[level] = (counts[level] ?? 0) + 1;
    if (level === 'error' || level === 'warn') errors.push(`${message} ${JSON.stringify(attributes ?? {})}`);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), counts, errors };
}

let requestCounter = 0;

/** The API Gateway (HTTP API, payload 2.0) event of `GET /tokens/{provider}/{account}` from an IAM caller. */
export function tokenEvent(key: ConnectionKey = FETCH_KEY): APIGatewayProxyEventV2 {
  const now = Date.now();
  const path = `/tokens/${key.provider}/${key.account}`;
  const requestId = `bench-${process.pid}-${++requestCounter}`;
  return {
    version: '2.0',
    routeKey: 'GET /tokens/{provider}/{account}',
    rawPath: path,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000',
      'content-length': '0',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'bench',
      'x-amz-date': '20261123T000000Z',
      'x-amzn-trace-id': `Root=1-00000000-${requestId}`,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    pathParameters: { provider: key.provider, account: key.account },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: {
        iam: {
          accessKey: 'AKIAEXAMPLE',
          accountId: '123456789012',
          callerId: 'AROAEXAMPLE:bench',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:sts::123456789012:assumed-role/saas-backend/bench',
          userId: 'AROAEXAMPLE:bench',
        },
      },
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId,
      routeKey: 'GET /tokens/{provider}/{account}',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
  } as APIGatewayProxyEventV2;
}
