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

import { ConcurrentUpdateError, NotFoundError, ReauthorizationRequiredError } from './errors';
import { LeaseWatch } from './lease-watch';
import type { ConnectionKey, OAuthConnection, OAuthRecord } from './model';
import { RefreshCall, type RefreshCallDeps, type RefreshResult, unavailable } from './refresh-call';
import { refreshDeadline } from './renewal';
import { GRANT_RETRY_POLICY, MAX_RETRY_AFTER_SECONDS, type RetryPolicy } from './retry';

export interface RefreshOptions {
  /** Refresh unless the token stays valid this long. */
  readonly minValidSeconds: number;
  /** Refresh even if the token is still valid. */
  readonly force: boolean;
}

export interface RefresherDeps extends RefreshCallDeps {
  readonly retryPolicy?: RetryPolicy;
  /**
   * A monotonic clock in ms (default `performance.now`): how long a lease has been seen unchanged
   * is measured on it, never on the wall clock another host wrote into the lease.
   */
  readonly monotonic?: () => number;
  /** How recent a refresh satisfies every caller (default REFRESH_COOLDOWN_MS; 0 turns it off). */
  readonly cooldownMs?: number;
}

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

const keyOf = (key: ConnectionKey): string => `${key.provider}#${key.account}`;

/** Refreshes OAuth connections, at most one refresh per connection at a time across all processes. */
export class Refresher {
  private readonly inFlight = new Map<string, Promise<RefreshResult>>();
  private readonly leases: LeaseWatch;
  private readonly call: RefreshCall;
  private readonly policy: RetryPolicy;
  private readonly cooldownMs: number;
  /** The lease outlives the whole retry budget plus the write. */
  readonly leaseMs: number;
  /** How long a caller waits for another process's refresh before answering 503. */
  readonly waitMs: number;

  constructor(private readonly deps: RefresherDeps) {
    this.policy = deps.retryPolicy ?? GRANT_RETRY_POLICY;
    this.cooldownMs = deps.cooldownMs ?? REFRESH_COOLDOWN_MS;
    // withRetries starts no attempt that cannot end inside the budget; the first ends by its timeout.
    this.leaseMs = Math.max(this.policy.budgetMs, this.policy.attemptTimeoutMs) + LEASE_MARGIN_MS;
    this.waitMs = Math.min(MAX_WAIT_MS, this.policy.budgetMs + 2_000);
    this.leases = new LeaseWatch(this.leaseMs, deps.clock, deps.monotonic ?? (() => performance.now()));
    this.call = new RefreshCall(deps, this.policy);
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

  /** Fresh enough: neither the access token nor the refresh token's renewal is due within minValid. */
  private isFreshEnough(connection: OAuthConnection, minValidSeconds: number): boolean {
    return refreshDeadline(connection) - this.deps.clock.now() >= minValidSeconds * 1000;
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
      if (
        current.leaseOwner === undefined ||
        this.leases.abandoned(keyOf(key), { owner: current.leaseOwner, until: current.leaseUntil })
      ) {
        // The holder we waited for failed: its answer is ours too, no second provider call.
        if (failedMeanwhile) {
          throw unavailable('the provider failed to refresh the token', current.retryAfterSeconds);
        }
        const now = clock.now();
        const holdOff = this.holdOffSeconds(current, now);
        if (holdOff > 0) throw unavailable('the provider asked the broker to wait before retrying', holdOff);
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
          this.leases.forget(keyOf(key));
          // A lease that was never released marks a refresh that died between call and write.
          return await this.call.run(leased, current.leaseOwner !== undefined);
        } catch (error) {
          if (!(error instanceof ConcurrentUpdateError)) throw error;
        }
      }
      if (clock.now() + pollMs > deadline) {
        throw unavailable('a refresh of this connection is still in progress', 1);
      }
      await clock.sleep(pollMs);
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
    }
  }

  /**
   * Seconds left of a `Retry-After` the provider gave on the last failed refresh. A stored value is
   * capped here too (rows written before the cap existed); `unavailable` caps what callers are told.
   */
  private holdOffSeconds(connection: OAuthRecord, now: number): number {
    if (connection.lastFailureAt === undefined || connection.retryAfterSeconds === undefined) return 0;
    const seconds = Math.min(connection.retryAfterSeconds, MAX_RETRY_AFTER_SECONDS);
    const until = connection.lastFailureAt + seconds * 1000;
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }
}
