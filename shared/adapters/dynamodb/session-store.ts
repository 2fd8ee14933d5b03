/**
 * The session store on the one table: connect sessions and OAuth states, single-use items that
 * DynamoDB TTL removes once they are of no more use. Every use is a conditional write, so exactly
 * one caller wins each race.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ConnectSession, OAuthState, ProviderId } from '../../domain/model';
import type { SessionStore } from '../../domain/ports';
import {
  type Item,
  isConditionFailure,
  sessionItem,
  sessionPk,
  stateItem,
  statePk,
  toSession,
  toState,
} from './items';

/** Connect sessions and OAuth states over an injected document client. */
export class DynamoDbSessionStore implements SessionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createConnectSession(session: ConnectSession) {
    await this.putNew(sessionItem(session));
  }

  async startConnectAttempt(id: string, now: number, maxAttempts: number) {
    try {
      const { Attributes: item = {} } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: sessionPk(id), sk: 'session' },
          UpdateExpression: 'SET #attempts = if_not_exists(#attempts, :zero) + :one',
          ConditionExpression:
            'attribute_exists(pk) AND #expiresAt > :now AND (attribute_not_exists(#attempts) OR #attempts < :max)',
          ExpressionAttributeNames: { '#attempts': 'attempts', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':now': now, ':max': maxAttempts },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toSession(id, item);
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
          Key: { pk: sessionPk(id), sk: 'session' },
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
    await this.putNew(stateItem(state));
  }

  async consumeOAuthState(
    state: string,
    binding: { provider: ProviderId; browserBindingHash: string; now: number },
  ) {
    // The binding is part of the condition: a caller without the browser's cookie value cannot
    // delete the state, so it can neither burn it nor learn what it holds.
    const item = await this.consume(statePk(state), 'state', binding.now, {
      expression: '#provider = :provider AND #binding = :binding',
      names: { '#provider': 'provider', '#binding': 'browserBindingHash' },
      values: { ':provider': binding.provider, ':binding': binding.browserBindingHash },
    });
    return item === undefined ? undefined : toState(state, item);
  }

  async ping() {
    // A key that never exists: an eventually consistent read of nothing, the cheapest call that
    // proves the table answers. Bounded, so a hanging endpoint cannot hold the health check.
    await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: 'health', sk: 'health' } }),
      { abortSignal: AbortSignal.timeout(3_000) },
    );
  }

  /** Writes a single-use item whose key must be new (random ids: a clash is a bug, not a race to win). */
  private async putNew(item: Item): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
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
