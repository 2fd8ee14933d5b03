/**
 * A DynamoDbStore on dynalite that records what it does: every DynamoDB request (command and
 * input) and every token it opens. For tests that count reads and decryptions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTable, LOCAL_CREDENTIALS, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { LocalKeyring } from '../../shared/adapters/crypto/local-keyring';
import { DynamoDbStore, type DynamoDbStoreOptions } from '../../shared/adapters/dynamodb/store';
import { loadConfig } from '../../shared/config';
import { EnvelopeCipher } from '../../shared/domain/crypto';
import type { ConnectionKey, PersonalConnection } from '../../shared/domain/model';
import {
  type ConnectionStore,
  type HttpClient,
  type Logger,
  systemClock,
  type TokenCipher,
} from '../../shared/domain/ports';
import { Refresher, type RefresherDeps } from '../../shared/domain/refresh';
import { type Renewal, renewalOf, UNSTATED_RENEWAL } from '../../shared/domain/renewal';
import { silentTelemetry } from '../../shared/domain/telemetry';
import { createProviders } from '../../shared/providers';

/** One DynamoDB request as the client sent it. */
export interface RecordedRequest {
  /** The command without `Command` and `Item` (`Get`, `Query`, `Update`, …), so both clients agree. */
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** Records the sealed values it opens, in order. */
export class RecordingCipher implements TokenCipher {
  readonly opened: string[] = [];
  constructor(private readonly inner: TokenCipher) {}
  seal(plaintext: string, key: ConnectionKey) {
    return this.inner.seal(plaintext, key);
  }
  open(sealed: string, key: ConnectionKey) {
    this.opened.push(sealed);
    return this.inner.open(sealed, key);
  }
}

export interface StoreFixture {
  readonly store: DynamoDbStore;
  readonly cipher: RecordingCipher;
  readonly requests: RecordedRequest[];
  /** Requests and opens, in the order they happened (`request:Get`, `open:<sealed>`). */
  readonly timeline: string[];
  /** The raw item of a connection, read past the store (not recorded). */
  rawItem(key: ConnectionKey, sk: 'oauth' | 'personal'): Promise<Record<string, unknown> | undefined>;
  /** Writes an item straight into the table, past the store (not recorded). */
  putRawItem(item: Record<string, unknown>): Promise<void>;
  /** Another store on the same table, client and cipher, with its own options. */
  storeWith(options: DynamoDbStoreOptions): DynamoDbStore;
  /** Forgets what was recorded so far. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts dynalite with the broker's table and a recording store on it. */
export async function startStoreFixture(): Promise<StoreFixture> {
  const db = await startEmbeddedDynamoDb(undefined);
  const dir = await mkdtemp(join(tmpdir(), 'store-test-'));
  const client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
  });
  const table = 'store-test';
  await ensureTable(client, table);
  const requests: RecordedRequest[] = [];
  const timeline: string[] = [];
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const raw = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: db.endpoint, region: 'local', credentials: LOCAL_CREDENTIALS }),
  );
  documents.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? 'unknown').replace(/(Item)?Command$/, '');
      requests.push({ command, input: { ...(args.input as Record<string, unknown>) } });
      timeline.push(`request:${command}`);
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
  const inner = new EnvelopeCipher(await LocalKeyring.open(join(dir, 'keyring.json')));
  const cipher = new RecordingCipher({
    seal: (plaintext, key) => inner.seal(plaintext, key),
    open: (sealed, key) => {
      timeline.push(`open:${sealed}`);
      return inner.open(sealed, key);
    },
  });
  return {
    store: new DynamoDbStore(documents, table, cipher),
    cipher,
    requests,
    timeline,
    rawItem: async (key, sk) =>
      (
        await raw.send(
          new GetCommand({
            TableName: table,
            Key: { pk: `conn#${key.provider}#${key.account}`, sk },
            ConsistentRead: true,
          }),
        )
      ).Item,
    putRawItem: async (item) => {
      await raw.send(new PutCommand({ TableName: table, Item: item }));
    },
    storeWith: (options) => new DynamoDbStore(documents, table, cipher, options),
    reset: () => {
      requests.length = 0;
      timeline.length = 0;
      cipher.opened.length = 0;
    },
    close: async () => {
      client.destroy();
      raw.destroy();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Both providers, with a Lightspeed app configured (client id `client-id`). */
export const TEST_PROVIDERS = createProviders(
  loadConfig({ LIGHTSPEED_X_CLIENT_ID: 'client-id', LIGHTSPEED_X_CLIENT_SECRET: 'client-secret' }),
);

/** A Refresher over a fixture's store with a scripted token endpoint; the rest as the tests need it. */
export function fixtureRefresher(
  f: StoreFixture,
  options: { http: HttpClient } & Partial<
    Pick<RefresherDeps, 'credentials' | 'retryPolicy' | 'cooldownMs' | 'clock' | 'monotonic'>
  >,
): Refresher {
  return new Refresher({
    store: f.store,
    providers: TEST_PROVIDERS,
    credentials: async () => ({ clientId: 'client-id', clientSecret: 'client-secret' }),
    clock: systemClock,
    logger: SILENT_LOGGER,
    owner: 'test',
    telemetry: silentTelemetry(SILENT_LOGGER),
    ...options,
  });
}

/** A personal token's metadata for `key`, version v1, connected now. */
export const personalConnection = (key: ConnectionKey, expiresAt?: number): PersonalConnection => ({
  ...key,
  source: 'personal',
  secretVersion: 'v1',
  connectedAt: Date.now(),
  expiresAt,
});

/** The renewal of a seeded connection: a refresh token without stated expiry, renewed within 30 days. */
export const renewalFor = (now: number): Renewal =>
  renewalOf({ accessToken: 'seed', expiresAt: now }, undefined, UNSTATED_RENEWAL, now);

/** Stores a finished authorization for `key`: tokens `at-<account><suffix>` and `rt-…`, valid an hour. */
export async function authorizeIn(store: ConnectionStore, key: ConnectionKey, suffix = ''): Promise<void> {
  const now = Date.now();
  await store.saveAuthorization(
    key,
    {
      accessToken: `at-${key.account}${suffix}`,
      refreshToken: `rt-${key.account}${suffix}`,
      expiresAt: now + 3_600_000,
    },
    { now, renewal: renewalFor(now) },
  );
}
