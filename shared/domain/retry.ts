/**
 * Bounded retries for provider calls: only failures that cannot have been processed (or, for
 * idempotent calls, any transient one), with backoff and `Retry-After`.
 */
import { ProviderError } from './errors';
import type { Clock } from './ports';

/** The longest hold-off the broker accepts from a provider: longer ones are clamped to this. */
export const MAX_RETRY_AFTER_SECONDS = 900;

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Time limit of one attempt. */
  readonly attemptTimeoutMs: number;
  /** No new attempt starts after this much time; the refresh lease outlives it. */
  readonly budgetMs: number;
  /** A longer `Retry-After` ends the retries at once: the caller is told to come back then. */
  readonly maxRetryAfterSeconds: number;
  /**
   * Also retry `unconfirmed` failures (timeouts, cut connections). Only for idempotent requests: a
   * grant the provider may have processed is never presented again.
   */
  readonly retryUnconfirmed?: boolean;
}

/** For idempotent provider calls (verifying a personal token): short attempts, all retried. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 2_000,
  attemptTimeoutMs: 5_000,
  budgetMs: 12_000,
  maxRetryAfterSeconds: 5,
  retryUnconfirmed: true,
});

/**
 * For grants (refresh, code exchange). An attempt that may have reached the provider's grant logic
 * is waited for up to 25 s rather than abandoned: a slow answer carries the rotated refresh token,
 * and abandoning it loses the connection. 25 s (not more) keeps the answer to the caller that holds
 * the lease inside API Gateway's 30 s integration limit; the budget lets a fast 429/5xx be retried
 * while the whole refresh still ends within 27 s, which the lease outlives.
 */
export const GRANT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 2_000,
  attemptTimeoutMs: 25_000,
  budgetMs: 27_000,
  maxRetryAfterSeconds: 5,
});

/** Runs `attempt` until it succeeds, fails for good, or the policy is spent; rethrows the last error. */
export async function withRetries<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  policy: RetryPolicy,
  clock: Clock,
  onRetry?: (error: ProviderError, delayMs: number) => void,
): Promise<T> {
  const started = clock.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(policy.attemptTimeoutMs);
    } catch (error) {
      if (!(error instanceof ProviderError) || !retriable(error, policy) || n >= policy.attempts) throw error;
      const retryAfter = error.details.retryAfterSeconds;
      if (retryAfter !== undefined && retryAfter > policy.maxRetryAfterSeconds) throw error;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      // Jitter spreads retries of many connections hitting the same outage.
      const delay = Math.max(
        retryAfter === undefined ? 0 : retryAfter * 1000,
        backoff * (0.5 + Math.random() / 2),
      );
      if (clock.now() - started + delay + policy.attemptTimeoutMs > policy.budgetMs) throw error;
      onRetry?.(error, delay);
      await clock.sleep(delay);
    }
  }
}

function retriable(error: ProviderError, policy: RetryPolicy): boolean {
  return error.kind === 'transient' || (error.kind === 'unconfirmed' && policy.retryUnconfirmed === true);
}

/** How a write that must not be lost (tokens a provider already issued) is tried again. */
export interface WriteRetry {
  /** Tries in all, the first included (each with the storage client's own retries inside). */
  readonly attempts: number;
  /** Wait before the second try, doubling after each. */
  readonly baseDelayMs: number;
  /** Epoch ms after which no further try starts. */
  readonly deadline?: number;
  /** Errors that are an answer, not a failure (a lost conditional write): thrown at once. */
  readonly final?: (error: unknown) => boolean;
  /** Told before each further try, with the number of the try that failed. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Runs a storage write until it succeeds, fails with a `final` error, or the tries or the deadline
 * are spent; rethrows the last error. After a provider has issued tokens the write is the only copy:
 * a throttled or briefly failing table is worth a few more tries.
 */
export async function retryWrite<T>(write: () => Promise<T>, retry: WriteRetry, clock: Clock): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const delay = retry.baseDelayMs * 2 ** (attempt - 1);
      const spent =
        attempt >= retry.attempts || (retry.deadline !== undefined && clock.now() + delay >= retry.deadline);
      if (retry.final?.(error) === true || spent) throw error;
      retry.onRetry?.(error, attempt);
      await clock.sleep(delay);
    }
  }
}

class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** `work`, or a DeadlineError once `ms` have passed (the work itself goes on). */
export async function beforeDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError('no time left before the callback must answer')), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
