/**
 * The retailer's connect flow: a backend creates a single-use connect session, the retailer's
 * browser opens it and is sent to the provider with a fresh `state` bound to that browser by a
 * cookie, and the provider's callback is checked and exchanged for tokens.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HttpClient, OAuthClientCredentials, ProviderRegistry } from '../providers/types';
import { InvalidRequestError, ProviderError } from './errors';
import type { ConnectionKey, ConnectSession, ProviderId } from './model';
import type { Clock, ConnectionStore, Logger, SessionStore } from './ports';
import { GRANT_RETRY_POLICY, withRetries } from './retry';
import type { Telemetry } from './telemetry';
import { ACCOUNT_PATTERN } from './validation';

/** A connect session and an authorization attempt live this long (the contract: 10 minutes). */
export const CONNECT_SESSION_TTL_MS = 10 * 60 * 1000;
const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** 32 random bytes as base64url: 43 characters, 256 bits. */
const randomToken = (): string => randomBytes(32).toString('base64url');
const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The cookie that binds one authorization attempt to the browser that started it. */
export const bindingCookieName = (state: string): string =>
  `tb_bind_${sha256(state).subarray(0, 9).toString('base64url')}`;

export interface ConnectDeps {
  readonly store: ConnectionStore;
  readonly sessions: SessionStore;
  readonly providers: ProviderRegistry;
  readonly credentials: (provider: ProviderId) => Promise<OAuthClientCredentials>;
  /** The broker's client id at a provider; undefined when that provider is not configured. */
  readonly clientId: (provider: ProviderId) => string | undefined;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly publicUrl: string;
  readonly returnToOrigins: readonly string[];
  readonly telemetry: Telemetry;
  /** Stores connected to a provider's app (for the unapproved-app warning). */
  readonly countConnected: (provider: ProviderId) => Promise<number>;
}

/** The broker warns this many stores before an unapproved app's limit (25 of Lightspeed's 30). */
export const UNAPPROVED_APP_WARNING_MARGIN = 5;

export type CallbackOutcome =
  | { kind: 'connected'; key: ConnectionKey; returnTo?: string | undefined; reference?: string | undefined }
  | { kind: 'denied'; returnTo?: string | undefined; reference?: string | undefined; error: string }
  | { kind: 'invalid'; reason: string }
  | { kind: 'failed'; reason: string };

export interface CallbackInput {
  readonly provider: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly cookies: Readonly<Record<string, string>>;
}

/** Connect sessions, authorization redirects and callbacks. */
export class ConnectService {
  constructor(private readonly deps: ConnectDeps) {}

  /** The exact redirect URI registered with the provider. */
  redirectUri(provider: ProviderId): string {
    return `${this.deps.publicUrl}/oauth/${provider}/callback`;
  }

  /** `POST /connect-sessions`: a single-use link for a retailer, valid 10 minutes. */
  async createSession(input: {
    provider: ProviderId;
    returnTo?: string | undefined;
    reference?: string | undefined;
  }) {
    const { providers, clientId, clock, sessions, publicUrl, returnToOrigins } = this.deps;
    if (providers[input.provider].oauth === undefined) {
      throw new InvalidRequestError(
        'body.provider',
        `${input.provider} has no OAuth flow; store its personal access token with PUT /personal-tokens/${input.provider}/{account}`,
      );
    }
    if (clientId(input.provider) === undefined) {
      throw new InvalidRequestError(
        'body.provider',
        `${input.provider} is not configured on this broker (no client id)`,
      );
    }
    if (input.returnTo !== undefined && !returnToOrigins.includes(new URL(input.returnTo).origin)) {
      throw new InvalidRequestError(
        'body.return_to',
        `origin ${new URL(input.returnTo).origin} is not allowed (BROKER_RETURN_TO_ORIGINS)`,
      );
    }
    const now = clock.now();
    const session: ConnectSession = {
      id: randomToken(),
      provider: input.provider,
      returnTo: input.returnTo,
      reference: input.reference,
      createdAt: now,
      expiresAt: now + CONNECT_SESSION_TTL_MS,
    };
    await sessions.createConnectSession(session);
    return {
      id: session.id,
      connect_url: `${publicUrl}/connect/${session.id}`,
      expires_at: new Date(session.expiresAt).toISOString(),
    };
  }

  /**
   * `GET /connect/{id}`: uses the session up and starts one authorization attempt. Resolves
   * undefined for an unknown, expired or used session.
   */
  async startAuthorization(sessionId: string) {
    const { sessions, providers, clock } = this.deps;
    if (!STATE_PATTERN.test(sessionId)) return undefined;
    const now = clock.now();
    const session = await sessions.consumeConnectSession(sessionId, now);
    if (session === undefined) return undefined;
    const oauth = providers[session.provider].oauth;
    if (oauth === undefined) return undefined;
    const state = randomToken();
    const binding = randomToken();
    await sessions.saveOAuthState({
      state,
      provider: session.provider,
      sessionId: session.id,
      browserBindingHash: sha256(binding).toString('base64url'),
      returnTo: session.returnTo,
      reference: session.reference,
      expiresAt: now + CONNECT_SESSION_TTL_MS,
    });
    // The client id is configuration; the secret is not needed (nor read) to start a flow.
    const clientId = this.deps.clientId(session.provider);
    if (clientId === undefined) return undefined;
    return {
      location: oauth.buildAuthorizationUrl({
        clientId,
        redirectUri: this.redirectUri(session.provider),
        state,
      }),
      cookie: {
        name: bindingCookieName(state),
        value: binding,
        maxAgeSeconds: CONNECT_SESSION_TTL_MS / 1000,
      },
      provider: session.provider,
    };
  }

  /** `GET /oauth/{provider}/callback`: every outcome of the contract's table. */
  async completeCallback(input: CallbackInput): Promise<CallbackOutcome> {
    const { providers, sessions, clock, logger } = this.deps;
    const provider = input.provider as ProviderId;
    const oauth = Object.hasOwn(providers, provider) ? providers[provider].oauth : undefined;
    if (oauth === undefined) return { kind: 'invalid', reason: 'unknown provider' };
    const { code, state, error } = input.query;
    const account = input.query[oauth.callbackAccountParameter];

    if (error !== undefined) {
      const known =
        state !== undefined && STATE_PATTERN.test(state)
          ? await sessions.consumeOAuthState(state, clock.now())
          : undefined;
      // Only access_denied is the retailer's "no"; any other RFC 6749 error (invalid_scope,
      // server_error, …) means the authorization failed, and the page must not blame the retailer.
      // Without a state of ours it is anybody's link, not the provider's answer.
      if (error !== 'access_denied') {
        if (known === undefined || known.provider !== provider)
          return { kind: 'invalid', reason: `error=${safeCode(error)} without a known state` };
        logger.warn('the provider refused the authorization request', { provider, error: safeCode(error) });
        return { kind: 'failed', reason: `the provider answered error=${safeCode(error)}` };
      }
      logger.info('retailer declined the connection', { provider, error: safeCode(error) });
      return known !== undefined && known.provider === provider
        ? { kind: 'denied', returnTo: known.returnTo, reference: known.reference, error: safeCode(error) }
        : { kind: 'denied', error: safeCode(error) };
    }
    if (state === undefined || !STATE_PATTERN.test(state))
      return { kind: 'invalid', reason: 'missing or malformed state' };
    if (account === undefined || !ACCOUNT_PATTERN.test(account)) {
      return { kind: 'invalid', reason: `invalid ${oauth.callbackAccountParameter}` };
    }
    if (code === undefined || code === '' || code.length > 2048)
      return { kind: 'invalid', reason: 'missing code' };
    const binding = input.cookies[bindingCookieName(state)];
    // Without the cookie the state is left unused: someone else's browser cannot burn it.
    if (binding === undefined)
      return { kind: 'invalid', reason: 'this browser did not start the connection' };

    const attempt = await sessions.consumeOAuthState(state, clock.now());
    if (attempt === undefined) return { kind: 'invalid', reason: 'unknown, expired or already used state' };
    if (attempt.provider !== provider)
      return { kind: 'invalid', reason: 'state belongs to another provider' };
    const expected = Buffer.from(attempt.browserBindingHash, 'base64url');
    if (!timingSafeEqual(sha256(binding), expected)) {
      return { kind: 'invalid', reason: 'this browser did not start the connection' };
    }
    return this.exchange({ provider, account }, code, attempt.returnTo, attempt.reference);
  }

  /** Logs a warning once an app nears the store limit of apps its provider has not approved. */
  private async warnNearAppLimit(provider: ProviderId): Promise<void> {
    const limit = this.deps.providers[provider].unapprovedAppStoreLimit;
    if (limit === undefined) return;
    try {
      const stores = await this.deps.countConnected(provider);
      if (stores >= limit - UNAPPROVED_APP_WARNING_MARGIN) {
        this.deps.logger.warn('the app is near the store limit of unapproved Lightspeed apps', {
          provider,
          connectedStores: stores,
          limit,
          hint: `ask ${this.deps.providers[provider].displayName} to approve the app before it connects ${limit} stores`,
        });
      }
    } catch (error) {
      this.deps.logger.warn('could not count connected stores', { provider, error: String(error) });
    }
  }

  private async exchange(
    key: ConnectionKey,
    code: string,
    returnTo: string | undefined,
    reference: string | undefined,
  ): Promise<CallbackOutcome> {
    const { providers, http, clock, logger, store, credentials } = this.deps;
    const oauth = providers[key.provider].oauth!;
    const log = { provider: key.provider, account: key.account };
    try {
      const request = oauth.buildCodeExchange({
        ...(await credentials(key.provider)),
        account: key.account,
        code,
        redirectUri: this.redirectUri(key.provider),
      });
      // A code is single use: retry only what cannot have reached the provider's grant logic twice.
      const tokens = await withRetries(
        async (timeoutMs) => oauth.parseTokenResponse(await http(request, timeoutMs), key.account),
        { ...GRANT_RETRY_POLICY, attempts: 2 },
        clock,
      );
      if (tokens.refreshToken === undefined) {
        logger.error('code exchange answered without a refresh token', log);
        return { kind: 'failed', reason: 'the provider answered without a refresh token' };
      }
      const connection = await store.saveAuthorization(
        key,
        { ...tokens, refreshToken: tokens.refreshToken },
        { reference, now: clock.now() },
      );
      logger.info('connection authorized', { ...log, version: connection.version });
      this.deps.telemetry.count('ConnectionConnected');
      await this.deps.telemetry.event('connection.connected', key, { reference: reference ?? null });
      await this.warnNearAppLimit(key.provider);
      return { kind: 'connected', key, returnTo, reference };
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      logger.warn('code exchange failed', { ...log, kind: error.kind, status: error.details.status });
      return { kind: 'failed', reason: error.message };
    }
  }
}

/** A provider's `error` value, reduced to a safe code for logs and redirects. */

function safeCode(value: string): string {
  return /^[a-z_]{1,64}$/.test(value) ? value : 'error';
}
