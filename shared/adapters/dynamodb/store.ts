/**
 * Both stores over one table, with an injected document client: the composition roots build this
 * one object. The jobs live beside it: items.ts (item ↔ record), expressions.ts, cursor.ts,
 * connection-store.ts, connection-queries.ts, session-store.ts; the cache of opened access tokens
 * sits beside the cipher (../crypto/cached-cipher.ts).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConnectSession, OAuthState, ProviderId } from '../../domain/model';
import type { SessionStore, TokenCipher } from '../../domain/ports';
import { type AccessTokenCacheOptions, CachedAccessTokens } from '../crypto/cached-cipher';
import { DynamoDbConnectionStore } from './connection-store';
import { DynamoDbSessionStore } from './session-store';

export type DynamoDbStoreOptions = AccessTokenCacheOptions;

/** The connection store, with the session store's operations delegated to its own object. */
export class DynamoDbStore extends DynamoDbConnectionStore implements SessionStore {
  private readonly sessions: DynamoDbSessionStore;

  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    cipher: TokenCipher,
    options: DynamoDbStoreOptions = {},
  ) {
    super(client, tableName, cipher, new CachedAccessTokens(cipher, options));
    this.sessions = new DynamoDbSessionStore(client, tableName);
  }

  createConnectSession(session: ConnectSession) {
    return this.sessions.createConnectSession(session);
  }

  startConnectAttempt(id: string, now: number, maxAttempts: number) {
    return this.sessions.startConnectAttempt(id, now, maxAttempts);
  }

  completeConnectSession(id: string) {
    return this.sessions.completeConnectSession(id);
  }

  saveOAuthState(state: OAuthState) {
    return this.sessions.saveOAuthState(state);
  }

  consumeOAuthState(
    state: string,
    binding: { provider: ProviderId; browserBindingHash: string; now: number },
  ) {
    return this.sessions.consumeOAuthState(state, binding);
  }

  ping() {
    return this.sessions.ping();
  }
}
