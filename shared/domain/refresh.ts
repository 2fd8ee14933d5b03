/**
 * The single-flight refresh protocol (architecture.md, "Refresh protocol"), for the token route and
 * the sweep alike. One question rules every path below: once the provider may have rotated, can
 * this path lose the new refresh token?
 *
 * Across processes a DynamoDB lease fences the provider call: only the holder of the lease on
 * version v calls the provider. Departures from the proposal, each about never dropping a rotated
 * refresh token:
 * - The token write is conditioned on the version the refresh started from, not on still holding
 *   the lease. If a slow holder's lease ran out, its tokens are still the newest the provider
 *   issued (the provider revoked the old refresh token when it answered), so they must be stored.
 *   That same write heals a `reauthorization_required` mark made meanwhile by a second worker that
 *   met `invalid_grant` with the already-rotated token. The write is retried a few times: a
 *   throttled table must not cost the rotated token.
 * - A grant attempt that may have reached the provider is never abandoned early (GRANT_RETRY_POLICY
 *   waits 25 s) and never repeated: after a timeout or a cut connection the only refresh token the
 *   broker has is the one the provider may just have revoked. The attempt is recorded as
 *   unconfirmed, so that if the next refresh meets `invalid_grant` the connection's `last_error`
 *   says `refresh_answer_lost`, not a retailer's disconnect.
 * - A 200 whose access-token part is unusable but which carries a new refresh token is not thrown
 *   away: the refresh token is stored in the write that records the failure.
 * - The lease needs no synchronized clocks. Whether a lease is abandoned is judged by watching it:
 *   a lease this process has seen unchanged for a whole lease length, measured on its own monotonic
 *   clock, is taken over with a write conditioned on exactly that lease. A wall-clock comparison is
 *   left only for a cold observer (a lease whose holder's own end estimate is more than
 *   MAX_CLOCK_SKEW_MS in the past), so two hosts whose clocks differ by less than that never
 *   refresh one connection at the same time. (The proposal compared `leaseUntil` with the reader's
 *   clock: with a 60 s skew two processes refreshed at once.)
 * - Waiters share the holder's failure by seeing the failure record change, not by comparing
 *   another host's timestamp with their own.
 * - A refresh answers every caller that joined it by that caller's own options, and a refresh
 *   younger than REFRESH_COOLDOWN_MS satisfies any caller: a storm of `force_refresh` calls costs a
 *   few provider calls, not hundreds.
 * Inside one process an in-flight map lets concurrent callers share one promise without polling.
 */

import {
  ConcurrentUpdateError,
  NotFoundError,
  ProviderError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  UnusableTokenAnswerError,
} from './errors';
import type {
  ConnectionKey,
  LeasedConnection,
  OAuthConnection,
  OAuthRecord,
  ProviderId,
  TokenSet,
} from './model';
import type {
  Clock,
  ConnectionStore,
  HttpClient,
  Logger,
  OAuthClientCredentials,
  ProviderRegistry,
} from './ports';
import {
  GRANT_RETRY_POLICY,
  MAX_RETRY_AFTER_SECONDS,
  type RetryPolicy,
  retryWrite,
  withRetries,
} from './retry';
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
  /**
   * A monotonic clock in ms (default `performance.now`): how long a lease has been seen unchanged
   * is measured on it, never on the wall clock another host wrote into the lease.
   */
  readonly monotonic?: () => number;
  /** How recent a refresh satisfies every caller (default REFRESH_COOLDOWN_MS; 0 turns it off). */
  readonly cooldownMs?: number;
}

/** Seconds a caller is told to wait when a provider gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** A lost lease race is re-read after this, doubling up to POLL_MAX_MS. */
const POLL_START_MS = 20;
const POLL_MAX_MS = 400;
/** Margin of the lease beyond the retry budget: the credential read before, the token write after. */
const LEASE_MARGIN_MS = 10_000;
/** The longest a caller waits for another process's refresh: inside API Gateway's 30 s limit. */
const MAX_WAIT_MS = 20_000;
/**
 * A refresh this recent satisfies every caller, `force_refresh` included: `force_refresh` never
 * returns a token issued more than this before the call started (README, "Refresh protocol").
 */
export const REFRESH_COOLDOWN_MS = 5_000;
/**
 * Clock skew the lease tolerates for a cold observer (one that has not watched the lease itself):
 * AWS refuses SigV4 requests signed more than 5 minutes off, the same bound.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Leases remembered as watched, at most (the oldest is forgotten first). */
const WATCHED_LEASES = 10_000;
/** Attempts at the token write after the provider answered (a throttled or failing table). */
const WRITE_ATTEMPTS = 4;
const WRITE_RETRY_MS = 200;

const keyOf = (key: ConnectionKey): string => `${key.provider}#${key.account}`;

/** `last_error` of a connection that died after an attempt whose answer never arrived. */
export const ANSWER_LOST = 'refresh_answer_lost';

/** Refreshes OAuth connections, at most one refresh per connection at a time across all processes. */
export class Refresher {
  private readonly inFlight = new Map<string, Promise<RefreshResult>>();
  /** Leases seen held, by connection: which lease, and since when on the monotonic clock. */
  private readonly watched = new Map<string, { owner: string; until: number | undefined; since: number }>();
  private readonly policy: RetryPolicy;
  private readonly monotonic: () => number;
  private readonly cooldownMs: number;
  /** The lease outlives the whole retry budget plus the write. */
  readonly leaseMs: number;
  /** How long a caller waits for another process's refresh before answering 503. */
  readonly waitMs: number;

  constructor(private readonly deps: RefresherDeps) {
    this.policy = deps.retryPolicy ?? GRANT_RETRY_POLICY;
    this.monotonic = deps.monotonic ?? (() => performance.now());
    this.cooldownMs = deps.cooldownMs ?? REFRESH_COOLDOWN_MS;
    // withRetries starts no attempt that cannot end inside the budget; the first ends by its timeout.
    this.leaseMs = Math.max(this.policy.budgetMs, this.policy.attemptTimeoutMs) + LEASE_MARGIN_MS;
    this.waitMs = Math.min(MAX_WAIT_MS, this.policy.budgetMs + 2_000);
  }

  /** Returns `connection` if valid for the options, else refreshes it once (joining any refresh under way). */
  async ensureFresh(connection: OAuthConnection, options: RefreshOptions): Promise<RefreshResult> {
    if (connection.status !== 'active') {
      throw new ReauthorizationRequiredError('the retailer must connect again');
    }
    const startedAt = this.deps.clock.now();
    if (this.satisfies(connection, options, startedAt)) return { connection, refreshed: false };
    return this.refreshFor(connection, connection.version, options, startedAt);
  }

  /**
   * The sweep's entry: like `ensureFresh`, for a connection the caller has not read. The first read
   * of the protocol below serves as the caller's look, so a due connection costs one read, not two.
   */
  async ensureFreshByKey(key: ConnectionKey, options: RefreshOptions): Promise<RefreshResult> {
    return this.refreshFor(key, undefined, options, this.deps.clock.now());
  }

  /**
   * Whether a connection answers a caller who asked at `startedAt` with `options`: tokens issued
   * within the cooldown before the call are as fresh as the provider makes them (asking again
   * would only rotate again), else the token must stay valid long enough, and `force` wants new ones.
   */
  private satisfies(connection: OAuthConnection, options: RefreshOptions, startedAt: number): boolean {
    if (connection.status !== 'active') return false;
    const now = this.deps.clock.now();
    // Only refreshes count: a connection's first tokens are never a refresh a storm could repeat.
    const { refreshedAt } = connection;
    if (
      refreshedAt !== undefined &&
      refreshedAt >= startedAt - this.cooldownMs &&
      connection.expiresAt > now
    ) {
      return true;
    }
    return !options.force && this.isFreshEnough(connection, options.minValidSeconds);
  }

  private isFreshEnough(connection: OAuthConnection, minValidSeconds: number): boolean {
    return connection.expiresAt - this.deps.clock.now() >= minValidSeconds * 1000;
  }

  /**
   * Joins this process's refresh of the connection, or starts one. A joined refresh answers the
   * joiner only if it satisfies the joiner's own options (a `force_refresh` that joins the sweep's
   * look at a still-valid token must not get the old token back); otherwise the joiner goes on.
   */
  private async refreshFor(
    key: ConnectionKey,
    observedVersion: number | undefined,
    options: RefreshOptions,
    startedAt: number,
  ): Promise<RefreshResult> {
    const id = keyOf(key);
    let version = observedVersion;
    for (;;) {
      const joined = this.inFlight.get(id);
      if (joined === undefined) break;
      const result = await joined;
      if (this.satisfies(result.connection, options, startedAt)) return result;
      version = result.connection.version;
    }
    const flight: Promise<RefreshResult> = this.refreshAcrossProcesses(
      key,
      version,
      options,
      startedAt,
    ).finally(() => {
      if (this.inFlight.get(id) === flight) this.inFlight.delete(id);
    });
    this.inFlight.set(id, flight);
    return flight;
  }

  /** `observedVersion`: the version the caller saw, or undefined when it read nothing (the sweep). */
  private async refreshAcrossProcesses(
    connection: ConnectionKey,
    observedVersion: number | undefined,
    options: RefreshOptions,
    startedAt: number,
  ): Promise<RefreshResult> {
    const { store, clock } = this.deps;
    const key: ConnectionKey = { provider: connection.provider, account: connection.account };
    let observed = observedVersion;
    /** The failure record at the first look: a change means a holder failed while this call waited. */
    let failureSeen: { at: number | undefined } | undefined;
    const deadline = clock.now() + this.waitMs;
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
      if (this.satisfies(current, options, startedAt)) {
        return { connection: current, refreshed: current.version !== observed };
      }
      const failedMeanwhile = failureSeen !== undefined && current.lastFailureAt !== failureSeen.at;
      failureSeen ??= { at: current.lastFailureAt };
      if (current.leaseOwner === undefined || this.abandoned(key, current)) {
        // The holder we waited for failed: its answer is ours too, no second provider call.
        if (failedMeanwhile) {
          throw this.unavailable('the provider failed to refresh the token', current.retryAfterSeconds);
        }
        const now = clock.now();
        const holdOff = this.holdOffSeconds(current, now);
        if (holdOff > 0)
          throw this.unavailable('the provider asked the broker to wait before retrying', holdOff);
        try {
          const leased = await store.acquireLease(key, {
            version: current.version,
            owner: this.deps.owner,
            until: now + this.leaseMs,
            replacing:
              current.leaseOwner === undefined
                ? undefined
                : { owner: current.leaseOwner, until: current.leaseUntil },
          });
          this.watched.delete(keyOf(key));
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

  /**
   * Whether a held lease is abandoned. Watched: this process has seen the very same lease for a
   * whole lease length on its own monotonic clock (clock-free: only the rate of clocks matters).
   * Cold: the holder's own end estimate lies more than MAX_CLOCK_SKEW_MS behind this host's clock.
   */
  private abandoned(key: ConnectionKey, current: OAuthRecord): boolean {
    const owner = current.leaseOwner as string;
    const until = current.leaseUntil;
    if (until !== undefined && until + MAX_CLOCK_SKEW_MS < this.deps.clock.now()) return true;
    const id = keyOf(key);
    const seen = this.watched.get(id);
    const now = this.monotonic();
    if (seen !== undefined && seen.owner === owner && seen.until === until) {
      return now - seen.since >= this.leaseMs;
    }
    this.watched.delete(id);
    if (this.watched.size >= WATCHED_LEASES) {
      const oldest = this.watched.keys().next();
      if (oldest.done !== true) this.watched.delete(oldest.value);
    }
    this.watched.set(id, { owner, until, since: now });
    return false;
  }

  /** Seconds left of a `Retry-After` the provider gave on the last failed refresh (capped). */
  private holdOffSeconds(connection: OAuthRecord, now: number): number {
    if (connection.lastFailureAt === undefined || connection.retryAfterSeconds === undefined) return 0;
    const seconds = Math.min(connection.retryAfterSeconds, MAX_RETRY_AFTER_SECONDS);
    const until = connection.lastFailureAt + seconds * 1000;
    return until > now ? Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil((until - now) / 1000)) : 0;
  }

  private unavailable(message: string, retryAfterSeconds: number | undefined, cause?: unknown) {
    const seconds = Math.min(
      MAX_RETRY_AFTER_SECONDS,
      Math.ceil(retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS),
    );
    return new ProviderUnavailableError(message, seconds, { cause });
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
      await this.recordFailure(leased, { error: 'client_credentials_unavailable' });
      throw this.unavailable('the broker could not read its client credentials', undefined, error);
    }
    const request = adapter.buildRefresh({
      ...credentials,
      account: key.account,
      refreshToken: leased.refreshToken,
    });
    let tokens: TokenSet;
    try {
      tokens = await withRetries(
        async (timeoutMs) => adapter.parseTokenResponse(await http(request, timeoutMs), key.account),
        this.policy,
        clock,
        (error, delayMs) =>
          logger.warn('refresh attempt failed, retrying', { ...log, status: error.details.status, delayMs }),
      );
    } catch (error) {
      return this.onRefreshFailed(leased, interrupted, error);
    }
    return this.storeRefreshed(leased, tokens);
  }

  /** Writes the provider's new tokens; retried, since the provider has already rotated. */
  private async storeRefreshed(leased: LeasedConnection, tokens: TokenSet): Promise<RefreshResult> {
    const { store, clock, logger, telemetry } = this.deps;
    const key: ConnectionKey = { provider: leased.provider, account: leased.account };
    const log = { provider: key.provider, account: key.account, version: leased.version };
    try {
      const connection = await this.persisting(log, () =>
        store.completeRefresh(key, { version: leased.version, tokens, now: clock.now() }),
      );
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
   * A write after the provider answered: the provider has rotated, so a failing table (throttled,
   * briefly down) is tried again a few times before the new tokens are given up for lost. A lost
   * race (ConcurrentUpdateError) is an answer, not a failure.
   */
  private async persisting<T>(log: Record<string, unknown>, write: () => Promise<T>): Promise<T> {
    const { logger, clock } = this.deps;
    const errorName = (error: unknown) => (error instanceof Error ? error.name : 'unknown');
    try {
      return await retryWrite(
        write,
        {
          attempts: WRITE_ATTEMPTS,
          baseDelayMs: WRITE_RETRY_MS,
          final: (error) => error instanceof ConcurrentUpdateError,
          onRetry: (error, attempt) =>
            logger.warn('token write failed, retrying', { ...log, attempt, error: errorName(error) }),
        },
        clock,
      );
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) {
        logger.error('could not store the tokens the provider issued; they are lost', {
          ...log,
          error: errorName(error),
        });
      }
      throw error;
    }
  }

  /** Releases the lease and records why; a failing record is logged, never thrown over the cause. */
  private async recordFailure(
    leased: LeasedConnection,
    failure: {
      error: string;
      retryAfterSeconds?: number | undefined;
      unconfirmed?: boolean;
      rotatedRefreshToken?: string | undefined;
    },
  ): Promise<void> {
    const { store, clock, logger, telemetry } = this.deps;
    const key: ConnectionKey = { provider: leased.provider, account: leased.account };
    const log = { provider: key.provider, account: key.account, version: leased.version };
    const rotated =
      failure.rotatedRefreshToken === undefined
        ? undefined
        : { version: leased.version, refreshToken: failure.rotatedRefreshToken };
    telemetry.count('RefreshFailed');
    const write = () =>
      store.recordRefreshFailure(key, {
        owner: this.deps.owner,
        error: failure.error,
        retryAfterSeconds:
          failure.retryAfterSeconds === undefined
            ? undefined
            : Math.min(MAX_RETRY_AFTER_SECONDS, failure.retryAfterSeconds),
        unconfirmed: failure.unconfirmed,
        rotated,
        now: clock.now(),
      });
    try {
      // Only a write that carries a rotated token is worth retrying: a lost failure record costs
      // nothing but the lease's wait.
      await (rotated === undefined ? write() : this.persisting(log, write));
      if (rotated !== undefined) logger.warn('kept the rotated refresh token of an unusable answer', log);
    } catch (recordError) {
      logger.error('could not record the refresh failure', {
        ...log,
        error: recordError instanceof Error ? recordError.name : 'unknown',
      });
    }
  }

  /** The provider call failed for good: record it, release the lease, and answer the caller. */
  private async onRefreshFailed(
    leased: LeasedConnection,
    interrupted: boolean,
    error: unknown,
  ): Promise<RefreshResult> {
    const { logger } = this.deps;
    const log = { provider: leased.provider, account: leased.account, version: leased.version };
    if (!(error instanceof ProviderError)) {
      await this.recordFailure(leased, { error: 'internal' });
      throw error;
    }
    switch (error.kind) {
      case 'invalid_grant':
        return this.onInvalidGrant(
          leased,
          interrupted
            ? 'refresh_interrupted'
            : leased.unconfirmedAt !== undefined
              ? ANSWER_LOST
              : 'invalid_grant',
        );
      case 'unconfirmed': {
        const rotatedRefreshToken =
          error instanceof UnusableTokenAnswerError ? error.salvagedRefreshToken() : undefined;
        await this.recordFailure(leased, {
          error: error instanceof UnusableTokenAnswerError ? 'unusable_token_answer' : 'refresh_unconfirmed',
          // With the rotated token kept nothing is in doubt; without it the next invalid_grant is labelled.
          unconfirmed: rotatedRefreshToken === undefined,
          rotatedRefreshToken,
        });
        logger.warn('refresh answer lost or unusable after the provider may have processed it', {
          ...log,
          status: error.details.status,
          reason: error.message,
          keptRotatedRefreshToken: rotatedRefreshToken !== undefined,
        });
        throw this.unavailable(
          'the provider answer could not be used; the token could not be refreshed',
          undefined,
          error,
        );
      }
      case 'account_mismatch':
        await this.recordFailure(leased, { error: 'account_mismatch', unconfirmed: true });
        logger.error('the provider answered a refresh for another account; nothing was stored', {
          ...log,
          answeredAccount: error.details.answeredAccount ?? 'not an account name',
        });
        throw this.unavailable('the provider answered for another account', undefined, error);
      case 'invalid_client':
        await this.recordFailure(leased, { error: 'invalid_client' });
        logger.error(
          'the provider refused the broker client credentials; check the client id and secret',
          log,
        );
        throw this.unavailable('the provider is failing; the token could not be refreshed', undefined, error);
      case 'transient': {
        const { providerError, status, retryAfterSeconds } = error.details;
        // Only a provider's own Retry-After holds later callers off; without one the lease serializes attempts.
        await this.recordFailure(leased, {
          error: providerError ?? `http_${status ?? 'error'}`,
          retryAfterSeconds,
        });
        logger.warn('refresh failed', { ...log, status, reason: error.message });
        throw this.unavailable(
          'the provider is failing; the token could not be refreshed',
          retryAfterSeconds,
          error,
        );
      }
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
