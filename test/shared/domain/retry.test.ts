import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProviderError, type ProviderFailureKind } from '../../../shared/domain/errors';
import type { Clock } from '../../../shared/domain/ports';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from '../../../shared/domain/retry';

/** A clock that never really sleeps: sleeping advances the counter and is recorded. */
class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public time = 1_000_000) {}
  now(): number {
    return this.time;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
    return Promise.resolve();
  }
}

const POLICY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 1_000,
  attemptTimeoutMs: 1_000,
  budgetMs: 60_000,
  maxRetryAfterSeconds: 5,
};

const failure = (kind: ProviderFailureKind, retryAfterSeconds?: number) =>
  new ProviderError(kind, `provider failed (${kind})`, { status: 503, retryAfterSeconds });

/** An attempt that fails with `errors` in turn, then answers `result`; `took` ms pass per call. */
function scripted(clock: FakeClock, errors: unknown[], result = 'tokens', took = 0) {
  const calls: number[] = [];
  const attempt = async (timeoutMs: number): Promise<string> => {
    calls.push(timeoutMs);
    clock.time += took;
    const next = errors.shift();
    if (next !== undefined) throw next;
    return result;
  };
  return { attempt, calls };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('withRetries', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock();
    // The smallest jitter: each backoff is exactly half its nominal value.
    vi.spyOn(Math, 'random').mockReturnValue(0);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers at once when the first attempt succeeds, passing the attempt timeout', async () => {
    // Prepare
    const { attempt, calls } = scripted(clock, []);

    // Act
    const result = await withRetries(attempt, POLICY, clock);

    // Assess
    expect(result).toBe('tokens');
    expect(calls).toEqual([1_000]);
    expect(clock.sleeps).toEqual([]);
  });

  it('retries a transient failure and answers the later success', async () => {
    // Prepare
    const first = failure('transient');
    const { attempt, calls } = scripted(clock, [first]);
    const onRetry = vi.fn();

    // Act
    const result = await withRetries(attempt, POLICY, clock, onRetry);

    // Assess
    expect(result).toBe('tokens');
    expect(calls).toHaveLength(2);
    expect(onRetry).toHaveBeenCalledExactlyOnceWith(first, 50);
    expect(clock.sleeps).toEqual([50]);
  });

  it('retries transient failures up to the number of attempts, then rethrows the last one', async () => {
    // Prepare
    const errors = [failure('transient'), failure('transient'), failure('transient')];
    const last = errors[2];
    const { attempt, calls } = scripted(clock, [...errors]);

    // Act
    const error = await rejectionOf(withRetries(attempt, POLICY, clock));

    // Assess
    expect(error).toBe(last);
    expect(calls).toHaveLength(3);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('doubles the backoff and caps it at maxDelayMs', async () => {
    // Prepare
    const policy = { ...POLICY, attempts: 5, baseDelayMs: 400, maxDelayMs: 1_000 };
    const { attempt } = scripted(
      clock,
      [1, 2, 3, 4].map(() => failure('transient')),
    );

    // Act
    await withRetries(attempt, policy, clock);

    // Assess: nominal 400, 800, 1600→1000, 3200→1000, halved by the jitter.
    expect(clock.sleeps).toEqual([200, 400, 500, 500]);
  });

  it('keeps the jittered backoff between half and all of its nominal value', async () => {
    // Prepare
    vi.mocked(Math.random).mockReturnValue(0.999);
    const { attempt } = scripted(clock, [failure('transient'), failure('transient')]);

    // Act
    await withRetries(attempt, POLICY, clock);

    // Assess
    expect(clock.sleeps).toHaveLength(2);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(100);
    expect(clock.sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(clock.sleeps[1]).toBeLessThanOrEqual(200);
  });

  it('waits at least Retry-After before the next attempt', async () => {
    // Prepare
    const { attempt, calls } = scripted(clock, [failure('transient', 3)]);

    // Act
    const result = await withRetries(attempt, POLICY, clock);

    // Assess
    expect(result).toBe('tokens');
    expect(calls).toHaveLength(2);
    expect(clock.sleeps).toEqual([3_000]);
  });

  it('keeps the backoff when it is longer than Retry-After', async () => {
    // Prepare
    const policy = { ...POLICY, baseDelayMs: 4_000, maxDelayMs: 4_000 };
    const { attempt } = scripted(clock, [failure('transient', 1)]);

    // Act
    await withRetries(attempt, policy, clock);

    // Assess
    expect(clock.sleeps).toEqual([2_000]);
  });

  it('retries when Retry-After equals maxRetryAfterSeconds', async () => {
    // Prepare
    const { attempt, calls } = scripted(clock, [failure('transient', 5)]);

    // Act
    await withRetries(attempt, POLICY, clock);

    // Assess
    expect(calls).toHaveLength(2);
    expect(clock.sleeps).toEqual([5_000]);
  });

  it('stops at once when Retry-After exceeds maxRetryAfterSeconds', async () => {
    // Prepare
    const tooLong = failure('transient', 6);
    const { attempt, calls } = scripted(clock, [tooLong]);
    const onRetry = vi.fn();

    // Act
    const error = await rejectionOf(withRetries(attempt, POLICY, clock, onRetry));

    // Assess
    expect(error).toBe(tooLong);
    expect(calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it.each([
    ['invalid_grant', failure('invalid_grant')],
    ['invalid_client', failure('invalid_client')],
    ['a plain Error', new Error('socket hang up')],
    ['a TypeError', new TypeError('cannot read properties of undefined')],
    ['a thrown string', 'boom'],
  ])('never retries %s', async (_, thrown) => {
    // Prepare
    const { attempt, calls } = scripted(clock, [thrown]);

    // Act
    const error = await rejectionOf(withRetries(attempt, POLICY, clock));

    // Assess
    expect(error).toBe(thrown);
    expect(calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('starts no attempt that could end after the budget', async () => {
    // Prepare: each attempt takes its full second.
    const policy = { ...POLICY, attempts: 5, budgetMs: 2_500 };
    const last = failure('transient');
    const { attempt, calls } = scripted(clock, [failure('transient'), last], 'tokens', 1_000);

    // Act
    const error = await rejectionOf(withRetries(attempt, policy, clock));

    // Assess: 1000 + 50 + 1000 fits in 2500; 2050 + 100 + 1000 does not.
    expect(error).toBe(last);
    expect(calls).toHaveLength(2);
    expect(clock.sleeps).toEqual([50]);
  });

  it('stops when waiting for Retry-After would leave no room in the budget', async () => {
    // Prepare
    const policy = { ...POLICY, budgetMs: 3_500 };
    const slow = failure('transient', 3);
    const { attempt, calls } = scripted(clock, [slow]);

    // Act
    const error = await rejectionOf(withRetries(attempt, policy, clock));

    // Assess
    expect(error).toBe(slow);
    expect(calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('has a default policy whose attempts fit in its budget', () => {
    // Assess
    expect(DEFAULT_RETRY_POLICY.attempts).toBeGreaterThan(1);
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
    expect(DEFAULT_RETRY_POLICY.attemptTimeoutMs).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.budgetMs);
  });
});
