/** Bounded retries for provider calls: only transient failures, with backoff and `Retry-After`. */
import { ProviderError } from './errors';
import type { Clock } from './ports';

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
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 2_000,
  attemptTimeoutMs: 5_000,
  budgetMs: 12_000,
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
      if (!(error instanceof ProviderError) || error.kind !== 'transient' || n >= policy.attempts)
        throw error;
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
