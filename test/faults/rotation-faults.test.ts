/**
 * Faults *after* the provider processed a refresh, against an in-process broker with the production
 * grant policy (GRANT_RETRY_POLICY): the simulator rotates the refresh token and then answers
 * slowly, unusably, or for another store. The promise under test: once the provider has rotated,
 * the broker stores the new refresh token if it ever receives it, and says why when it cannot.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNUSABLE_VARIANTS } from '../../functions/local/simulator';
import type { Logger } from '../../shared/domain/ports';
import { REFRESH_COOLDOWN_MS } from '../../shared/domain/refresh';
import { GRANT_RETRY_POLICY, MAX_RETRY_AFTER_SECONDS } from '../../shared/domain/retry';
import { connect, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import { connectAll, expectCleanError, expectNothingLost, readLease, sleep } from './helpers';

const ACCOUNTS = ['slow-a', 'wrong-a', ...UNUSABLE_VARIANTS.map((v) => `unusable-${v.replaceAll('_', '-')}`)];

/** Log lines at warn and error, kept for the assertions on what the broker said. */
const lines: Array<{ level: string; message: string; attributes: Record<string, unknown> }> = [];
const capture =
  (level: string) =>
  (message: string, attributes: Record<string, unknown> = {}) =>
    lines.push({ level, message, attributes });
const logger: Logger = { debug: () => {}, info: () => {}, warn: capture('warn'), error: capture('error') };

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker({}, { retryPolicy: GRANT_RETRY_POLICY, logger });
  // Hour-long tokens: min_valid_seconds=43200 asks for a refresh, and the stale token is still valid.
  t.simulator.setAccessTokenTtl(3_600);
  await connectAll(t, ACCOUNTS);
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.setTokenLatency(0);
  t.simulator.resetStats();
  lines.length = 0;
});

const token = (account: string, query = '') => t.json<TokenBody>(`/tokens/lightspeed-x/${account}${query}`);
const metadata = async (account: string) =>
  (await t.json<{ status: string; last_error: string | null }>(`/connections/lightspeed-x/${account}`)).body;

describe('a slow answer after the provider rotated', () => {
  it('keeps the rotated refresh token when the answer arrives after 8 s', async () => {
    t.simulator.injectFault({ kind: 'hang', ms: 8_000, afterProcessing: true, grant: 'refresh_token' });
    const started = Date.now();
    const answer = await token('slow-a', '?force_refresh=true');
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(8_000);
    expect(t.simulator.stats()).toMatchObject({
      refreshes: 1,
      refreshAttempts: 1,
      revokedRefreshTokenUses: 0,
    });
    expect(await metadata('slow-a')).toMatchObject({ status: 'active', last_error: null });
    await expectNothingLost(t, ['slow-a']);
  }, 20_000);
});

describe('a 200 whose access-token part is unusable but carries the new refresh token', () => {
  it.each(UNUSABLE_VARIANTS)('keeps the rotated refresh token of a 200 with %s', async (variant) => {
    const account = `unusable-${variant.replaceAll('_', '-')}`;
    const before = await token(account);
    t.simulator.injectFault({ kind: 'unusable', variant, grant: 'refresh_token' });

    // Asking for more validity than is left: the caller gets the stale token or a 503, never a 500.
    const answer = await token(account, '?min_valid_seconds=43200');
    expect(t.simulator.stats().refreshes).toBe(1);
    if (variant.startsWith('expires_in')) {
      // A huge lifetime is clamped, not refused: the answer is used, its expiry a real date.
      expect(answer.status).toBe(200);
      expect(answer.body.stale).toBeUndefined();
      const expiresAt = Date.parse(answer.body.expires_at ?? '');
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 31 * 86_400_000);
      expect(expiresAt).toBeGreaterThan(Date.now() + 30 * 86_400_000);
    } else {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ stale: true, access_token: before.body.access_token });
      expect(await metadata(account)).toMatchObject({
        status: 'active',
        last_error: 'unusable_token_answer',
      });
      const forced = await token(account, '?force_refresh=true');
      // Forcing a refresh now uses the kept token: the provider refreshes, never sees a revoked one.
      expect(forced.status).toBe(200);
      expect(forced.body.access_token).not.toBe(before.body.access_token);
    }
    expect(t.simulator.stats()).toMatchObject({ revokedRefreshTokenUses: 0, invalidGrants: 0 });
    await expectNothingLost(t, [account]);
    const leaked = JSON.stringify(lines);
    expect(leaked).not.toContain(before.body.access_token);
  });

  it('labels the connection refresh_answer_lost when the rotated answer was cut off mid-body', async () => {
    await connect(t, 'cut-after');
    t.simulator.resetStats();
    t.simulator.injectFault({ kind: 'malformed', afterProcessing: true, grant: 'refresh_token' });
    const first = await token('cut-after', '?force_refresh=true');
    expect(first.status).toBe(503);
    expectCleanError(first.body, 'provider_unavailable');
    expect(t.simulator.stats()).toMatchObject({ refreshes: 1, refreshAttempts: 1 });

    const second = await token('cut-after', '?force_refresh=true');
    expect(second.status).toBe(409);
    expect(await metadata('cut-after')).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'refresh_answer_lost',
    });
    expect(t.simulator.stats().revokedRefreshTokenUses).toBe(1);
  });
});

describe('a token answer for another account', () => {
  it('refuses a refresh answer naming another domain_prefix and logs it; nothing is stored under either account', async () => {
    const before = await token('wrong-a');
    // The provider processed the grant (and rotated) but its answer names another store.
    t.simulator.injectFault({ kind: 'foreign_account', domainPrefix: 'other-store', grant: 'refresh_token' });
    const answer = await token('wrong-a', '?force_refresh=true');
    expect(answer.status).toBe(503);
    expectCleanError(answer.body, 'provider_unavailable');
    const after = await token('wrong-a');
    expect(after.body.access_token).toBe(before.body.access_token);
    expect(await metadata('wrong-a')).toMatchObject({ status: 'active', last_error: 'account_mismatch' });
    expect((await t.json('/connections/lightspeed-x/other-store')).status).toBe(404);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'the provider answered a refresh for another account; nothing was stored',
        attributes: expect.objectContaining({ account: 'wrong-a', answeredAccount: 'other-store' }),
      }),
    );
    // Its rotation is lost with the refused answer: the next refresh says so, not "disconnected".
    const next = await token('wrong-a', '?force_refresh=true');
    expect(next.status).toBe(409);
    expect(await metadata('wrong-a')).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'refresh_answer_lost',
    });
  });
});

describe('hold-offs', () => {
  it.each([
    ['a year in seconds', '31536000'],
    ['an HTTP date in 2099', 'Thu, 01 Jan 2099 00:00:00 GMT'],
    ['1e23', '1e23'],
    ['24 digits', '100000000000000000000000'],
  ])(
    'answers a Retry-After of %s with a whole-seconds Retry-After of at most 900 and releases the lease',
    async (_, header) => {
      const account = `hold-${header.length}-${header.charCodeAt(0)}`;
      await connect(t, account);
      t.simulator.injectFault({ kind: 'status', status: 429, retryAfter: header, grant: 'refresh_token' });
      const answer = await token(account, '?force_refresh=true');
      expect(answer.status).toBe(503);
      const retryAfter = answer.headers.get('retry-after') ?? '';
      expect(retryAfter).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeLessThanOrEqual(MAX_RETRY_AFTER_SECONDS);
      expect(await readLease(t.broker.dynamodbEndpoint, account)).toEqual({
        leaseOwner: undefined,
        leaseUntil: undefined,
      });
      expect(await metadata(account)).toMatchObject({ status: 'active' });
    },
  );
});

describe('a refresh storm', () => {
  it('makes at most a handful of provider calls for 300 force_refresh calls in 10 s, each answered with a token at most 5 s old', async () => {
    const storm = await startTestBroker(
      {},
      { retryPolicy: GRANT_RETRY_POLICY, refreshCooldownMs: REFRESH_COOLDOWN_MS },
    );
    try {
      await connect(storm, 'storm-one');
      storm.simulator.resetStats();
      const ttlMs = 86_400_000;
      const answers = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          await sleep(i * 33);
          const startedAt = Date.now();
          const answer = await storm.json<TokenBody>('/tokens/lightspeed-x/storm-one?force_refresh=true');
          return { answer, startedAt };
        }),
      );
      for (const { answer, startedAt } of answers) {
        expect(answer.status).toBe(200);
        // Issued at expiry minus the simulator's 24 h lifetime (1 s of rounding and transit allowed).
        const issuedAt = Date.parse(answer.body.expires_at ?? '') - ttlMs;
        expect(issuedAt).toBeGreaterThanOrEqual(startedAt - REFRESH_COOLDOWN_MS - 1_000);
      }
      const { refreshes } = storm.simulator.stats();
      expect(refreshes).toBeGreaterThanOrEqual(2);
      expect(refreshes).toBeLessThanOrEqual(4);
      expect(storm.simulator.stats().maxConcurrentRefreshesPerAccount).toBe(1);
    } finally {
      await storm.close();
    }
  }, 30_000);
});
