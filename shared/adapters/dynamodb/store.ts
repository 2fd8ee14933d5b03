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
  type OAuthConnection,
  type OAuthState,
  type PersonalConnection,
  PROVIDER_IDS,
  type ProviderId,
  type TokenSet,
} from '../../domain/model';
import type { ConnectionPage, ConnectionStore, ListQuery, SessionStore } from '../../domain/ports';
import { TABLE } from './schema';

type Item = Record<string, unknown>;

const connectionPk = (key: ConnectionKey): string => `conn#${key.provider}#${key.account}`;

/** FNV-1a: spreads accounts over the sweep index's shards, stable across processes. */
function shardOf(pk: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pk.length; i++) {
    hash ^= pk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % TABLE.sweepShards;
}

const isConditionFailure = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'ConditionalCheckFailedException' || error.name === 'TransactionCanceledException');

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function toOAuth(item: Item): OAuthConnection {
  return {
    provider: item.provider as ProviderId,
    account: String(item.account),
    source: 'oauth',
    status: item.status === 'reauthorization_required' ? 'reauthorization_required' : 'active',
    accessToken: String(item.accessToken),
    refreshToken: String(item.refreshToken),
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

const toConnection = (item: Item) => (item.sk === 'oauth' ? toOAuth(item) : toPersonal(item));

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
] as const;

interface Cursor {
  /** Index into PROVIDER_IDS of the partition being read. */
  p: number;
  k?: Record<string, unknown>;
}

const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

function decodeCursor(token: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    if (Number.isInteger(cursor.p) && cursor.p >= 0 && cursor.p < PROVIDER_IDS.length) return cursor;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidRequestError('next_token', 'is not a token this broker issued');
}

/**
 * Both stores over one table, with an injected document client. Access and refresh tokens are
 * sealed by `cipher` before every write and opened after every read that needs them: the table,
 * its backups and exports hold no usable token. Listing never opens a token.
 */
export class DynamoDbStore implements ConnectionStore, SessionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cipher: TokenCipher,
  ) {}

  /** The connection of an item with its tokens opened. */
  private async opened(item: Item): Promise<OAuthConnection> {
    const sealed = toOAuth(item);
    const [accessToken, refreshToken] = await Promise.all([
      this.cipher.open(sealed.accessToken, sealed),
      this.cipher.open(sealed.refreshToken, sealed),
    ]);
    return { ...sealed, accessToken, refreshToken };
  }

  async getCredentials(key: ConnectionKey) {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': connectionPk(key) },
        ConsistentRead: true,
      }),
    );
    const found: { oauth?: OAuthConnection; personal?: PersonalConnection } = {};
    for (const item of result.Items ?? []) {
      if (item.sk === 'oauth') found.oauth = await this.opened(item);
      else if (item.sk === 'personal') found.personal = toPersonal(item);
    }
    return found;
  }

  async getOAuth(key: ConnectionKey) {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: connectionPk(key), sk: 'oauth' },
        ConsistentRead: true,
      }),
    );
    return result.Item === undefined ? undefined : this.opened(result.Item);
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
        sweepShard: shardOf(pk),
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
    return this.opened(result.Attributes ?? {});
  }

  async acquireLease(
    key: ConnectionKey,
    lease: { version: number; owner: string; until: number; now: number },
  ) {
    return this.conditionalUpdate(
      key,
      updateExpression({ leaseOwner: lease.owner, leaseUntil: lease.until }),
      '#version = :expected AND #status = :active AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)',
      {
        names: { '#version': 'version', '#status': 'status', '#leaseUntil': 'leaseUntil' },
        values: { ':expected': lease.version, ':active': 'active', ':now': lease.now },
      },
    );
  }

  async completeRefresh(key: ConnectionKey, refresh: { version: number; tokens: TokenSet; now: number }) {
    const { tokens } = refresh;
    const set: Record<string, unknown> = {
      status: 'active',
      accessToken: await this.cipher.seal(tokens.accessToken, key),
      expiresAt: tokens.expiresAt,
      sweepAt: tokens.expiresAt,
      sweepShard: shardOf(connectionPk(key)),
      refreshedAt: refresh.now,
      failureCount: 0,
    };
    // No refresh_token in the answer: the stored one stays. A new one replaces it in this same write.
    if (tokens.refreshToken !== undefined)
      set.refreshToken = await this.cipher.seal(tokens.refreshToken, key);
    if (tokens.scope !== undefined) set.scope = tokens.scope;
    const expression = updateExpression(set, LEASE_AND_FAILURE, ['#version = #version + :one']);
    return this.conditionalUpdate(key, expression, '#version = :expected', {
      names: { '#version': 'version' },
      values: { ':expected': refresh.version, ':one': 1 },
    });
  }

  async recordRefreshFailure(
    key: ConnectionKey,
    failure: { owner: string; error: string; retryAfterSeconds?: number | undefined; now: number },
  ) {
    const expression = updateExpression(
      { lastError: failure.error, lastFailureAt: failure.now, retryAfterSeconds: failure.retryAfterSeconds },
      ['leaseOwner', 'leaseUntil'],
      ['#failureCount = if_not_exists(#failureCount, :zero) + :one'],
    );
    try {
      await this.conditionalUpdate(key, expression, '#owner = :owner', {
        names: { '#owner': 'leaseOwner', '#failureCount': 'failureCount' },
        values: { ':owner': failure.owner, ':zero': 0, ':one': 1 },
      });
    } catch (error) {
      // The lease passed to someone else meanwhile: their outcome is the one to keep.
      if (!(error instanceof ConcurrentUpdateError)) throw error;
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
    return this.conditionalUpdate(key, expression, '#version = :expected', {
      names: { '#version': 'version' },
      values: { ':expected': mark.version },
    });
  }

  private async conditionalUpdate(
    key: ConnectionKey,
    expression: ReturnType<typeof updateExpression>,
    condition: string,
    extra: { names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<OAuthConnection> {
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
      return await this.opened(result.Attributes ?? {});
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
        item.sweepShard = shardOf(String(item.pk));
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

  async countOAuthConnections(provider: ProviderId) {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE.providerIndex.name,
          KeyConditionExpression: '#gp = :gp',
          FilterExpression: '#source = :oauth',
          ExpressionAttributeNames: { '#gp': TABLE.providerIndex.partitionKey, '#source': 'source' },
          ExpressionAttributeValues: { ':gp': provider, ':oauth': 'oauth' },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      count += result.Count ?? 0;
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return count;
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
    const removed: { oauth?: OAuthConnection; personal?: PersonalConnection } = {};
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
      if (sk === 'oauth') removed.oauth = toOAuth(result.Attributes);
      else removed.personal = toPersonal(result.Attributes);
    }
    return removed;
  }

  async list(query: ListQuery): Promise<ConnectionPage> {
    const cursor = query.cursor === undefined ? { p: 0 } : decodeCursor(query.cursor);
    const partitions = query.provider === undefined ? PROVIDER_IDS : [query.provider];
    if (query.provider !== undefined && cursor.p !== 0) {
      throw new InvalidRequestError('next_token', 'does not belong to this provider filter');
    }
    const filter = statusFilter(query.status, query.now);
    const items: (OAuthConnection | PersonalConnection)[] = [];
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
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: TABLE.sweepIndex.name,
            KeyConditionExpression: '#shard = :shard AND #at < :before',
            ExpressionAttributeNames: {
              '#shard': TABLE.sweepIndex.partitionKey,
              '#at': TABLE.sweepIndex.sortKey,
            },
            ExpressionAttributeValues: { ':shard': shard, ':before': before },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of result.Items ?? []) {
          const [, provider, account] = String(item.pk).split('#');
          const source: CredentialSource = item.sk === 'personal' ? 'personal' : 'oauth';
          if (provider !== undefined && account !== undefined) {
            yield { provider: provider as ProviderId, account, source };
          }
        }
        startKey = result.LastEvaluatedKey;
      } while (startKey !== undefined);
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
          [TABLE.ttlAttribute]: Math.ceil(session.expiresAt / 1000),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeConnectSession(id: string, now: number) {
    const item = await this.consume(`session#${id}`, 'session', now);
    return item === undefined
      ? undefined
      : {
          id,
          provider: item.provider as ProviderId,
          returnTo: str(item.returnTo),
          reference: str(item.reference),
          createdAt: Number(item.createdAt),
          expiresAt: Number(item.expiresAt),
        };
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
          returnTo: state.returnTo,
          reference: state.reference,
          expiresAt: state.expiresAt,
          [TABLE.ttlAttribute]: Math.ceil(state.expiresAt / 1000),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeOAuthState(state: string, now: number) {
    const item = await this.consume(`state#${state}`, 'state', now);
    return item === undefined
      ? undefined
      : {
          state,
          provider: item.provider as ProviderId,
          sessionId: String(item.sessionId),
          browserBindingHash: String(item.browserBindingHash),
          returnTo: str(item.returnTo),
          reference: str(item.reference),
          expiresAt: Number(item.expiresAt),
        };
  }

  /** Deletes an unexpired single-use item and returns it; exactly one caller ever gets it. */
  private async consume(pk: string, sk: string, now: number): Promise<Item | undefined> {
    try {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk, sk },
          ConditionExpression: 'attribute_exists(pk) AND expiresAt > :now',
          ExpressionAttributeValues: { ':now': now },
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
