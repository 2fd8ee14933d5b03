/**
 * What the holder of a refresh lease does (the protocol around it is in refresh.ts): present the
 * leased refresh token to the provider once per attempt, and store whatever the provider issued —
 * new tokens, or a rotated refresh token from an otherwise unusable answer — before anything else.
 * On failure, release the lease with a record of why, so waiting callers share the outcome.
 */
import {
  ConcurrentUpdateError,
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
import { renewalOf } from './renewal';
import { MAX_RETRY_AFTER_SECONDS, type RetryPolicy, retryWrite, withRetries } from './retry';
import type { Telemetry } from './telemetry';

export interface RefreshResult {
  readonly connection: OAuthConnection;
  /** True when this call (or the in-process flight it joined) or another process wrote new tokens. */
  readonly refreshed: boolean;
}

export interface RefreshCallDeps {
  readonly store: ConnectionStore;
  readonly providers: ProviderRegistry;
  /** The broker's own OAuth client credentials for a provider. */
  readonly credentials: (provider: ProviderId) => Promise<OAuthClientCredentials>;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Identifies this process in leases (logged, never trusted for correctness). */
  readonly owner: string;
  readonly telemetry: Telemetry;
}

/** `last_error` of a connection that died after an attempt whose answer never arrived. */
export const ANSWER_LOST = 'refresh_answer_lost';
/** Seconds a caller is told to wait when a provider gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** Attempts at the token write after the provider answered (a throttled or failing table). */
const WRITE_ATTEMPTS = 4;
const WRITE_RETRY_MS = 200;

/** The connection's key, and the attributes every log line of this refresh carries. */
function describe(leased: LeasedConnection) {
  const key: ConnectionKey = { provider: leased.provider, account: leased.account };
  return { key, log: { provider: key.provider, account: key.account, version: leased.version } };
}

/** The caller's 503, with a whole-seconds Retry-After of at most MAX_RETRY_AFTER_SECONDS. */
export function unavailable(message: string, retryAfterSeconds: number | undefined, cause?: unknown) {
  const seconds = Math.min(
    MAX_RETRY_AFTER_SECONDS,
    Math.ceil(retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS),
  );
  return new ProviderUnavailableError(message, seconds, { cause });
}

/** One refresh by the lease holder. */
export class RefreshCall {
  constructor(
    private readonly deps: RefreshCallDeps,
    private readonly policy: RetryPolicy,
  ) {}

  /**
   * Refreshes the leased connection with the refresh token of the leased version (never a pre-lease
   * copy); `interrupted`: the lease taken over was never released.
   */
  async run(leased: LeasedConnection, interrupted: boolean): Promise<RefreshResult> {
    const { providers, http, clock, logger } = this.deps;
    const { key, log } = describe(leased);
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
      throw unavailable('the broker could not read its client credentials', undefined, error);
    }
    const request = adapter.buildRefresh({
      ...credentials,
      account: key.account,
      refreshToken: leased.refreshToken,
    });
    let tokens: TokenSet;
    try {
      tokens = await withRetries(
        async (timeoutMs) =>
          adapter.parseTokenResponse(await http(request, timeoutMs), key.account, 'refresh_token'),
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
    const { key, log } = describe(leased);
    const cadence = this.deps.providers[key.provider].oauth!.renewal;
    try {
      const connection = await this.persisting(log, () => {
        const now = clock.now();
        const renewal = renewalOf(tokens, leased, cadence, now);
        return store.completeRefresh(key, { version: leased.version, tokens, renewal, now });
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
    const { key, log } = describe(leased);
    const rotated =
      failure.rotatedRefreshToken === undefined
        ? undefined
        : { version: leased.version, refreshToken: failure.rotatedRefreshToken };
    telemetry.count('RefreshFailed');
    const write = () =>
      store.recordRefreshFailure(key, {
        owner: this.deps.owner,
        error: failure.error,
        // Already capped where it was read (parseRetryAfter).
        retryAfterSeconds: failure.retryAfterSeconds,
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
    const { log } = describe(leased);
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
        throw unavailable(
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
        throw unavailable('the provider answered for another account', undefined, error);
      case 'invalid_client':
        await this.recordFailure(leased, { error: 'invalid_client' });
        logger.error(
          'the provider refused the broker client credentials; check the client id and secret',
          log,
        );
        throw unavailable('the provider is failing; the token could not be refreshed', undefined, error);
      case 'transient': {
        const { providerError, status, retryAfterSeconds } = error.details;
        // Only a provider's own Retry-After holds later callers off; without one the lease serializes attempts.
        await this.recordFailure(leased, {
          error: providerError ?? `http_${status ?? 'error'}`,
          retryAfterSeconds,
        });
        logger.warn('refresh failed', { ...log, status, reason: error.message });
        throw unavailable(
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
