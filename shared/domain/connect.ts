/**
 * The retailer's connect flow: a backend creates a single-use connect session, the retailer's
 * browser opens it and is sent to the provider with a fresh `state` bound to that browser by a
 * cookie, and the provider's callback is checked and exchanged for tokens.
 */
import { bindingCookieName, bindingHash, isConnectToken, pkceChallenge, randomToken } from './connect-tokens';
import { AuthorizationNotStoredError, InvalidInputError, ProviderError } from './errors';
import type { ConnectionKey, ConnectSession, OAuthState, ProviderId, TokenSet } from './model';
import type {
  AccountLookup,
  Clock,
  ConnectionStore,
  HttpClient,
  Logger,
  OAuthClientCredentials,
  ProviderRegistry,
  SessionStore,
} from './ports';
import { renewalOf } from './renewal';
import { beforeDeadline, DEFAULT_RETRY_POLICY, retryWrite, withRetries } from './retry';
import type { Telemetry } from './telemetry';

/** A connect session and an authorization attempt live this long (the contract: 10 minutes). */
export const CONNECT_SESSION_TTL_MS = 10 * 60 * 1000;
/**
 * Authorization attempts one connect link may start. Opening the link does not use it up (mail
 * scanners and chat previews open links before the retailer does); completing it does. The cap
 * bounds what a link that leaked or is fetched in a loop can create.
 */
export const CONNECT_ATTEMPTS_PER_SESSION = 10;
/**
 * Time limit of the one code exchange. A code is presented at most once, so an answer that is on
 * its way is waited for rather than abandoned; API Gateway's 30 s integration limit bounds it from
 * above, with room for the token write.
 */
export const EXCHANGE_TIMEOUT_MS = 20_000;
/** The token write after a successful exchange is tried this often (each try with the SDK's own retries). */
export const TOKEN_WRITE_ATTEMPTS = 3;
const TOKEN_WRITE_BACKOFF_MS = 250;
/**
 * The callback answers within this much of the exchange's start, written or not: the public
 * function stops at 28 s and API Gateway at 30 s, and past them the browser would get a bare
 * gateway error instead of a page.
 */
export const CALLBACK_DEADLINE_MS = 25_000;
/** What an account lookup leaves of the callback deadline for the token write. */
const LOOKUP_WRITE_RESERVE_MS = 5_000;
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
  /** Default CALLBACK_DEADLINE_MS; tests shorten it. */
  readonly callbackDeadlineMs?: number;
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
    account?: string | undefined;
    returnTo?: string | undefined;
    reference?: string | undefined;
  }) {
    const { providers, clientId, clock, sessions, publicUrl, returnToOrigins } = this.deps;
    const oauth = providers[input.provider].oauth;
    if (oauth === undefined) {
      throw new InvalidInputError(
        'provider',
        `${input.provider} has no OAuth flow; store its personal access token with PUT /personal-tokens/${input.provider}/{account}`,
      );
    }
    if (clientId(input.provider) === undefined) {
      throw new InvalidInputError(
        'provider',
        `${input.provider} is not configured on this broker (no client id)`,
      );
    }
    if (oauth.accountBeforeAuthorization && input.account === undefined) {
      throw new InvalidInputError(
        'sessionAccount',
        `is required for ${input.provider}, which needs the account before authorization (${providers[input.provider].account.syntax})`,
      );
    }
    if (input.returnTo !== undefined && !returnToOrigins.includes(new URL(input.returnTo).origin)) {
      throw new InvalidInputError(
        'returnTo',
        `origin ${new URL(input.returnTo).origin} is not allowed (BROKER_RETURN_TO_ORIGINS)`,
      );
    }
    const now = clock.now();
    const session: ConnectSession = {
      id: randomToken(),
      provider: input.provider,
      account: input.account,
      returnTo: input.returnTo,
      reference: input.reference,
      createdAt: now,
      expiresAt: now + CONNECT_SESSION_TTL_MS,
      keepUntil: now + 2 * CONNECT_SESSION_TTL_MS,
    };
    await sessions.createConnectSession(session);
    return { id: session.id, connectUrl: `${publicUrl}/connect/${session.id}`, expiresAt: session.expiresAt };
  }

  /**
   * `GET /connect/{id}`: starts one more authorization attempt of the session (a fresh state and
   * binding cookie each time; the session is used up only when a callback completes it). Resolves
   * undefined for an unknown, expired, completed or exhausted session.
   */
  async startAuthorization(sessionId: string) {
    const { sessions, providers, clock } = this.deps;
    if (!isConnectToken(sessionId)) return undefined;
    const now = clock.now();
    const session = await sessions.startConnectAttempt(sessionId, now, CONNECT_ATTEMPTS_PER_SESSION);
    if (session === undefined) return undefined;
    const oauth = providers[session.provider].oauth;
    if (oauth === undefined) return undefined;
    // The client id is configuration; the secret is not needed (nor read) to start a flow.
    const clientId = this.deps.clientId(session.provider);
    if (clientId === undefined) return undefined;
    const state = randomToken();
    const binding = randomToken();
    const codeVerifier = oauth.pkce ? randomToken() : undefined;
    await sessions.saveOAuthState({
      state,
      provider: session.provider,
      sessionId: session.id,
      browserBindingHash: bindingHash(binding),
      codeVerifier,
      account: session.account,
      returnTo: session.returnTo,
      reference: session.reference,
      expiresAt: now + CONNECT_SESSION_TTL_MS,
    });
    return {
      location: oauth.buildAuthorizationUrl({
        clientId,
        redirectUri: this.redirectUri(session.provider),
        state,
        account: session.account,
        ...(codeVerifier === undefined ? {} : { codeChallenge: pkceChallenge(codeVerifier) }),
      }),
      cookie: {
        name: bindingCookieName(state),
        value: binding,
        maxAgeSeconds: CONNECT_SESSION_TTL_MS / 1000,
      },
      provider: session.provider,
    };
  }

  /**
   * `GET /oauth/{provider}/install`, for a provider whose installs may start on its side (Shopify's
   * app URL: `shop`, `hmac`, `timestamp`): the signature is checked first, then a connect session
   * for that account starts an authorization like `GET /connect/{id}`. Resolves why it was
   * refused, or the redirect.
   */
  async startInstall(input: Omit<CallbackInput, 'cookies'>) {
    const { providers } = this.deps;
    const provider = input.provider as ProviderId;
    const oauth = Object.hasOwn(providers, provider) ? providers[provider].oauth : undefined;
    if (oauth?.startsInstalls !== true || oauth.callbackAccount === undefined) {
      return { refused: 'this provider does not start installs on the broker' } as const;
    }
    const account = this.callbackAccount(provider, input.query);
    if (account === undefined) return { refused: `invalid ${oauth.callbackAccount.parameter}` } as const;
    if (this.deps.clientId(provider) === undefined) {
      return { refused: `${provider} is not configured on this broker (no client id)` } as const;
    }
    const refused = await this.verifySignature(provider, input.query);
    if (refused !== undefined) return { refused } as const;
    const session = await this.createSession({ provider, account });
    const started = await this.startAuthorization(session.id);
    if (started === undefined) throw new Error('a new connect session could not start its authorization');
    this.deps.logger.info('an install started at the provider was sent on to authorization', {
      provider,
      account,
    });
    return started;
  }

  /** `GET /oauth/{provider}/callback`: every outcome of the contract's table. */
  async completeCallback(input: CallbackInput): Promise<CallbackOutcome> {
    const { providers, logger } = this.deps;
    const provider = input.provider as ProviderId;
    const oauth = Object.hasOwn(providers, provider) ? providers[provider].oauth : undefined;
    if (oauth === undefined) return { kind: 'invalid', reason: 'unknown provider' };
    const { code, state, error } = input.query;

    if (error !== undefined) {
      // Lightspeed documents a denial without state: nothing to check, nothing to reveal.
      if (state === undefined && error === 'access_denied') {
        logger.info('retailer declined the connection', { provider, error: safeCode(error) });
        return { kind: 'denied', error: safeCode(error) };
      }
      // Without a state of ours it is anybody's link, not the provider's answer.
      if (state === undefined)
        return { kind: 'invalid', reason: `error=${safeCode(error)} without a known state` };
      const attempt = await this.useState(provider, state, input.cookies);
      if (typeof attempt === 'string') return { kind: 'invalid', reason: attempt };
      // Only access_denied is the retailer's "no"; any other RFC 6749 error (invalid_scope,
      // server_error, …) means the authorization failed, and the page must not blame the retailer.
      if (error !== 'access_denied') {
        logger.warn('the provider refused the authorization request', { provider, error: safeCode(error) });
        return { kind: 'failed', reason: `the provider answered error=${safeCode(error)}` };
      }
      logger.info('retailer declined the connection', { provider, error: safeCode(error) });
      return {
        kind: 'denied',
        returnTo: attempt.returnTo,
        reference: attempt.reference,
        error: safeCode(error),
      };
    }
    if (state === undefined || !isConnectToken(state))
      return { kind: 'invalid', reason: 'missing or malformed state' };
    let account: string | undefined;
    if (oauth.callbackAccount !== undefined) {
      account = this.callbackAccount(provider, input.query);
      if (account === undefined)
        return { kind: 'invalid', reason: `invalid ${oauth.callbackAccount.parameter}` };
    }
    if (code === undefined || code === '' || code.length > 2048)
      return { kind: 'invalid', reason: 'missing code' };
    // A signed callback is checked before its state is used up: a forged one must not burn it.
    const refused = await this.verifySignature(provider, input.query);
    if (refused !== undefined) return { kind: 'invalid', reason: refused };
    const attempt = await this.useState(provider, state, input.cookies);
    if (typeof attempt === 'string') return { kind: 'invalid', reason: attempt };
    if (account !== undefined && attempt.account !== undefined && account !== attempt.account) {
      logger.warn('the callback names another account than its connect session; nothing stored', {
        provider,
        account: attempt.account,
        callbackAccount: account,
      });
      return { kind: 'invalid', reason: 'the callback names another account than the connect session' };
    }
    return this.exchange(provider, account, code, attempt);
  }

  /** The account a callback's (or install's) query names, if well formed for the provider. */
  private callbackAccount(
    provider: ProviderId,
    query: Readonly<Record<string, string | undefined>>,
  ): string | undefined {
    const { oauth, account: syntax } = this.deps.providers[provider];
    const named = oauth?.callbackAccount;
    if (named === undefined) return undefined;
    const raw = query[named.parameter];
    if (raw === undefined || raw.length > 255) return undefined;
    const account = named.parse === undefined ? raw : named.parse(raw);
    return account !== undefined && syntax.pattern.test(account) ? account : undefined;
  }

  /** Why a provider-signed query is refused (bad or stale signature), or undefined when it holds. */
  private async verifySignature(
    provider: ProviderId,
    query: Readonly<Record<string, string | undefined>>,
  ): Promise<string | undefined> {
    const oauth = this.deps.providers[provider].oauth;
    if (oauth?.verifyCallback === undefined) return undefined;
    const { clientSecret } = await this.deps.credentials(provider);
    const refused = oauth.verifyCallback(query, clientSecret, this.deps.clock.now());
    if (refused !== undefined)
      this.deps.logger.warn('refused a provider-signed request', { provider, reason: refused });
    return refused;
  }

  /**
   * Uses up a state and completes its connect session, only for the browser holding the state's
   * binding cookie: anyone else leaves the state untouched and learns nothing about it. Resolves
   * the attempt, or why it was refused.
   */
  private async useState(
    provider: ProviderId,
    state: string,
    cookies: Readonly<Record<string, string>>,
  ): Promise<OAuthState | string> {
    if (!isConnectToken(state)) return 'missing or malformed state';
    const binding = cookies[bindingCookieName(state)];
    if (binding === undefined) return 'this browser did not start the connection';
    const { sessions, clock } = this.deps;
    // The store compares hashes in its condition: a wrong cookie value deletes nothing.
    const attempt = await sessions.consumeOAuthState(state, {
      provider,
      browserBindingHash: bindingHash(binding),
      now: clock.now(),
    });
    if (attempt === undefined) {
      return 'unknown, expired or already used state, or this browser did not start the connection';
    }
    // Single completion: another attempt of the same link (another tab, a second click) may have
    // finished first; then this one ends here, before any provider call.
    if (!(await sessions.completeConnectSession(attempt.sessionId))) {
      return 'the connect link was already completed by another attempt';
    }
    return attempt;
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

  /**
   * Exchanges the code, learns the account where the callback did not name it (the token answer,
   * or one API call), and stores the tokens. The account the provider connected must be the one
   * the connect session named, if it named one: else the callback is refused (400) and nothing is
   * stored, whichever source named the account.
   */
  private async exchange(
    provider: ProviderId,
    callbackAccount: string | undefined,
    code: string,
    attempt: OAuthState,
  ): Promise<CallbackOutcome> {
    const { providers, http, logger, credentials, clock } = this.deps;
    const { oauth, account: syntax } = providers[provider];
    if (oauth === undefined) throw new Error(`${provider} has no OAuth flow`);
    // What the requests are built for (Shopify's shop is the token host) and answers checked against.
    const expected = callbackAccount ?? attempt.account;
    const log = { provider, account: expected ?? null };
    const sessionMismatch = (answeredAccount: string) => {
      logger.warn('the provider connected another account than the connect session named; nothing stored', {
        ...log,
        account: attempt.account,
        answeredAccount,
      });
      return {
        kind: 'invalid',
        reason: 'the provider connected another account than the connect session',
      } as const;
    };
    const { returnTo, reference } = attempt;
    const deadline = clock.now() + (this.deps.callbackDeadlineMs ?? CALLBACK_DEADLINE_MS);
    let tokens: TokenSet & { refreshToken: string };
    let answered: string | undefined;
    try {
      const request = oauth.buildCodeExchange({
        ...(await credentials(provider)),
        account: expected,
        code,
        redirectUri: this.redirectUri(provider),
        ...(oauth.pkce && attempt.codeVerifier !== undefined ? { codeVerifier: attempt.codeVerifier } : {}),
      });
      // One attempt, never retried: once the request may have reached the provider the code may be
      // spent, and presenting it again could only fail (or make the provider revoke what it issued).
      const { account: named, ...parsed } = oauth.parseTokenResponse(
        await http(request, EXCHANGE_TIMEOUT_MS),
        expected,
        'authorization_code',
      );
      if (parsed.refreshToken === undefined) {
        logger.error('code exchange answered without a refresh token', log);
        return { kind: 'failed', reason: 'the provider answered without a refresh token' };
      }
      tokens = { ...parsed, refreshToken: parsed.refreshToken };
      // The provider's own word on the account wins over the session's, which it must then equal.
      answered = callbackAccount ?? named;
      if (answered === undefined && oauth.accountLookup !== undefined) {
        answered = await this.lookUpAccount(oauth.accountLookup, tokens.accessToken, deadline);
      }
      answered ??= attempt.account;
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (
        error.kind === 'account_mismatch' &&
        callbackAccount === undefined &&
        attempt.account !== undefined
      ) {
        return sessionMismatch(error.details.answeredAccount ?? 'not an account name');
      }
      if (error.kind === 'account_mismatch') {
        logger.error('code exchange answered for another account; nothing stored', {
          ...log,
          answeredAccount: error.details.answeredAccount ?? 'not an account name',
        });
        return { kind: 'failed', reason: 'the token answer names another account' };
      }
      logger.warn('code exchange failed', { ...log, kind: error.kind, status: error.details.status });
      return { kind: 'failed', reason: error.message };
    }
    if (answered === undefined || !syntax.pattern.test(answered)) {
      logger.error('the provider named no usable account for the new connection; nothing stored', log);
      return { kind: 'failed', reason: 'the provider named no usable account' };
    }
    if (attempt.account !== undefined && answered !== attempt.account) return sessionMismatch(answered);
    const key: ConnectionKey = { provider, account: answered };
    const previous = await this.previousReference(key);
    const connection = await this.saveTokens(key, tokens, reference, deadline);
    logger.info('connection authorized', { ...log, version: connection.version });
    this.deps.telemetry.count('ConnectionConnected');
    await this.deps.telemetry.event('connection.connected', key, { reference: reference ?? null });
    if (previous.found && previous.reference !== reference) {
      // Without PKCE a leaked code lets another connect session take the account over; the broker
      // cannot tell that from a legitimate move, so it never lets one pass silently.
      logger.warn('a callback moved a connected account to another reference', {
        ...log,
        previousReference: previous.reference ?? null,
        reference: reference ?? null,
      });
      await this.deps.telemetry.event('connection.reference_changed', key, {
        previous_reference: previous.reference ?? null,
        reference: reference ?? null,
      });
    }
    await this.warnNearAppLimit(key.provider);
    return { kind: 'connected', key, returnTo, reference };
  }

  /**
   * The account an API call names (Lightspeed R-Series' Account endpoint). Idempotent, so retried
   * within the callback's deadline; a failure ends the flow (the tokens are not stored under a
   * guessed account).
   */
  private async lookUpAccount(lookup: AccountLookup, accessToken: string, deadline: number): Promise<string> {
    const { http, clock } = this.deps;
    const policy = {
      ...DEFAULT_RETRY_POLICY,
      budgetMs: Math.max(
        0,
        Math.min(DEFAULT_RETRY_POLICY.budgetMs, deadline - clock.now() - LOOKUP_WRITE_RESERVE_MS),
      ),
    };
    return withRetries(
      async (timeoutMs) => lookup.parse(await http(lookup.request(accessToken), timeoutMs)),
      policy,
      clock,
    );
  }

  /** The reference the account is connected under now, if it is connected (metadata only). */
  private async previousReference(
    key: ConnectionKey,
  ): Promise<{ found: false } | { found: true; reference: string | undefined }> {
    try {
      const record = await this.deps.store.getOAuthRecord(key);
      return record === undefined ? { found: false } : { found: true, reference: record.reference };
    } catch (error) {
      // The tokens matter more than the event: go on to the write (which retries).
      this.deps.logger.warn('could not read the connection before storing a new authorization', {
        provider: key.provider,
        account: key.account,
        errorName: error instanceof Error ? error.name : typeof error,
      });
      return { found: false };
    }
  }

  /**
   * Stores the tokens of a finished exchange. The code is spent by now, so a failed write is tried
   * again, a bounded number of times and only until `deadline`, before the tokens are given up.
   */
  private async saveTokens(
    key: ConnectionKey,
    tokens: TokenSet & { refreshToken: string },
    reference: string | undefined,
    deadline: number,
  ) {
    const { store, clock, logger, providers } = this.deps;
    const { renewal } = providers[key.provider].oauth!;
    const log = { provider: key.provider, account: key.account };
    const errorName = (error: unknown) => (error instanceof Error ? error.name : typeof error);
    let tries = 0;
    try {
      return await retryWrite(
        () => {
          tries++;
          // A write still running at the deadline may yet land: then the connection is stored after
          // all, and the retailer, told otherwise, connects again harmlessly.
          return beforeDeadline(
            store.saveAuthorization(key, tokens, {
              reference,
              renewal: renewalOf(tokens, undefined, renewal, clock.now()),
              now: clock.now(),
            }),
            deadline - clock.now(),
          );
        },
        {
          attempts: TOKEN_WRITE_ATTEMPTS,
          baseDelayMs: TOKEN_WRITE_BACKOFF_MS,
          deadline,
          onRetry: (error, attempt) =>
            logger.warn('storing a new authorization failed; trying again', {
              ...log,
              attempt,
              errorName: errorName(error),
            }),
        },
        clock,
      );
    } catch (error) {
      logger.error('the tokens of a finished code exchange could not be stored', {
        ...log,
        attempts: tries,
        errorName: errorName(error),
      });
      throw new AuthorizationNotStoredError(key, TOKEN_WRITE_ATTEMPTS, { cause: error });
    }
  }
}

/** A provider's `error` value, reduced to a safe code for logs and redirects. */
function safeCode(value: string): string {
  return /^[a-z_]{1,64}$/.test(value) ? value : 'error';
}
