/**
 * The connection store on the one table (schema.ts): every write that can race is a conditional
 * update, and a failed condition becomes a ConcurrentUpdateError here, so the domain never sees a
 * DynamoDB exception name. Access and refresh tokens are sealed by the cipher before every write and
 * opened only where they are needed: the access token on a read for a fetch (through the cache of
 * opened access tokens), the refresh token when the refresh lease is taken. The table, its backups
 * and exports hold no usable token. Listing and deleting never open a token.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../domain/errors';
import type {
  ConnectionKey,
  LeasedConnection,
  OAuthConnection,
  OAuthRecord,
  PersonalConnection,
  ProviderId,
  TokenSet,
} from '../../domain/model';
import type { ConnectionStore, LeaseRequest, RefreshFailure, TokenCipher } from '../../domain/ports';
import { type Renewal, refreshDeadline } from '../../domain/renewal';
import type { CachedAccessTokens } from '../crypto/cached-cipher';
import { ConnectionQueries } from './connection-queries';
import { LEASE_AND_FAILURE, type UpdateParts, updateExpression } from './expressions';
import {
  connectionPk,
  type Item,
  isConditionFailure,
  personalItem,
  toOAuthRecord,
  toPersonal,
} from './items';
import { sweepShardOf } from './schema';

/** Reads and conditional writes of connection items; the listing and sweep queries come from ConnectionQueries. */
export class DynamoDbConnectionStore extends ConnectionQueries implements ConnectionStore {
  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    private readonly cipher: TokenCipher,
    private readonly accessTokens: CachedAccessTokens,
    providerIds?: readonly ProviderId[],
  ) {
    super(client, tableName, providerIds);
  }

  async getOAuth(key: ConnectionKey): Promise<OAuthConnection | undefined> {
    const { Item: item } = await this.client.send(this.getCommand(key, 'oauth'));
    if (item === undefined) return undefined;
    return {
      ...toOAuthRecord(item),
      accessToken: await this.accessTokens.open(String(item.accessToken), key),
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
    meta: { reference?: string | undefined; renewal: Renewal; now: number },
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
        refreshExpiresAt: meta.renewal.refreshExpiresAt,
        renewBy: meta.renewal.renewBy,
        scope: tokens.scope,
        connectedAt: meta.now,
        refreshedAt: undefined,
        reference: meta.reference,
        failureCount: 0,
        gsiProvider: key.provider,
        gsiAccount: `${key.account}#oauth`,
        sweepShard: sweepShardOf(pk),
        sweepAt: refreshDeadline({ expiresAt: tokens.expiresAt, renewBy: meta.renewal.renewBy }),
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
      this.accessTokens.open(String(item.accessToken), key),
      this.cipher.open(String(item.refreshToken), key),
    ]);
    return { ...toOAuthRecord(item), accessToken, refreshToken };
  }

  async completeRefresh(
    key: ConnectionKey,
    refresh: { version: number; tokens: TokenSet; renewal: Renewal; now: number },
  ): Promise<OAuthConnection> {
    const { tokens, renewal } = refresh;
    const set: Record<string, unknown> = {
      status: 'active',
      accessToken: await this.cipher.seal(tokens.accessToken, key),
      expiresAt: tokens.expiresAt,
      // undefined removes it: the refresh token now held has no stated expiry.
      refreshExpiresAt: renewal.refreshExpiresAt,
      renewBy: renewal.renewBy,
      sweepAt: refreshDeadline({ expiresAt: tokens.expiresAt, renewBy: renewal.renewBy }),
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
    expression: UpdateParts,
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
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: personalItem(connection) }));
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
    this.accessTokens.forget(key);
    return removed;
  }
}
