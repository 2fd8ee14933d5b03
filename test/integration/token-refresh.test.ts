/**
 * Token fetch and the refresh rules over HTTP through the local runtime, against the simulator:
 * rotation, a missing refresh_token, invalid_grant, retries, outages, degraded mode, single flight.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(() => t.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.setAccessTokenTtl(86_400);
  t.simulator.setTokenLatency(0);
  t.simulator.resetStats();
});

const token = (account: string, query = '') => t.json<TokenBody>(`/tokens/lightspeed-x/${account}${query}`);

describe('GET /tokens/{provider}/{account}', () => {
  it('returns the stored token without calling the provider while it is valid long enough', async () => {
    await connect(t, 'fresh-store');
    t.simulator.resetStats();
    const first = await token('fresh-store');
    const second = await token('fresh-store');
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body).toMatchObject({
      provider: 'lightspeed-x',
      account: 'fresh-store',
      token_type: 'Bearer',
      source: 'oauth',
      api_base_url: `${t.url}/_sim/lightspeed-x/fresh-store/api`,
    });
    expect(second.body.access_token).toBe(first.body.access_token);
    expect(t.simulator.stats().tokenCalls).toBe(0);
  });

  it('computes expires_at from expires_in at receipt, not from the absolute expires', async () => {
    const before = Date.now();
    await connect(t, 'expiry-store');
    const { body } = await token('expiry-store');
    const expiresAt = Date.parse(body.expires_at ?? '');
    expect(expiresAt).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000);
  });

  it('returns a token that works against the provider API', async () => {
    await connect(t, 'api-store');
    const { body } = await token('api-store');
    const response = await fetch(`${body.api_base_url}/2.0/outlets`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
  });

  it('refreshes first when the token would expire within min_valid_seconds', async () => {
    t.simulator.setAccessTokenTtl(600);
    await connect(t, 'margin-store');
    t.simulator.resetStats();
    const stored = await token('margin-store', '?min_valid_seconds=300');
    expect(t.simulator.stats().refreshes).toBe(0);
    t.simulator.setAccessTokenTtl(86_400);
    const refreshed = await token('margin-store', '?min_valid_seconds=900');
    expect(t.simulator.stats().refreshes).toBe(1);
    expect(refreshed.body.access_token).not.toBe(stored.body.access_token);
  });

  it('uses the rotated refresh token on the next refresh', async () => {
    await connect(t, 'rotate-store');
    for (let i = 0; i < 3; i++) expect((await token('rotate-store', '?force_refresh=true')).status).toBe(200);
    const stats = t.simulator.stats();
    expect(stats.byAccount['rotate-store']?.refreshes).toBe(3);
    expect(stats.invalidGrants).toBe(0);
    expect(stats.revokedRefreshTokenUses).toBe(0);
  });

  it('keeps the stored refresh token when the refresh response has none', async () => {
    await connect(t, 'legacy-store');
    t.simulator.injectFault({ kind: 'omit_refresh_token' });
    expect((await token('legacy-store', '?force_refresh=true')).status).toBe(200);
    // The next refresh must still present a valid refresh token.
    const next = await token('legacy-store', '?force_refresh=true');
    expect(next.status).toBe(200);
    expect(t.simulator.stats().invalidGrants).toBe(0);
  });

  it('marks the connection reauthorization_required on invalid_grant and stops calling the provider', async () => {
    await connect(t, 'dead-store');
    t.simulator.revokeAccount('dead-store');
    t.simulator.resetStats();
    const refused = await token('dead-store', '?force_refresh=true');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('reauthorization_required');
    const calls = t.simulator.stats().tokenCalls;
    expect(calls).toBe(1);
    for (let i = 0; i < 3; i++) {
      expect((await token('dead-store', '?force_refresh=true')).body.error).toBe('reauthorization_required');
    }
    expect(t.simulator.stats().tokenCalls).toBe(calls);
    expect((await t.json('/connections/lightspeed-x/dead-store')).body).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'invalid_grant',
    });
    const listed = await t.json<{ connections: { account: string }[] }>(
      '/connections?provider=lightspeed-x&status=reauthorization_required',
    );
    expect(listed.body.connections.map((c) => c.account)).toContain('dead-store');
  });

  it('retries a 500 and answers with the refreshed token', async () => {
    await connect(t, 'flaky-store');
    t.simulator.resetStats();
    t.simulator.injectFault({ kind: 'status', status: 500, times: 2, grant: 'refresh_token' });
    const response = await token('flaky-store', '?force_refresh=true');
    expect(response.status).toBe(200);
    expect(t.simulator.stats().refreshAttempts).toBe(3);
    expect(t.simulator.stats().refreshes).toBe(1);
  });

  it('retries a 429 after its HTTP-date Retry-After', async () => {
    await connect(t, 'busy-store');
    t.simulator.resetStats();
    t.simulator.injectFault({
      kind: 'status',
      status: 429,
      grant: 'refresh_token',
      retryAfter: new Date(Date.now() + 1000).toUTCString(),
    });
    const started = Date.now();
    const response = await token('busy-store', '?force_refresh=true');
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(t.simulator.stats().refreshAttempts).toBe(2);
  });

  it('answers 503 with Retry-After during a persistent outage and keeps the connection active', async () => {
    await connect(t, 'outage-store');
    t.simulator.injectFault({ kind: 'status', status: 503, times: 100, grant: 'refresh_token' });
    const response = await token('outage-store', '?force_refresh=true');
    expect(response.status).toBe(503);
    expect(response.body.error).toBe('provider_unavailable');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.stringify(response.body)).not.toContain('html');
    expect((await t.json('/connections/lightspeed-x/outage-store')).body).toMatchObject({ status: 'active' });
    t.simulator.clearFaults();
    expect((await token('outage-store', '?force_refresh=true')).status).toBe(200);
  });

  it('degrades to the stored token marked stale when a refresh asked by min_valid_seconds fails', async () => {
    t.simulator.setAccessTokenTtl(3600);
    await connect(t, 'stale-store');
    const stored = await token('stale-store');
    t.simulator.injectFault({ kind: 'status', status: 502, times: 100, grant: 'refresh_token' });
    const degraded = await token('stale-store', '?min_valid_seconds=43200');
    t.simulator.clearFaults();
    expect(degraded.status).toBe(200);
    expect(degraded.body.stale).toBe(true);
    expect(degraded.body.access_token).toBe(stored.body.access_token);
  });

  it('answers 503 instead of a stale token when force_refresh is asked during an outage', async () => {
    await connect(t, 'forced-store');
    t.simulator.injectFault({ kind: 'status', status: 502, times: 100, grant: 'refresh_token' });
    const forced = await token('forced-store', '?force_refresh=true');
    t.simulator.clearFaults();
    expect(forced.status).toBe(503);
    expect(forced.body.error).toBe('provider_unavailable');
  });

  it('answers 503 once nothing valid is left during an outage', async () => {
    t.simulator.setAccessTokenTtl(1);
    await connect(t, 'expired-store');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    t.simulator.injectFault({ kind: 'status', status: 500, times: 100, grant: 'refresh_token' });
    const response = await token('expired-store', '?min_valid_seconds=0');
    t.simulator.clearFaults();
    expect(response.status).toBe(503);
    expect(response.body.stale).toBeUndefined();
    expect(response.body.access_token).toBeUndefined();
  });

  it('answers 503 to an unreadable 200 without presenting the refresh token again, and refreshes on the next call', async () => {
    await connect(t, 'garbled-store');
    t.simulator.resetStats();
    t.simulator.injectFault({ kind: 'malformed', grant: 'refresh_token' });
    const response = await token('garbled-store', '?force_refresh=true');
    expect(response.status).toBe(503);
    expect(t.simulator.stats().refreshAttempts).toBe(1);
    expect((await token('garbled-store', '?force_refresh=true')).status).toBe(200);
    expect(t.simulator.stats().invalidGrants).toBe(0);
  });

  it('gives 40 concurrent callers one provider refresh and one token', async () => {
    t.simulator.setAccessTokenTtl(120);
    await connect(t, 'herd-store');
    t.simulator.resetStats();
    t.simulator.setAccessTokenTtl(86_400);
    t.simulator.setTokenLatency(200);
    const answers = await Promise.all(Array.from({ length: 40 }, () => token('herd-store')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.access_token)).size).toBe(1);
    expect(t.simulator.stats().refreshAttempts).toBe(1);
    expect(t.simulator.stats().maxConcurrentRefreshesPerAccount).toBe(1);
  });

  it('answers 404 for an account that was never connected', async () => {
    const { status, body } = await token('never-store');
    expect(status).toBe(404);
    expect(body.error).toBe('not_found');
  });

  it.each([
    ['/tokens/lightspeed-x/UPPER', 'path.account'],
    ['/tokens/lightspeed-x/a_b', 'path.account'],
    ['/tokens/lightspeed-x/-lead', 'path.account'],
    [`/tokens/lightspeed-x/${'a'.repeat(64)}`, 'path.account'],
    ['/tokens/toast/shop', 'path.provider'],
    ['/tokens/lightspeed-x/shop?min_valid_seconds=-1', 'query.min_valid_seconds'],
    ['/tokens/lightspeed-x/shop?min_valid_seconds=99999', 'query.min_valid_seconds'],
    ['/tokens/lightspeed-x/shop?force_refresh=yes', 'query.force_refresh'],
    ['/tokens/lightspeed-x/shop?mystery=1', 'mystery'],
  ])('answers 400 naming the field for %s', async (path, field) => {
    const calls = t.simulator.stats().tokenCalls;
    const { status, body } = await t.json(path);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_request');
    expect(String(body.message)).toContain(field);
    expect(t.simulator.stats().tokenCalls).toBe(calls);
  });
});
