/**
 * The connection and session stores on one DynamoDB table (schema.ts). Every write that can race
 * is a conditional update; a failed condition becomes a ConcurrentUpdateError here, so the domain
 * never sees a DynamoDB exception name.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { TokenCipher } from '../../domain/crypto';
import { ConcurrentUpdateError, InvalidRequestError } from '../../domain/errors';
import {
  type ConnectionKey,
  type ConnectSession,
  type CredentialSource,
  EXPIRING_WINDOW_MS,
  type LeasedConnection,
  type OAuthConnection,
  type OAuthRecord,
  type OAuthState,
  type PersonalConnection,
  PROVIDER_IDS,
  type ProviderId,
  type TokenSet,
} from '../../domain/model';
import type {
  ConnectionPage,
  ConnectionStore,
  LeaseRequest,
  ListQuery,
  RefreshFailure,
  SessionStore,
} from '../../domain/ports';
import { ACCOUNT_PATTERN } from '../../domain/validation';
import { sweepShardOf, TABLE } from './schema';

type Item = Record<string, unknown>;

const connectionPk = (key: ConnectionKey): string => `conn#${key.provider}#${key.account}`;

const isConditionFailure = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'ConditionalCheckFailedException' || error.name === 'TransactionCanceledException');

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The metadata of an OAuth item; its sealed tokens stay behind. */
function toOAuthRecord(item: Item): OAuthRecord {
  return {
    provider: item.provider as ProviderId,
    account: String(item.account),
    source: 'oauth',
    status: item.status === 'reauthorization_required' ? 'reauthorization_required' : 'active',
    expiresAt: Number(item.expiresAt),
    version: Number(item.version),
    leaseOwner: str(item.leaseOwner),
    leaseUntil: num(item.leaseUntil),
    connectedAt: Number(item.connectedAt),
    refreshedAt: num(item.refreshedAt),
    reference: str(item.reference),
    scope: str(item.scope),
    failureCount: num(item.failureCount) ?? 0,
    lastError: str(item.lastError),
    lastFailureAt: num(item.lastFailureAt),
    retryAfterSeconds: num(item.retryAfterSeconds),
    unconfirmedAt: num(item.unconfirmedAt),
  };
}

function toPersonal(item: Item): PersonalConnection {
  return {
    provider: item.provider as ProviderId,
    account: String(item.account),
    source: 'personal',
    name: str(item.name),
    expiresAt: num(item.expiresAt),
    secretVersion: String(item.secretVersion),
    expiringNotifiedAt: num(item.expiringNotifiedAt),
    connectedAt: Number(item.connectedAt),
    refreshedAt: num(item.refreshedAt),
    reference: str(item.reference),
  };
}

const toConnection = (item: Item) => (item.sk === 'oauth' ? toOAuthRecord(item) : toPersonal(item));

/** Builds `SET a = :a, … REMOVE b, …` from attribute maps; undefined values are removed. */
function updateExpression(
  set: Record<string, unknown>,
  remove: readonly string[] = [],
  raw: readonly string[] = [],
): Pick<UpdateCommandInput, 'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const assignments: string[] = [...raw];
  const removals: string[] = [];
  for (const [name, value] of Object.entries(set)) {
    names[`#${name}`] = name;
    if (value === undefined) removals.push(`#${name}`);
    else {
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
  }
  for (const name of remove) {
    names[`#${name}`] = name;
    removals.push(`#${name}`);
  }
  const parts = [`SET ${assignments.join(', ')}`];
  if (removals.length > 0) parts.push(`REMOVE ${removals.join(', ')}`);
  return {
    UpdateExpression: parts.join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

const LEASE_AND_FAILURE = [
  'leaseOwner',
  'leaseUntil',
  'lastError',
  'lastFailureAt',
  'retryAfterSeconds',
  'unconfirmedAt',
] as const;

interface Cursor {
  /** Index into the listed partitions (PROVIDER_IDS, or the one filtered provider). */
  p: number;
  /** DynamoDB's LastEvaluatedKey of the by-provider index: table and index key of one connection item. */
  k?: Record<string, unknown>;
}

const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

const foreignCursor = () => new InvalidRequestError('query.next_token', 'is not a token this broker issued');

/**
 * A cursor this store issued for `partitions`. Its start key goes to DynamoDB as ExclusiveStartKey,
 * which refuses a malformed one with a ValidationException (a 500), so every part is checked
 * against the key a page of that partition can end on.
 */
function decodeCursor(token: string, partitions: readonly ProviderId[]): Cursor {
  let cursor: unknown;
  try {
    cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw foreignCursor();
  }
  if (typeof cursor !== 'object' || cursor === null) throw foreignCursor();
  const { p, k, ...rest } = cursor as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
    throw foreignCursor();
  }
  const partition = partitions[p];
  if (partition === undefined) {
    // A cursor of the unfiltered listing used with a provider filter.
    if (partitions.length === 1 && p < PROVIDER_IDS.length) {
      throw new InvalidRequestError('query.next_token', 'does not belong to this provider filter');
    }
    throw foreignCursor();
  }
  if (k === undefined) return { p };
  const startKey = providerIndexKey(k);
  if (startKey === undefined) throw foreignCursor();
  if (startKey.gsiProvider !== partition) {
    if (partitions.length === 1) {
      throw new InvalidRequestError('query.next_token', 'does not belong to this provider filter');
    }
    throw foreignCursor();
  }
  return { p, k: startKey };
}

/**
 * `k` if it has exactly the shape of a connection item's by-provider index key (table key plus
 * index key, each part well formed), else undefined. The parts are not checked against each other:
 * a listing must page past any stored item, whatever it holds.
 */
function providerIndexKey(k: unknown): Record<string, string> | undefined {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) return undefined;
  const { pk, sk, gsiProvider, gsiAccount, ...rest } = k as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return undefined;
  if (typeof pk !== 'string' || typeof sk !== 'string' || typeof gsiProvider !== 'string') return undefined;
  if (typeof gsiAccount !== 'string') return undefined;
  const [prefix, pkProvider, pkAccount, ...pkRest] = pk.split('#');
  const [account, source, ...accountRest] = gsiAccount.split('#');
  const wellFormed =
    prefix === 'conn' &&
    pkRest.length === 0 &&
    isProviderId(pkProvider) &&
    isAccount(pkAccount) &&
    (sk === 'oauth' || sk === 'personal') &&
    isProviderId(gsiProvider) &&
    accountRest.length === 0 &&
    isAccount(account) &&
    (source === 'oauth' || source === 'personal');
  return wellFormed ? { pk, sk, gsiProvider, gsiAccount } : undefined;
}

const isProviderId = (value: string | undefined): value is ProviderId =>
  (PROVIDER_IDS as readonly (string | undefined)[]).includes(value);
const isAccount = (value: string | undefined): boolean => value !== undefined && ACCOUNT_PATTERN.test(value);

export interface DynamoDbStoreOptions {
  /**
   * How long an opened access token is reused for the same sealed value, in ms (default 5 minutes,
   * the cipher's data-key cache time); 0 opens it on every read.
   */
  readonly accessTokenCacheMs?: number;
  /** Clock for that cache (tests). */
  readonly now?: () => number;
}

/** Connections whose opened access token is kept at most (the oldest goes first). */
const ACCESS_TOKEN_CACHE_ENTRIES = 1000;

/**
 * Both stores over one table, with an injected document client. Access and refresh tokens are
 * sealed by `cipher` before every write and opened only where they are needed: the access token
 * on a read for a fetch, the refresh token when the refresh lease is taken. The table, its backups
 * and exports hold no usable token. Listing and deleting never open a token.
 *
 * A warm process answers the same connection's fetches again and again, so the last access token
 * opened per connection is kept (like the personal tokens the cached secret store keeps): AES-GCM
 * costs tens of µs of cold CPU per open, more than the rest of a fetch's own work. An entry serves
 * only the exact sealed value it was opened from, under that connection's key, so a rotated,
 * tampered or moved ciphertext is opened and checked afresh; entries expire with the data-key cache,
 * so a disabled master key stops working within the same bound. Refresh tokens are never kept.
 */
export class DynamoDbStore implements ConnectionStore, SessionStore {
  private readonly accessTokens = new Map<string, { sealed: string; value: string; at: number }>();
  private readonly accessTokenCacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cipher: TokenCipher,
    options: DynamoDbStoreOptions = {},
  ) {
    this.accessTokenCacheMs = options.accessTokenCacheMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The access token kept for a connection, if it was opened from this very sealed value in time. */
  private keptAccessToken(key: ConnectionKey, sealed: unknown): string | undefined {
    const kept = this.accessTokens.get(connectionPk(key));
    if (kept === undefined || kept.sealed !== sealed) return undefined;
    return this.now() - kept.at < this.accessTokenCacheMs ? kept.value : undefined;
  }

  /**
   * Opens a connection's access token and keeps it for the next read of the same sealed value. The
   * requested key, not the item's own attributes, is the AAD: an item copied whole to another row
   * does not open there.
   */
  private async openAccessToken(key: ConnectionKey, sealed: unknown): Promise<string> {
    const value = await this.cipher.open(String(sealed), key);
    if (this.accessTokenCacheMs > 0) {
      const pk = connectionPk(key);
      this.accessTokens.delete(pk);
      if (this.accessTokens.size >= ACCESS_TOKEN_CACHE_ENTRIES) {
        const oldest = this.accessTokens.keys().next();
        if (oldest.done !== true) this.accessTokens.delete(oldest.value);
      }
      this.accessTokens.set(pk, { sealed: String(sealed), value, at: this.now() });
    }
    return value;
  }

  async getOAuth(key: ConnectionKey): Promise<OAuthConnection | undefined> {
    const { Item: item } = await this.client.send(this.getCommand(key, 'oauth'));
    if (item === undefined) return undefined;
    const sealed = item.accessToken;
    return {
      ...toOAuthRecord(item),
      accessToken: this.keptAccessToken(key, sealed) ?? (await this.openAccessToken(key, sealed)),
    };
  }

  async getOAuthRecord(key: ConnectionKey): Promise<OAuthRecord | undefined> {
    const { Item: item } = await this.client.send(this.getCommand(key, 'oauth'));
    return item === undefined ? undefined : toOAuthRecord(item);
  }

  async getPersonal(key: ConnectionKey): Promise<PersonalConnection | undefined> {
    const { Item: item } = await this.client.send(this.getCommand(key, 'personal'));
    return item === undefined ? undefined : toPersonal(item);
  }

  private getCommand(key: ConnectionKey, sk: 'oauth' | 'personal') {
    return new GetCommand({
      TableName: this.tableName,
      Key: { pk: connectionPk(key), sk },
      ConsistentRead: true,
    });
  }

  async saveAuthorization(
    key: ConnectionKey,
    tokens: TokenSet & { refreshToken: string },
    meta: { reference?: string | undefined; now: number },
  ) {
    const pk = connectionPk(key);
    const expression = updateExpression(
      {
        provider: key.provider,
        account: key.account,
        source: 'oauth',
        status: 'active',
        accessToken: await this.cipher.seal(tokens.accessToken, key),
        refreshToken: await this.cipher.seal(tokens.refreshToken, key),
        expiresAt: tokens.expiresAt,
        scope: tokens.scope,
        connectedAt: meta.now,
        refreshedAt: undefined,
        reference: meta.reference,
        failureCount: 0,
        gsiProvider: key.provider,
        gsiAccount: `${key.account}#oauth`,
        sweepShard: sweepShardOf(pk),
        sweepAt: tokens.expiresAt,
      },
      LEASE_AND_FAILURE,
      ['#version = if_not_exists(#version, :zero) + :one'],
    );
    const result = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk, sk: 'oauth' },
        ...expression,
        ExpressionAttributeNames: { ...expression.ExpressionAttributeNames, '#version': 'version' },
        ExpressionAttributeValues: { ...expression.ExpressionAttributeValues, ':zero': 0, ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toOAuthRecord(result.Attributes ?? {});
  }

  async acquireLease(key: ConnectionKey, lease: LeaseRequest): Promise<LeasedConnection> {
    // No time comparison here: whether a lease is abandoned is the refresher's call, made without
    // comparing this host's clock with another's. The write only checks that the lease it replaces
    // (or its absence) is exactly what the refresher looked at.
    const replacing = lease.replacing;
    const item = await this.conditionalUpdate(
      key,
      updateExpression({ leaseOwner: lease.owner, leaseUntil: lease.until }),
      replacing === undefined
        ? '#version = :expected AND #status = :active AND attribute_not_exists(#leaseOwner)'
        : `#version = :expected AND #status = :active AND #leaseOwner = :heldOwner AND ${
            replacing.until === undefined ? 'attribute_not_exists(#leaseUntil)' : '#leaseUntil = :heldUntil'
          }`,
      {
        names: {
          '#version': 'version',
          '#status': 'status',
          '#leaseOwner': 'leaseOwner',
          ...(replacing === undefined ? {} : { '#leaseUntil': 'leaseUntil' }),
        },
        values: {
          ':expected': lease.version,
          ':active': 'active',
          ...(replacing === undefined ? {} : { ':heldOwner': replacing.owner }),
          ...(replacing?.until === undefined ? {} : { ':heldUntil': replacing.until }),
        },
      },
    );
    // The refresh token of the version just leased, from the write that took the lease: the only
    // place a refresh token is ever opened.
    const [accessToken, refreshToken] = await Promise.all([
      this.keptAccessToken(key, item.accessToken) ?? this.openAccessToken(key, item.accessToken),
      this.cipher.open(String(item.refreshToken), key),
    ]);
    return { ...toOAuthRecord(item), accessToken, refreshToken };
  }

  async completeRefresh(
    key: ConnectionKey,
    refresh: { version: number; tokens: TokenSet; now: number },
  ): Promise<OAuthConnection> {
    const { tokens } = refresh;
    const set: Record<string, unknown> = {
      status: 'active',
      accessToken: await this.cipher.seal(tokens.accessToken, key),
      expiresAt: tokens.expiresAt,
      sweepAt: tokens.expiresAt,
      sweepShard: sweepShardOf(connectionPk(key)),
      refreshedAt: refresh.now,
      failureCount: 0,
    };
    // No refresh_token in the answer: the stored one stays. A new one replaces it in this same write.
    if (tokens.refreshToken !== undefined)
      set.refreshToken = await this.cipher.seal(tokens.refreshToken, key);
    if (tokens.scope !== undefined) set.scope = tokens.scope;
    const expression = updateExpression(set, LEASE_AND_FAILURE, ['#version = #version + :one']);
    const item = await this.conditionalUpdate(key, expression, '#version = :expected', {
      names: { '#version': 'version' },
      values: { ':expected': refresh.version, ':one': 1 },
    });
    // The access token this write stored is the one just sealed: no need to open it again.
    return { ...toOAuthRecord(item), accessToken: tokens.accessToken };
  }

  async recordRefreshFailure(key: ConnectionKey, failure: RefreshFailure) {
    const set: Record<string, unknown> = {
      lastError: failure.error,
      lastFailureAt: failure.now,
      retryAfterSeconds: failure.retryAfterSeconds,
    };
    // Set only, never cleared here: a later plain failure must not forget that a rotation may be lost.
    if (failure.unconfirmed === true) set.unconfirmedAt = failure.now;
    const raw = ['#failureCount = if_not_exists(#failureCount, :zero) + :one'];
    const { rotated } = failure;
    if (rotated !== undefined) {
      // The provider rotated in an answer the broker cannot otherwise use: keep the new refresh
      // token in this same write, fenced by version like completeRefresh (not by the lease, which
      // may have run out), and move the version on so no lease of the old one can use the old token.
      set.refreshToken = await this.cipher.seal(rotated.refreshToken, key);
      set.unconfirmedAt = undefined;
      raw.push('#version = #version + :one');
    }
    const expression = updateExpression(set, ['leaseOwner', 'leaseUntil'], raw);
    try {
      await this.conditionalUpdate(
        key,
        expression,
        rotated === undefined ? '#owner = :owner' : '#version = :expected',
        rotated === undefined
          ? {
              names: { '#owner': 'leaseOwner', '#failureCount': 'failureCount' },
              values: { ':owner': failure.owner, ':zero': 0, ':one': 1 },
            }
          : {
              names: { '#version': 'version', '#failureCount': 'failureCount' },
              values: { ':expected': rotated.version, ':zero': 0, ':one': 1 },
            },
      );
    } catch (error) {
      // The lease passed to someone else meanwhile: their outcome is the one to keep. A rotated
      // token whose version moved on is older than what is stored (the newer write used it).
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      if (rotated !== undefined) throw error;
    }
  }

  async markReauthorizationRequired(
    key: ConnectionKey,
    mark: { version: number; error: string; now: number },
  ) {
    const expression = updateExpression(
      { status: 'reauthorization_required', lastError: mark.error, lastFailureAt: mark.now },
      ['leaseOwner', 'leaseUntil', 'retryAfterSeconds', 'sweepShard', 'sweepAt'],
    );
    const item = await this.conditionalUpdate(key, expression, '#version = :expected', {
      names: { '#version': 'version' },
      values: { ':expected': mark.version },
    });
    return toOAuthRecord(item);
  }

  /** A conditional update of the OAuth item; resolves the item as the write left it (tokens sealed). */
  private async conditionalUpdate(
    key: ConnectionKey,
    expression: ReturnType<typeof updateExpression>,
    condition: string,
    extra: { names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<Item> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: connectionPk(key), sk: 'oauth' },
          UpdateExpression: expression.UpdateExpression,
          ConditionExpression: `attribute_exists(pk) AND ${condition}`,
          ExpressionAttributeNames: { ...expression.ExpressionAttributeNames, ...extra.names },
          ExpressionAttributeValues: { ...expression.ExpressionAttributeValues, ...extra.values },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes ?? {};
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new ConcurrentUpdateError(`${key.provider}/${key.account} changed meanwhile`, { cause: error });
      }
      throw error;
    }
  }

  async putPersonal(connection: PersonalConnection) {
    const item: Item = {
      pk: connectionPk(connection),
      sk: 'personal',
      provider: connection.provider,
      account: connection.account,
      source: 'personal',
      secretVersion: connection.secretVersion,
      connectedAt: connection.connectedAt,
      gsiProvider: connection.provider,
      gsiAccount: `${connection.account}#personal`,
    };
    if (connection.name !== undefined) item.name = connection.name;
    if (connection.expiresAt !== undefined) {
      item.expiresAt = connection.expiresAt;
      if (connection.expiringNotifiedAt === undefined) {
        // The sweep looks at a personal token when its expiring window opens.
        item.sweepShard = sweepShardOf(String(item.pk));
        item.sweepAt = connection.expiresAt - EXPIRING_WINDOW_MS;
      } else item.expiringNotifiedAt = connection.expiringNotifiedAt;
    }
    if (connection.refreshedAt !== undefined) item.refreshedAt = connection.refreshedAt;
    if (connection.reference !== undefined) item.reference = connection.reference;
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
    return connection;
  }

  async markExpiringNotified(key: ConnectionKey, now: number) {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: connectionPk(key), sk: 'personal' },
          UpdateExpression: 'SET expiringNotifiedAt = :now REMOVE sweepShard, sweepAt',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
    } catch (error) {
      // Deleted meanwhile: nothing left to announce.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Counted on the sparse, keys-only sweep index, which holds exactly the active OAuth connections
   * (and personal tokens nearing expiry, filtered out here): a few bytes per store instead of whole
   * items, so a listing stays cheap however many stores there are. A connection marked
   * reauthorization_required has left the index: its store most likely disconnected the app.
   */
  async countOAuthConnections(provider: ProviderId) {
    const counts = await Promise.all(
      Array.from({ length: TABLE.sweepShards }, async (_, shard) => {
        let count = 0;
        const pages = this.sweepIndexPages(shard, {
          FilterExpression: '#sk = :oauth AND begins_with(#pk, :prefix)',
          ExpressionAttributeNames: { '#sk': 'sk', '#pk': 'pk' },
          ExpressionAttributeValues: {
            ':oauth': 'oauth',
            ':prefix': connectionPk({ provider, account: '' }),
          },
          Select: 'COUNT',
        });
        for await (const page of pages) count += page.Count ?? 0;
        return count;
      }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Every page of a query of one shard of the sweep index; `extra` adds conditions and names. */
  private async *sweepIndexPages(
    shard: number,
    extra: {
      readonly sortKeyCondition?: string;
      readonly FilterExpression?: string;
      readonly ExpressionAttributeNames?: Record<string, string>;
      readonly ExpressionAttributeValues?: Record<string, unknown>;
      readonly Select?: 'COUNT';
    },
  ) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE.sweepIndex.name,
          KeyConditionExpression: `#shard = :shard${extra.sortKeyCondition === undefined ? '' : ` AND ${extra.sortKeyCondition}`}`,
          ...(extra.FilterExpression === undefined ? {} : { FilterExpression: extra.FilterExpression }),
          ExpressionAttributeNames: {
            '#shard': TABLE.sweepIndex.partitionKey,
            ...extra.ExpressionAttributeNames,
          },
          ExpressionAttributeValues: { ':shard': shard, ...extra.ExpressionAttributeValues },
          ...(extra.Select === undefined ? {} : { Select: extra.Select }),
          ExclusiveStartKey: startKey,
        }),
      );
      yield result;
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  async deletePersonal(key: ConnectionKey) {
    const result = await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: connectionPk(key), sk: 'personal' },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes !== undefined;
  }

  async deleteAll(key: ConnectionKey) {
    const removed: { oauth?: OAuthRecord; personal?: PersonalConnection } = {};
    for (const sk of ['oauth', 'personal'] as const) {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: connectionPk(key), sk },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (result.Attributes === undefined) continue;
      // Metadata only: the removed tokens are never opened.
      if (sk === 'oauth') removed.oauth = toOAuthRecord(result.Attributes);
      else removed.personal = toPersonal(result.Attributes);
    }
    this.accessTokens.delete(connectionPk(key));
    return removed;
  }

  async list(query: ListQuery): Promise<ConnectionPage> {
    const partitions = query.provider === undefined ? PROVIDER_IDS : [query.provider];
    const cursor = query.cursor === undefined ? { p: 0 } : decodeCursor(query.cursor, partitions);
    const filter = statusFilter(query.status, query.now);
    const items: (OAuthRecord | PersonalConnection)[] = [];
    let p = cursor.p;
    let startKey = cursor.k;
    while (p < partitions.length && items.length < query.limit) {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        IndexName: TABLE.providerIndex.name,
        KeyConditionExpression: '#gp = :gp',
        ExpressionAttributeNames: { '#gp': TABLE.providerIndex.partitionKey, ...filter?.names },
        ExpressionAttributeValues: { ':gp': partitions[p], ...filter?.values },
        // Limit counts items read before the filter, so a page never overshoots.
        Limit: query.limit - items.length,
        ExclusiveStartKey: startKey,
      };
      if (filter !== undefined) input.FilterExpression = filter.expression;
      const result = await this.client.send(new QueryCommand(input));
      for (const item of result.Items ?? []) items.push(toConnection(item));
      startKey = result.LastEvaluatedKey;
      if (startKey === undefined) p++;
    }
    const more = p < partitions.length;
    return { items, nextCursor: more ? encodeCursor({ p, k: startKey }) : undefined };
  }

  async *findDue(before: number): AsyncIterable<ConnectionKey & { source: CredentialSource }> {
    for (let shard = 0; shard < TABLE.sweepShards; shard++) {
      const pages = this.sweepIndexPages(shard, {
        sortKeyCondition: '#at < :before',
        ExpressionAttributeNames: { '#at': TABLE.sweepIndex.sortKey },
        ExpressionAttributeValues: { ':before': before },
      });
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const [, provider, account] = String(item.pk).split('#');
          const source: CredentialSource = item.sk === 'personal' ? 'personal' : 'oauth';
          if (provider !== undefined && account !== undefined) {
            yield { provider: provider as ProviderId, account, source };
          }
        }
      }
    }
  }

  async createConnectSession(session: ConnectSession) {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `session#${session.id}`,
          sk: 'session',
          provider: session.provider,
          returnTo: session.returnTo,
          reference: session.reference,
          createdAt: session.createdAt,
          expiresAt: session.expiresAt,
          keepUntil: session.keepUntil,
          attempts: 0,
          [TABLE.ttlAttribute]: Math.ceil(session.keepUntil / 1000),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async startConnectAttempt(id: string, now: number, maxAttempts: number) {
    try {
      const { Attributes: item = {} } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `session#${id}`, sk: 'session' },
          UpdateExpression: 'SET #attempts = if_not_exists(#attempts, :zero) + :one',
          ConditionExpression:
            'attribute_exists(pk) AND #expiresAt > :now AND (attribute_not_exists(#attempts) OR #attempts < :max)',
          ExpressionAttributeNames: { '#attempts': 'attempts', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':now': now, ':max': maxAttempts },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return {
        id,
        provider: item.provider as ProviderId,
        returnTo: str(item.returnTo),
        reference: str(item.reference),
        createdAt: Number(item.createdAt),
        expiresAt: Number(item.expiresAt),
        keepUntil: num(item.keepUntil) ?? Number(item.expiresAt),
      };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async completeConnectSession(id: string) {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: `session#${id}`, sk: 'session' },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async saveOAuthState(state: OAuthState) {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `state#${state.state}`,
          sk: 'state',
          provider: state.provider,
          sessionId: state.sessionId,
          browserBindingHash: state.browserBindingHash,
          codeVerifier: state.codeVerifier,
          returnTo: state.returnTo,
          reference: state.reference,
          expiresAt: state.expiresAt,
          [TABLE.ttlAttribute]: Math.ceil(state.expiresAt / 1000),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeOAuthState(
    state: string,
    binding: { provider: ProviderId; browserBindingHash: string; now: number },
  ) {
    // The binding is part of the condition: a caller without the browser's cookie value cannot
    // delete the state, so it can neither burn it nor learn what it holds.
    const item = await this.consume(`state#${state}`, 'state', binding.now, {
      expression: '#provider = :provider AND #binding = :binding',
      names: { '#provider': 'provider', '#binding': 'browserBindingHash' },
      values: { ':provider': binding.provider, ':binding': binding.browserBindingHash },
    });
    return item === undefined
      ? undefined
      : {
          state,
          provider: item.provider as ProviderId,
          sessionId: String(item.sessionId),
          browserBindingHash: String(item.browserBindingHash),
          codeVerifier: str(item.codeVerifier),
          returnTo: str(item.returnTo),
          reference: str(item.reference),
          expiresAt: Number(item.expiresAt),
        };
  }

  async ping() {
    // A key that never exists: an eventually consistent read of nothing, the cheapest call that
    // proves the table answers. Bounded, so a hanging endpoint cannot hold the health check.
    await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: 'health', sk: 'health' } }),
      { abortSignal: AbortSignal.timeout(3_000) },
    );
  }

  /** Deletes an unexpired single-use item (that also meets `also`) and returns it; exactly one caller ever gets it. */
  private async consume(
    pk: string,
    sk: string,
    now: number,
    also?: { expression: string; names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<Item | undefined> {
    try {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk, sk },
          ConditionExpression: `attribute_exists(pk) AND #expiresAt > :now${also === undefined ? '' : ` AND ${also.expression}`}`,
          ExpressionAttributeNames: { '#expiresAt': 'expiresAt', ...also?.names },
          ExpressionAttributeValues: { ':now': now, ...also?.values },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return result.Attributes;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}

function statusFilter(
  status: ListQuery['status'],
  now: number,
): { expression: string; names: Record<string, string>; values: Record<string, unknown> } | undefined {
  if (status === undefined) return undefined;
  const names = { '#source': 'source', '#status': 'status', '#expiresAt': 'expiresAt' };
  const personal = { ':personal': 'personal', ':now': now, ':window': now + EXPIRING_WINDOW_MS };
  switch (status) {
    case 'active':
      return {
        expression:
          '(#source = :oauth AND #status = :active) OR (#source = :personal AND (attribute_not_exists(#expiresAt) OR #expiresAt > :window))',
        names,
        values: { ':oauth': 'oauth', ':active': 'active', ...personal },
      };
    case 'reauthorization_required':
      return {
        expression: '#status = :reauth',
        names: { '#status': 'status' },
        values: { ':reauth': status },
      };
    case 'expiring':
      return {
        expression: '#source = :personal AND #expiresAt > :now AND #expiresAt <= :window',
        names: { '#source': 'source', '#expiresAt': 'expiresAt' },
        values: personal,
      };
    case 'expired':
      return {
        expression: '#source = :personal AND #expiresAt <= :now',
        names: { '#source': 'source', '#expiresAt': 'expiresAt' },
        values: { ':personal': 'personal', ':now': now },
      };
  }
}
