/**
 * Ports: everything the domain needs from the world, in one file. Adapters in shared/adapters
 * implement them (DynamoDB, Secrets Manager, the local file store, KMS, fetch, EventBridge), the
 * provider definitions in shared/providers implement the provider port; the domain imports no AWS
 * SDK and no provider.
 */
import type {
  AccountSyntax,
  ConnectionKey,
  ConnectionStatus,
  ConnectSession,
  CredentialSource,
  LeasedConnection,
  OAuthConnection,
  OAuthRecord,
  OAuthState,
  PersonalConnection,
  ProviderId,
  TokenSet,
} from './model';
import type { Renewal } from './renewal';

// --- Storage ---

export interface ConnectionPage {
  readonly items: readonly (OAuthRecord | PersonalConnection)[];
  readonly nextCursor?: string | undefined;
}

export interface ListQuery {
  readonly provider?: ProviderId | undefined;
  readonly status?: ConnectionStatus | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
  readonly now: number;
}

/** A refresh lease to take on a connection's `version`. */
export interface LeaseRequest {
  readonly version: number;
  readonly owner: string;
  /** The holder's own estimate of the lease's end (its wall clock), for a cold observer. */
  readonly until: number;
  /** The abandoned lease being taken over, exactly as it was seen; absent when no lease is held. */
  readonly replacing?: { readonly owner: string; readonly until: number | undefined } | undefined;
}

/** Why a refresh attempt failed, as recordRefreshFailure stores it. */
export interface RefreshFailure {
  /** The lease holder; the record is written only while it still holds the lease (unless `rotated`). */
  readonly owner: string;
  /** A bounded error code for `last_error`. */
  readonly error: string;
  readonly retryAfterSeconds?: number | undefined;
  /** The provider may have processed the grant and its answer was lost. */
  readonly unconfirmed?: boolean | undefined;
  /** A new refresh token from an otherwise unusable answer, to store fenced by the leased version. */
  readonly rotated?: { readonly version: number; readonly refreshToken: string } | undefined;
  readonly now: number;
}

/** Per-account credentials. Every write that can race is conditional; a lost race throws ConcurrentUpdateError. */
export interface ConnectionStore {
  /**
   * The account's OAuth connection, read consistently, with its access token opened (the refresh
   * token is neither opened nor returned: acquireLease hands it out).
   */
  getOAuth(key: ConnectionKey): Promise<OAuthConnection | undefined>;
  /** The OAuth connection's metadata only: no token is opened (metadata routes need no key). */
  getOAuthRecord(key: ConnectionKey): Promise<OAuthRecord | undefined>;
  /** The account's personal-token metadata, read consistently. */
  getPersonal(key: ConnectionKey): Promise<PersonalConnection | undefined>;
  /** Stores tokens from a finished authorization: active again, lease and failures cleared. */
  saveAuthorization(
    key: ConnectionKey,
    tokens: TokenSet & { refreshToken: string },
    meta: { reference?: string | undefined; renewal: Renewal; now: number },
  ): Promise<OAuthRecord>;
  /**
   * Takes the refresh lease if the version is unchanged and the lease is exactly as the caller saw
   * it: absent, or (`replacing`) the abandoned one it decided to take over. No clock is compared.
   * Returns the connection as that same write left it, refresh token opened.
   */
  acquireLease(key: ConnectionKey, lease: LeaseRequest): Promise<LeasedConnection>;
  /**
   * Writes refreshed tokens and version+1, conditioned on the version the refresh started from
   * (not on still holding the lease: new tokens must never be dropped because a lease ran out).
   */
  completeRefresh(
    key: ConnectionKey,
    refresh: { version: number; tokens: TokenSet; renewal: Renewal; now: number },
  ): Promise<OAuthConnection>;
  /**
   * Releases the lease after a failed attempt and records why (only if still held by `owner`).
   * `unconfirmed`: the provider may have rotated in an answer that was lost (remembered until the
   * next successful token write). `rotated`: an unusable answer carried a new refresh token; it is
   * stored in this same write, conditioned on the leased version (not the lease), version+1.
   */
  recordRefreshFailure(key: ConnectionKey, failure: RefreshFailure): Promise<void>;
  /** Marks the connection dead, conditioned on the version (so a concurrent success wins). */
  markReauthorizationRequired(
    key: ConnectionKey,
    mark: { version: number; error: string; now: number },
  ): Promise<OAuthRecord>;
  putPersonal(connection: PersonalConnection): Promise<PersonalConnection>;
  /** Removes the personal-token metadata; resolves whether it existed. */
  deletePersonal(key: ConnectionKey): Promise<boolean>;
  /** Removes every credential of the account; resolves the removed records. */
  deleteAll(key: ConnectionKey): Promise<{ oauth?: OAuthRecord; personal?: PersonalConnection }>;
  list(query: ListQuery): Promise<ConnectionPage>;
  /**
   * Credentials the sweep must look at before `before` (epoch ms), from the sparse index: active
   * OAuth connections by the earlier of token expiry and `renewBy`, personal tokens by the start of their expiring window.
   */
  findDue(before: number): AsyncIterable<ConnectionKey & { source: CredentialSource }>;
  /** Records that a personal token's coming expiry was announced, taking it out of the sweep index. */
  markExpiringNotified(key: ConnectionKey, now: number): Promise<void>;
  /** How many stores have an OAuth connection to a provider's app (Lightspeed limits unapproved apps). */
  countOAuthConnections(provider: ProviderId): Promise<number>;
}

export interface SessionStore {
  createConnectSession(session: ConnectSession): Promise<void>;
  /**
   * Counts one more authorization attempt on a session that is unexpired, not completed and has
   * had fewer than `maxAttempts`; resolves it, or undefined (nothing changed) otherwise.
   */
  startConnectAttempt(id: string, now: number, maxAttempts: number): Promise<ConnectSession | undefined>;
  /** Single completion: resolves true once per session (the first callback that finishes it), then false. */
  completeConnectSession(id: string): Promise<boolean>;
  saveOAuthState(state: OAuthState): Promise<void>;
  /**
   * Single use, and only by its own browser: resolves the state once when it is unexpired, of
   * `provider` and bound to `browserBindingHash`; otherwise undefined and the state stays usable.
   */
  consumeOAuthState(
    state: string,
    binding: { provider: ProviderId; browserBindingHash: string; now: number },
  ): Promise<OAuthState | undefined>;
  /** Resolves when the table answers a read (the health check); rejects otherwise. */
  ping(): Promise<void>;
}

/** Secret values (client secrets, personal tokens), addressed by name. */
export interface SecretStore {
  /**
   * The current value. `knownVersion` lets a caching store answer from memory when the caller
   * knows (from the connection record) which version is current.
   */
  get(name: string, knownVersion?: string): Promise<{ value: string; version: string } | undefined>;
  /** Replaces the value atomically: readers see the old or the new one, never none. */
  put(name: string, value: string): Promise<{ version: string }>;
  delete(name: string): Promise<void>;
}

// --- Logging and time ---

/** Structured logging; implementations must never receive a token (the domain never passes one). */
export interface Logger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

// --- Keys and sealing ---

/**
 * Wraps and unwraps data keys (KMS, or the local keyring). The cipher owns the clear key buffers it
 * gets and wipes them once imported.
 */
export interface KeyProvider {
  /** A fresh 32-byte data key, in clear and wrapped under the current master key. */
  generateDataKey(): Promise<{ plaintext: Buffer; wrapped: string; keyId: string }>;
  /** The clear data key of a wrapped one (any master key that ever wrapped, for rotation). */
  unwrap(wrapped: string, keyId: string): Promise<Buffer>;
}

/** Seals and opens token values bound to one connection. */
export interface TokenCipher {
  seal(plaintext: string, key: ConnectionKey): Promise<string>;
  open(sealed: string, key: ConnectionKey): Promise<string>;
}

// --- Providers ---

/** An HTTP request to a provider, built without performing it (so it can be tested as data). */
export interface ProviderRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** A provider's answer as received: the body is text, never parsed before the status is checked. */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: string;
  /** Epoch ms when the response arrived: expiry is computed from here. */
  readonly receivedAt: number;
}

export interface OAuthClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** Where a provider's callback names the account, when it does. */
export interface CallbackAccount {
  /** The query parameter (Lightspeed X-Series: `domain_prefix`; Shopify: `shop`; Clover: `merchant_id`). */
  readonly parameter: string;
  /** The account a parameter value names (Shopify: `{shop}.myshopify.com` → `{shop}`), or undefined when malformed. */
  parse?(value: string): string | undefined;
}

/** A provider that names the account only through an API call after the exchange (Lightspeed R-Series). */
export interface AccountLookup {
  request(accessToken: string): ProviderRequest;
  /** The account the answer names; throws a ProviderError when the answer is not usable. */
  parse(response: ProviderResponse): string;
}

/** The refresh token's lifetime where the provider does not state one in its answers. */
export interface RenewalCadence {
  /** The sweep refreshes a connection at least this often when no refresh-token expiry is known. */
  readonly everySeconds: number;
  /** Why this value (the provider's advice, or an inference), for docs and the README table. */
  readonly basis: string;
}

/** How hard the sweep may use one provider's token endpoint. */
export interface TokenEndpointPacing {
  /** Refreshes in flight at once for this provider. */
  readonly concurrency: number;
  /** Refresh requests started per second for this provider, at most. */
  readonly perSecond: number;
  /** The provider's documented limit or the inference behind these numbers. */
  readonly basis: string;
}

/** The OAuth 2.0 authorization-code flow of one provider. */
export interface OAuthAdapter {
  /** Where the callback names the account; absent when only the token answer or an API call does. */
  readonly callbackAccount?: CallbackAccount;
  /**
   * Whether the account must be known before authorization (Shopify: the shop is the host of the
   * authorization URL): `POST /connect-sessions` then requires `"account"`.
   */
  readonly accountBeforeAuthorization: boolean;
  /**
   * Whether the provider takes PKCE (RFC 7636, S256). When true the broker sends a challenge on
   * every authorization and its verifier on the exchange (RFC 9700 §2.1.1); say so explicitly.
   */
  readonly pkce: boolean;
  readonly scopes: readonly string[];
  /**
   * Checks a callback's signature where the provider signs its redirects (Shopify's `hmac`), before
   * anything else reads the callback. Resolves why it is refused, or undefined when it holds.
   */
  verifyCallback?(
    query: Readonly<Record<string, string | undefined>>,
    clientSecret: string,
    now: number,
  ): string | undefined;
  /**
   * Whether the provider may start an installation on the broker (Shopify's app URL with `shop`,
   * `hmac`, `timestamp`): `GET /oauth/{provider}/install` verifies it with `verifyCallback` and
   * sends the browser on to the authorization.
   */
  readonly startsInstalls?: boolean;
  /** `codeChallenge` (S256) is given exactly when `pkce` is true; `account` when the session names one. */
  buildAuthorizationUrl(params: {
    clientId: string;
    redirectUri: string;
    state: string;
    codeChallenge?: string | undefined;
    account?: string | undefined;
  }): string;
  /** `codeVerifier` is given exactly when `pkce` is true; `account` when the callback or session named it. */
  buildCodeExchange(
    params: OAuthClientCredentials & {
      account: string | undefined;
      code: string;
      redirectUri: string;
      codeVerifier?: string | undefined;
    },
  ): ProviderRequest;
  buildRefresh(params: OAuthClientCredentials & { account: string; refreshToken: string }): ProviderRequest;
  /**
   * Turns a token-endpoint response into tokens, or throws a classified ProviderError. With an
   * expected `account`, an answer naming another one is refused (`account_mismatch`); `account`
   * in the result is the one the answer names, if it names one (Square: `merchant_id`).
   */
  parseTokenResponse(
    response: ProviderResponse,
    account: string | undefined,
    /** Which grant the answer is for: a provider may refuse them differently (Clover's refresh). */
    grant: 'authorization_code' | 'refresh_token',
  ): TokenSet & { account?: string };
  /** Where neither the callback nor the token answer names the account. */
  readonly accountLookup?: AccountLookup;
  /** The refresh cadence when an answer states no refresh-token expiry. */
  readonly renewal: RenewalCadence;
  /** The sweep's pacing of this provider's token endpoint. */
  readonly pacing: TokenEndpointPacing;
}

/** A provider configured for one deployment (built from its definition, shared/providers/<id>.ts). */
export interface Provider {
  readonly id: ProviderId;
  readonly displayName: string;
  /** The provider's account syntax (contract v1.1), checked before any outbound call. */
  readonly account: AccountSyntax;
  /** Present for providers that support the OAuth authorization-code flow. */
  readonly oauth?: OAuthAdapter;
  /** Base URL of the provider's REST API for one account, returned to callers as `api_base_url`. */
  apiBaseUrl(account: string): string;
  /** Longest lifetime the provider allows for a new personal token, if it limits it. */
  readonly personalTokenMaxDays?: number;
  /** Stores an app the provider has not approved yet may connect (Lightspeed: 30). */
  readonly unapprovedAppStoreLimit?: number;
  /**
   * One cheap authenticated call that tells whether a token is accepted (401: it is not). Absent
   * for a provider without personal tokens: `PUT /personal-tokens` refuses it.
   */
  verifyRequest?(account: string, token: string): ProviderRequest;
}

export type ProviderRegistry = Readonly<Record<ProviderId, Provider>>;

/**
 * What a provider definition's `create` builds: the registry adds what the definition declares as
 * data (id, name, account syntax, whether the account comes first, whether installs start at the
 * provider).
 */
export type ProviderBehaviour = Omit<Provider, 'id' | 'displayName' | 'account' | 'oauth'> & {
  readonly oauth?: OAuthBehaviour;
};

/** The OAuth flow as a definition's `create` builds it (the rest comes from the definition's data). */
export type OAuthBehaviour = Omit<OAuthAdapter, 'accountBeforeAuthorization' | 'startsInstalls'>;

/** The provider HTTP port: performs a request within `timeoutMs` (adapters/http/fetch-client.ts). */
export type HttpClient = (request: ProviderRequest, timeoutMs: number) => Promise<ProviderResponse>;

// --- Telemetry ---

export type BrokerEventType =
  | 'connection.connected'
  | 'connection.reference_changed'
  | 'connection.refreshed'
  | 'connection.reauthorization_required'
  | 'connection.deleted'
  | 'personal_token.expiring';

export interface DomainEvent {
  readonly type: BrokerEventType;
  readonly provider: string;
  readonly account: string;
  /** ISO time the event happened. */
  readonly time: string;
  /** Small, token-free facts (reference, reason, expires_at, …). */
  readonly detail: Readonly<Record<string, string | number | boolean | null>>;
}

export interface EventSink {
  publish(event: DomainEvent): Promise<void>;
}

/** Counter names; the CDK stack's alarms watch some of them. */
export type MetricName =
  | 'TokenFetched'
  | 'TokenRefused'
  | 'RefreshSucceeded'
  | 'RefreshFailed'
  | 'ReauthorizationRequired'
  | 'ConnectionConnected'
  | 'PersonalTokenExpiring';

export interface MetricSink {
  count(name: MetricName, value?: number): void;
}
