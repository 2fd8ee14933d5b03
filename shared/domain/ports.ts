/**
 * Ports: what the domain needs from the world. Adapters in shared/adapters implement them for
 * DynamoDB, Secrets Manager and the local file store; the domain imports no AWS SDK.
 */
import type {
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
    meta: { reference?: string | undefined; now: number },
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
    refresh: { version: number; tokens: TokenSet; now: number },
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
   * OAuth connections by token expiry, personal tokens by the start of their expiring window.
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
