/**
 * The single-flight refresh protocol (architecture.md, "Refresh protocol"), for the token route and
 * the sweep alike.
 *
 * Across processes a DynamoDB lease fences the provider call: only the holder of the lease on
 * version v calls the provider. Two deliberate departures from the proposal, both about never
 * dropping a rotated refresh token:
 * - The token write is conditioned on the version the refresh started from, not on still holding
 *   the lease. If a slow holder's lease ran out, its tokens are still the newest the provider
 *   issued (the provider revoked the old refresh token when it answered), so they must be stored.
 * - That same write heals a `reauthorization_required` mark made meanwhile by a second worker that
 *   met `invalid_grant` with the already-rotated token.
 * Inside one process an in-flight map lets concurrent callers share one promise without polling.
 */

import type { HttpClient, OAuthClientCredentials, ProviderRegistry } from '../providers/types';
import {
  ConcurrentUpdateError,
  NotFoundError,
  ProviderError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
} from './errors';
import type { ConnectionKey, LeasedConnection, OAuthConnection, OAuthRecord, ProviderId } from './model';
import type { Clock, ConnectionStore, Logger } from './ports';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from './retry';
import type { Telemetry } from './telemetry';

export interface RefreshOptions {
  /** Refresh unless the token stays valid this long. */
  readonly minValidSeconds: number;
  /** Refresh even if the token is still valid. */
  readonly force: boolean;
}

export interface RefreshResult {
  readonly connection: OAuthConnection;
  /** True when this call (or the in-process flight it joined) or another process wrote new tokens. */
  readonly refreshed: boolean;
}

export interface RefresherDeps {
  readonly store: ConnectionStore;
  readonly providers: ProviderRegistry;
  /** The broker's own OAuth client credentials for a provider. */
  readonly credentials: (provider: ProviderId) => Promise<OAuthClientCredentials>;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Identifies this process in leases (logged, never trusted for correctness). */
  readonly owner: string;
  readonly retryPolicy?: RetryPolicy;
  readonly telemetry: Telemetry;
}

/** Seconds a caller is told to wait when a provider gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** A lost lease race is re-read after this, doubling up to POLL_MAX_MS. */
const POLL_START_MS = 20;
const POLL_MAX_MS = 400;

const keyOf = (key: ConnectionKey): string => `${key.provider}#${key.account}`;

/** Refreshes OAuth connections, at most one refresh per connection at a time across all processes. */
export class Refresher {
  private readonly inFlight = new Map<string, Promise<RefreshResult>>();
  private readonly policy: RetryPolicy;
  /** The lease outlives the whole retry budget plus the write. */
  readonly leaseMs: number;
  /** How long a caller waits for another process's refresh before answering 503. */
  readonly waitMs: number;

  constructor(private readonly deps: RefresherDeps) {
    this.policy = deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.leaseMs = this.policy.budgetMs + this.policy.attemptTimeoutMs + 10_000;
    this.waitMs = this.policy.budgetMs + this.policy.attemptTimeoutMs + 2_000;
  }

  /** Returns `connection` if valid for the options, else refreshes it once (joining any refresh under way). */
  async ensureFresh(connection: OAuthConnection, options: RefreshOptions): Promise<RefreshResult> {
    if (connection.status !== 'active') {
      throw new ReauthorizationRequiredError('the retailer must connect again');
    }
    if (!options.force && this.isFreshEnough(connection, options.minValidSeconds)) {
      return { connection, refreshed: false };
    }
    const id = keyOf(connection);
    const joined = this.inFlight.get(id);
    if (joined !== undefined) return joined;
    const flight = this.refreshAcrossProcesses(connection, connection.version, options).finally(() =>
      this.inFlight.delete(id),
    );
    this.inFlight.set(id, flight);
    return flight;
  }

  /**
   * The sweep's entry: like `ensureFresh`, for a connection the caller has not read. The first read
   * of the protocol below serves as the caller's look, so a due connection costs one read, not two.
   */
  async ensureFreshByKey(key: ConnectionKey, options: RefreshOptions): Promise<RefreshResult> {
    const id = keyOf(key);
    const joined = this.inFlight.get(id);
    if (joined !== undefined) return joined;
    const flight = this.refreshAcrossProcesses(key, undefined, options).finally(() =>
      this.inFlight.delete(id),
    );
    this.inFlight.set(id, flight);
    return flight;
  }

  private isFreshEnough(connection: OAuthConnection, minValidSeconds: number): boolean {
    return connection.expiresAt - this.deps.clock.now() >= minValidSeconds * 1000;
  }

  /** `observedVersion`: the version the caller saw, or undefined when it read nothing (the sweep). */
  private async refreshAcrossProcesses(
    connection: ConnectionKey,
    observedVersion: number | undefined,
    options: RefreshOptions,
  ): Promise<RefreshResult> {
    const { store, clock } = this.deps;
    const key: ConnectionKey = { provider: connection.provider, account: connection.account };
    let observed = observedVersion;
    const startedAt = clock.now();
    const deadline = startedAt + this.waitMs;
    let pollMs = POLL_START_MS;
    for (;;) {
      const current = await store.getOAuth(key);
      if (current === undefined) throw new NotFoundError('the connection was deleted');
      if (current.status !== 'active') {
        throw new ReauthorizationRequiredError(
          'the provider refused the refresh token; the retailer must connect again',
        );
      }
      observed ??= current.version;
      // Someone wrote tokens since the caller looked: that was the refresh it needed.
      if (current.version !== observed) return { connection: current, refreshed: true };
      if (!options.force && this.isFreshEnough(current, options.minValidSeconds)) {
        return { connection: current, refreshed: false };
      }
      const now = clock.now();
      const leaseLive = current.leaseUntil !== undefined && current.leaseUntil > now;
      if (!leaseLive) {
        // The holder we waited for failed: its answer is ours too, no second provider call.
        if (current.lastFailureAt !== undefined && current.lastFailureAt >= startedAt) {
          throw this.unavailable('the provider failed to refresh the token', current.retryAfterSeconds);
        }
        const holdOff = this.holdOffSeconds(current, now);
        if (holdOff > 0)
          throw this.unavailable('the provider asked the broker to wait before retrying', holdOff);
        try {
          const leased = await store.acquireLease(key, {
            version: current.version,
            owner: this.deps.owner,
            until: now + this.leaseMs,
            now,
          });
          // A lease that was never released marks a refresh that died between call and write.
          return await this.refreshHoldingLease(leased, current.leaseOwner !== undefined);
        } catch (error) {
          if (!(error instanceof ConcurrentUpdateError)) throw error;
        }
      }
      if (clock.now() + pollMs > deadline) {
        throw this.unavailable('a refresh of this connection is still in progress', 1);
      }
      await clock.sleep(pollMs);
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
    }
  }

  /** Seconds left of a `Retry-After` the provider gave on the last failed refresh. */
  private holdOffSeconds(connection: OAuthConnection, now: number): number {
    if (connection.lastFailureAt === undefined || connection.retryAfterSeconds === undefined) return 0;
    const until = connection.lastFailureAt + connection.retryAfterSeconds * 1000;
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  private unavailable(message: string, retryAfterSeconds: number | undefined, cause?: unknown) {
    return new ProviderUnavailableError(message, retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS, { cause });
  }

  /** Calls the provider with the refresh token of the leased version (never a pre-lease copy). */
  private async refreshHoldingLease(leased: LeasedConnection, interrupted: boolean): Promise<RefreshResult> {
    const { store, providers, http, clock, logger, telemetry } = this.deps;
    const key: ConnectionKey = { provider: leased.provider, account: leased.account };
    const log = { provider: key.provider, account: key.account, version: leased.version };
    const adapter = providers[key.provider].oauth;
    if (adapter === undefined) throw new Error(`${key.provider} has no OAuth flow`);
    let credentials: OAuthClientCredentials;
    try {
      credentials = await this.deps.credentials(key.provider);
    } catch (error) {
      // The client secret could not be read (a secret store outage): nothing reached the provider,
      // so release the lease now, or the next attempt would wait it out and take it for a crash.
      logger.error('could not read the client credentials for a refresh', { ...log, error: String(error) });
      await store
        .recordRefreshFailure(key, {
          owner: this.deps.owner,
          error: 'client_credentials_unavailable',
          now: clock.now(),
        })
        .catch((recordError: unknown) =>
          logger.error('could not record the refresh failure', { ...log, error: String(recordError) }),
        );
      telemetry.count('RefreshFailed');
      throw this.unavailable('the broker could not read its client credentials', undefined, error);
    }
    const request = adapter.buildRefresh({
      ...credentials,
      account: key.account,
      refreshToken: leased.refreshToken,
    });
    let tokens: Awaited<ReturnType<typeof adapter.parseTokenResponse>>;
    try {
      tokens = await withRetries(
        async (timeoutMs) => adapter.parseTokenResponse(await http(request, timeoutMs)),
        this.policy,
        clock,
        (error, delayMs) =>
          logger.warn('refresh attempt failed, retrying', { ...log, status: error.details.status, delayMs }),
      );
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'invalid_grant') {
        return this.onInvalidGrant(leased, interrupted ? 'refresh_interrupted' : 'invalid_grant');
      }
      const providerError = error instanceof ProviderError ? error : undefined;
      const code = providerError
        ? (providerError.details.providerError ?? `http_${providerError.details.status ?? 'error'}`)
        : 'internal';
      await store
        .recordRefreshFailure(key, {
          owner: this.deps.owner,
          error: providerError?.kind === 'invalid_client' ? 'invalid_client' : code,
          // Only a provider's own Retry-After holds later callers off; without one the lease serializes attempts.
          retryAfterSeconds: providerError?.details.retryAfterSeconds,
          now: clock.now(),
        })
        .catch((recordError: unknown) =>
          logger.error('could not record the refresh failure', { ...log, error: String(recordError) }),
        );
      telemetry.count('RefreshFailed');
      if (providerError?.kind === 'invalid_client') {
        logger.error(
          'the provider refused the broker client credentials; check the client id and secret',
          log,
        );
      } else {
        logger.warn('refresh failed', {
          ...log,
          status: providerError?.details.status,
          reason: providerError?.message,
        });
      }
      if (providerError === undefined) throw error;
      throw this.unavailable(
        'the provider is failing; the token could not be refreshed',
        providerError.details.retryAfterSeconds,
        error,
      );
    }
    try {
      const connection = await store.completeRefresh(key, {
        version: leased.version,
        tokens,
        now: clock.now(),
      });
      logger.info('token refreshed', {
        ...log,
        version: connection.version,
        rotated: tokens.refreshToken !== undefined,
        expiresAt: new Date(connection.expiresAt).toISOString(),
      });
      telemetry.count('RefreshSucceeded');
      await telemetry.event('connection.refreshed', key, {
        expires_at: new Date(connection.expiresAt).toISOString(),
        rotated: tokens.refreshToken !== undefined,
      });
      return { connection, refreshed: true };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      // A newer version exists (another process refreshed after our lease ran out): it wins.
      const latest = await store.getOAuth(key);
      if (latest?.status === 'active') return { connection: latest, refreshed: true };
      throw new ReauthorizationRequiredError('the retailer must connect again');
    }
  }

  /**
   * `invalid_grant`: re-read first. If the tokens changed meanwhile another worker refreshed and
   * all is well; otherwise the refresh token is dead and the provider is not called again.
   */
  private async onInvalidGrant(leased: OAuthRecord, reason: string): Promise<RefreshResult> {
    const { store, clock, logger, telemetry } = this.deps;
    const key: ConnectionKey = { provider: leased.provider, account: leased.account };
    const latest = await store.getOAuth(key);
    if (latest !== undefined && latest.version !== leased.version && latest.status === 'active') {
      return { connection: latest, refreshed: true };
    }
    try {
      await store.markReauthorizationRequired(key, {
        version: leased.version,
        error: reason,
        now: clock.now(),
      });
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      const after = await store.getOAuth(key);
      if (after?.status === 'active') return { connection: after, refreshed: true };
    }
    logger.warn(
      reason === 'refresh_interrupted'
        ? 'connection needs reauthorization: an earlier refresh died between the provider answer and the write'
        : 'connection needs reauthorization: the provider refused the refresh token',
      { provider: key.provider, account: key.account, reason },
    );
    telemetry.count('ReauthorizationRequired');
    await telemetry.event('connection.reauthorization_required', key, {
      reason,
      reference: leased.reference ?? null,
    });
    throw new ReauthorizationRequiredError(
      'the provider refused the refresh token; the retailer must connect again',
    );
  }
}
