/** `GET /tokens/{provider}/{account}`: the current token of an account, refreshed once when needed. */

import {
  NotFoundError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenExpiredError,
} from './errors';
import type {
  ConnectionKey,
  CredentialSource,
  OAuthConnection,
  PersonalConnection,
  ProviderId,
} from './model';
import type { Clock, ConnectionStore, Logger, ProviderRegistry, SecretStore } from './ports';
import { effectiveCredential } from './precedence';
import type { Refresher } from './refresh';
import { personalTokenSecretName } from './secret-names';
import type { Telemetry } from './telemetry';

/** A token handed out, with what a caller needs to use it; the HTTP layer shapes the contract's answer. */
export interface IssuedToken {
  readonly provider: ProviderId;
  readonly account: string;
  readonly source: CredentialSource;
  readonly accessToken: string;
  /** Epoch ms; undefined for a personal token without expiry. */
  readonly expiresAt: number | undefined;
  readonly apiBaseUrl: string;
  /** Degraded mode: the refresh failed transiently, the stored token is still valid. */
  readonly stale: boolean;
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
  async getToken(key: ConnectionKey, request: TokenRequest): Promise<IssuedToken> {
    const { logger } = this.deps;
    const audit = { provider: key.provider, account: key.account, caller: request.caller };
    try {
      const answer = await this.resolve(key, request);
      logger.info('token handed out', {
        ...audit,
        source: answer.source,
        stale: answer.stale,
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
   * The credential effectiveCredential() chooses; when it is an active OAuth connection that turns
   * out dead while refreshing it, the personal token after all.
   */
  private async resolve(key: ConnectionKey, request: TokenRequest): Promise<IssuedToken> {
    const { store } = this.deps;
    // A provider without an OAuth flow (Xentral) can only have a personal token.
    const hasOAuth = this.deps.providers[key.provider].oauth !== undefined;
    const credential = await effectiveCredential(hasOAuth ? () => store.getOAuth(key) : undefined, () =>
      store.getPersonal(key),
    );
    if (credential === undefined) throw new NotFoundError(`no connection for ${key.provider}/${key.account}`);
    if (credential.source === 'personal') return this.personalAnswer(credential);
    if (credential.status !== 'active') {
      throw new ReauthorizationRequiredError(
        'the provider refused the refresh token; the retailer must connect again',
      );
    }
    try {
      const { connection } = await this.deps.refresher.ensureFresh(credential, {
        minValidSeconds: request.minValidSeconds,
        force: request.forceRefresh,
      });
      return this.oauthAnswer(connection, false);
    } catch (error) {
      // Degraded mode: a transient failure while the stored token is still valid.
      if (
        error instanceof ProviderUnavailableError &&
        !request.forceRefresh &&
        credential.expiresAt > this.deps.clock.now()
      ) {
        return this.oauthAnswer(credential, true);
      }
      // The OAuth connection turned out dead while refreshing it: the precedence falls to the personal token.
      if (!(error instanceof ReauthorizationRequiredError)) throw error;
      const personal = await store.getPersonal(key);
      if (personal === undefined) throw error;
      return this.personalAnswer(personal);
    }
  }

  private oauthAnswer(connection: OAuthConnection, stale: boolean): IssuedToken {
    return {
      provider: connection.provider,
      account: connection.account,
      source: 'oauth',
      accessToken: connection.accessToken,
      expiresAt: connection.expiresAt,
      apiBaseUrl: this.deps.providers[connection.provider].apiBaseUrl(connection.account),
      stale,
    };
  }

  private async personalAnswer(personal: PersonalConnection): Promise<IssuedToken> {
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
      source: 'personal',
      accessToken: secret.value,
      expiresAt: personal.expiresAt,
      apiBaseUrl: this.deps.providers[personal.provider].apiBaseUrl(personal.account),
      stale: false,
    };
  }
}
