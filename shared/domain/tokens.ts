/** `GET /tokens/{provider}/{account}`: the current token of an account, refreshed once when needed. */

import type { ProviderRegistry } from '../providers/types';
import {
  NotFoundError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenExpiredError,
} from './errors';
import type { ConnectionKey, OAuthConnection, PersonalConnection } from './model';
import type { Clock, ConnectionStore, Logger, SecretStore } from './ports';
import type { Refresher } from './refresh';
import { personalTokenSecretName } from './secret-names';
import type { Telemetry } from './telemetry';

/** The token route's answer (the contract's "Token response"). */
export interface TokenResponse {
  provider: string;
  account: string;
  access_token: string;
  token_type: 'Bearer';
  expires_at: string | null;
  source: 'oauth' | 'personal';
  api_base_url: string;
  /** Only in degraded mode: the refresh failed transiently, the stored token is still valid. */
  stale?: true;
}

export interface TokenRequest {
  readonly minValidSeconds: number;
  readonly forceRefresh: boolean;
  /** Who asked (IAM principal or API key id), for the audit log. */
  readonly caller: string;
}

export interface TokenServiceDeps {
  readonly store: ConnectionStore;
  readonly secrets: SecretStore;
  readonly refresher: Refresher;
  readonly providers: ProviderRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secretPrefix: string;
  readonly telemetry: Telemetry;
}

/**
 * Hands out tokens: an active OAuth connection first, else the personal token. Each credential is
 * read only when the answer can depend on it, so the common case (an active, fresh OAuth
 * connection) is one read and one token opened.
 */
export class TokenService {
  constructor(private readonly deps: TokenServiceDeps) {}

  /** The current token for an account, or a domain error saying why there is none. */
  async getToken(key: ConnectionKey, request: TokenRequest): Promise<TokenResponse> {
    const { logger } = this.deps;
    const audit = { provider: key.provider, account: key.account, caller: request.caller };
    try {
      const answer = await this.resolve(key, request);
      logger.info('token handed out', {
        ...audit,
        source: answer.source,
        stale: answer.stale === true,
        outcome: 'issued',
      });
      this.deps.telemetry.count('TokenFetched');
      return answer;
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'internal';
      logger.info('token refused', { ...audit, outcome: code });
      this.deps.telemetry.count('TokenRefused');
      throw error;
    }
  }

  /**
   * The contract's precedence: an active OAuth connection wins over a personal token; a personal
   * token is used when there is no active one, or when the OAuth connection turns out dead while
   * refreshing it.
   */
  private async resolve(key: ConnectionKey, request: TokenRequest): Promise<TokenResponse> {
    const { store } = this.deps;
    // A provider without an OAuth flow (Xentral) can only have a personal token.
    const oauth =
      this.deps.providers[key.provider].oauth === undefined ? undefined : await store.getOAuth(key);
    if (oauth?.status === 'active') {
      try {
        const { connection } = await this.deps.refresher.ensureFresh(oauth, {
          minValidSeconds: request.minValidSeconds,
          force: request.forceRefresh,
        });
        return this.oauthAnswer(connection);
      } catch (error) {
        // Degraded mode: a transient failure while the stored token is still valid.
        if (
          error instanceof ProviderUnavailableError &&
          !request.forceRefresh &&
          oauth.expiresAt > this.deps.clock.now()
        ) {
          return { ...this.oauthAnswer(oauth), stale: true };
        }
        if (!(error instanceof ReauthorizationRequiredError)) throw error;
        const personal = await store.getPersonal(key);
        if (personal === undefined) throw error;
        return this.personalAnswer(personal);
      }
    }
    const personal = await store.getPersonal(key);
    if (personal !== undefined) return this.personalAnswer(personal);
    if (oauth !== undefined) {
      throw new ReauthorizationRequiredError(
        'the provider refused the refresh token; the retailer must connect again',
      );
    }
    throw new NotFoundError(`no connection for ${key.provider}/${key.account}`);
  }

  private oauthAnswer(connection: OAuthConnection): TokenResponse {
    return {
      provider: connection.provider,
      account: connection.account,
      access_token: connection.accessToken,
      token_type: 'Bearer',
      expires_at: new Date(connection.expiresAt).toISOString(),
      source: 'oauth',
      api_base_url: this.deps.providers[connection.provider].apiBaseUrl(connection.account),
    };
  }

  private async personalAnswer(personal: PersonalConnection): Promise<TokenResponse> {
    if (personal.expiresAt !== undefined && personal.expiresAt <= this.deps.clock.now()) {
      throw new TokenExpiredError(
        `the personal token expired at ${new Date(personal.expiresAt).toISOString()}; store a new one`,
      );
    }
    const secret = await this.deps.secrets.get(
      personalTokenSecretName(this.deps.secretPrefix, personal),
      personal.secretVersion,
    );
    // Deleted between the metadata read and this one.
    if (secret === undefined)
      throw new NotFoundError(`no connection for ${personal.provider}/${personal.account}`);
    return {
      provider: personal.provider,
      account: personal.account,
      access_token: secret.value,
      token_type: 'Bearer',
      expires_at: personal.expiresAt === undefined ? null : new Date(personal.expiresAt).toISOString(),
      source: 'personal',
      api_base_url: this.deps.providers[personal.provider].apiBaseUrl(personal.account),
    };
  }
}
