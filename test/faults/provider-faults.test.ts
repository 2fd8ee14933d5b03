/**
 * Provider faults at the token endpoint, injected into the simulator of an in-process broker with a
 * short retry policy: hangs and attempt timeouts, 5xx and 429 storms across many callers and
 * accounts, malformed answers. Every scenario ends in the contract's answer (200, stale 200, or 503
 * with Retry-After; never 500) and with nothing lost: afterwards each connection refreshes again
 * and the provider never saw a revoked refresh token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../shared/domain/retry';
import { connect, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import { connectAll, expectCleanError, expectNothingLost, sleep } from './helpers';

/** Attempts time out after 400 ms; a Retry-After over 1 s ends the retries at once. */
const QUICK: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 20,
  maxDelayMs: 100,
  attemptTimeoutMs: 400,
  budgetMs: 2_000,
  maxRetryAfterSeconds: 1,
};

const SINGLE = ['hang-a', 'hang-b', 'garbled-a'];
const STORM = Array.from({ length: 10 }, (_, i) => `storm-${i}`);

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker({}, { retryPolicy: QUICK });
  t.simulator.setAccessTokenTtl(3_600);
  await connectAll(t, [...SINGLE, ...STORM]);
});
afterAll(() => t?.close());
beforeEach(() => {
  // An hour-long token is still valid but short of min_valid_seconds=43200: the degraded-mode case.
  t.simulator.setAccessTokenTtl(3_600);
  t.simulator.clearFaults();
  t.simulator.setTokenLatency(0);
  t.simulator.resetStats();
});

const token = (account: string, query = '') => t.json<TokenBody>(`/tokens/lightspeed-x/${account}${query}`);

type Answer = Awaited<ReturnType<typeof token>>;

/** Half force the refresh (503 expected), half ask for more validity than is left (stale expected). */
function stampede(accounts: readonly string[], callersPerAccount: number): Promise<Answer[]> {
  return Promise.all(
    accounts.flatMap((account) =>
      Array.from({ length: callersPerAccount }, (_, i) =>
        token(account, i % 2 === 0 ? '?force_refresh=true' : '?min_valid_seconds=43200'),
      ),
    ),
  );
}

/** Every answer is a stale token (200, stale: true) or a 503 with a whole-seconds Retry-After. */
function expectDegradedAnswers(answers: readonly Answer[], maxRetryAfter: number): void {
  const statuses = new Set(answers.map((a) => a.status));
  expect([...statuses].sort()).toEqual([200, 503]);
  for (const answer of answers) {
    if (answer.status === 200) {
      expect(answer.body.stale).toBe(true);
      expect(Date.parse(answer.body.expires_at ?? '')).toBeGreaterThan(Date.now());
      continue;
    }
    expectCleanError(answer.body, 'provider_unavailable');
    const retryAfter = answer.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(maxRetryAfter);
  }
}

describe('provider hangs and timeouts', () => {
  it('does not present the refresh token again after an attempt that hung before processing: 503, and the next refresh works', async () => {
    t.simulator.injectFault({ kind: 'hang', ms: 10_000, grant: 'refresh_token' });
    const started = Date.now();
    const answer = await token('hang-a', '?force_refresh=true');
    expect(answer.status).toBe(503);
    expectCleanError(answer.body, 'provider_unavailable');
    expect(Date.now() - started).toBeGreaterThanOrEqual(QUICK.attemptTimeoutMs);
    // The answer might still have been on its way: no second attempt with the same refresh token.
    expect(t.simulator.stats().byAccount['hang-a']).toMatchObject({ refreshAttempts: 1, refreshes: 0 });
    expect((await t.json(`/connections/lightspeed-x/hang-a`)).body).toMatchObject({
      status: 'active',
      last_error: 'refresh_unconfirmed',
    });
    await expectNothingLost(t, SINGLE);
  });

  it('answers 503 with Retry-After within one attempt limit when the attempt hangs', async () => {
    t.simulator.injectFault({ kind: 'hang', ms: 10_000, times: 20, grant: 'refresh_token' });
    const started = Date.now();
    const answer = await token('hang-b', '?force_refresh=true');
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(503);
    expectCleanError(answer.body, 'provider_unavailable');
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Bounded by the attempt limit, not by the 10 s hang.
    expect(elapsed).toBeLessThan(QUICK.attemptTimeoutMs + 1_000);
    const stats = t.simulator.stats();
    expect(stats.refreshAttempts).toBe(1);
    expect(stats.refreshes).toBe(0);
    t.simulator.clearFaults();
    await expectNothingLost(t, SINGLE);
  });

  it('labels the connection refresh_answer_lost, not invalid_grant, when the answer that rotated it never arrived', async () => {
    // The provider rotated and then hung past the attempt limit: the new tokens never arrived.
    // Nothing can save this connection; the broker must say why and not keep trying.
    await connect(t, 'hang-lost');
    t.simulator.resetStats();
    t.simulator.injectFault({ kind: 'hang', ms: 10_000, afterProcessing: true, grant: 'refresh_token' });
    const first = await token('hang-lost', '?force_refresh=true');
    expect(first.status).toBe(503);
    expect(t.simulator.stats()).toMatchObject({
      refreshes: 1,
      refreshAttempts: 1,
      revokedRefreshTokenUses: 0,
    });

    const refused = await token('hang-lost', '?force_refresh=true');
    expect(refused.status).toBe(409);
    expectCleanError(refused.body, 'reauthorization_required');
    expect(t.simulator.stats().revokedRefreshTokenUses).toBe(1);
    expect((await t.json('/connections/lightspeed-x/hang-lost')).body).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'refresh_answer_lost',
    });
    const calls = t.simulator.stats().tokenCalls;
    expect((await token('hang-lost', '?force_refresh=true')).status).toBe(409);
    expect(t.simulator.stats().tokenCalls).toBe(calls);
    t.simulator.resetStats();
    await expectNothingLost(t, SINGLE);
  });
});

describe('malformed provider answers', () => {
  it('does not present the refresh token again after a cut-off answer: 503, one call, and the next refresh works', async () => {
    t.simulator.injectFault({ kind: 'malformed', grant: 'refresh_token' });
    const answer = await token('garbled-a', '?force_refresh=true');
    expect(answer.status).toBe(503);
    expect(t.simulator.stats().byAccount['garbled-a']).toMatchObject({ refreshAttempts: 1, refreshes: 0 });
    await expectNothingLost(t, SINGLE);
  });

  it('answers 503 when the answer is malformed, without exposing the body, and the next refresh works', async () => {
    t.simulator.injectFault({ kind: 'malformed', times: 20, grant: 'refresh_token' });
    const response = await t.api('/tokens/lightspeed-x/garbled-a?force_refresh=true');
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain('access_token');
    expectCleanError(JSON.parse(text), 'provider_unavailable');
    expect(t.simulator.stats().refreshAttempts).toBe(1);
    t.simulator.clearFaults();
    await expectNothingLost(t, SINGLE);
  });
});

describe('storms across many callers and accounts', () => {
  it('gives each account one provider flight during a 5xx storm: stale tokens or 503s, never a 500', async () => {
    // Slow answers keep each flight open while its callers arrive; they all join it.
    t.simulator.setTokenLatency(100);
    const statuses = [500, 502, 503, 504];
    for (let i = 0; i < 100; i++) {
      t.simulator.injectFault({ kind: 'status', status: statuses[i % 4]!, grant: 'refresh_token' });
    }
    const answers = await stampede(STORM, 6);
    expect(answers).toHaveLength(60);
    expectDegradedAnswers(answers, 5);
    const stats = t.simulator.stats();
    expect(stats.refreshes).toBe(0);
    expect(stats.refreshAttempts).toBeGreaterThanOrEqual(STORM.length);
    // Six callers per account, yet no more provider calls than one flight's attempts.
    for (const account of STORM) {
      expect(stats.byAccount[account]?.refreshAttempts).toBeLessThanOrEqual(QUICK.attempts);
    }
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);

    t.simulator.clearFaults();
    t.simulator.setTokenLatency(0);
    t.simulator.resetStats();
    await expectNothingLost(t, STORM);
  });

  it('calls the provider once per account in a 429 storm and then holds off until its HTTP-date Retry-After', async () => {
    // An HTTP date 8 s after each answer (second precision: 7–8 s): longer than
    // QUICK.maxRetryAfterSeconds, so no retry inside a request, and long enough for a second wave
    // on a loaded machine to land inside it.
    t.simulator.injectFault({
      kind: 'status',
      status: 429,
      times: 1_000,
      grant: 'refresh_token',
      retryAfterDateIn: 8,
    });
    const first = await stampede(STORM, 8);
    const firstAnswered = Date.now();
    expect(first).toHaveLength(80);
    expectDegradedAnswers(first, 8);
    const afterFirst = t.simulator.stats();
    expect(afterFirst.refreshAttempts).toBe(STORM.length);
    for (const account of STORM) expect(afterFirst.byAccount[account]?.refreshAttempts).toBe(1);

    // A second wave inside the Retry-After window reaches no provider at all.
    const second = await stampede(STORM, 8);
    expectDegradedAnswers(second, 8);
    expect(t.simulator.stats().refreshAttempts).toBe(afterFirst.refreshAttempts);

    // The provider recovers once its Retry-After has passed.
    t.simulator.clearFaults();
    await sleep(Math.max(0, firstAnswered + 8_000 - Date.now()) + 1_100);
    await expectNothingLost(t, STORM);
  });
});
