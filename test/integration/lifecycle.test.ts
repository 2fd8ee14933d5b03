/**
 * What a SaaS backend can react to: domain events for every connection change, the personal-token
 * lifecycle (expiring status, the sweep's announcement, Xentral's 180-day rule, verification), and
 * the count of stores per provider app with the unapproved-app warning; and the audit of reads.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyId } from '../../functions/local/server';
import { connect, recorder, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';

const DAY = 86_400_000;
let t: TestBroker;
const seen = recorder();

beforeAll(async () => {
  t = await startTestBroker({}, { logger: seen.logger, events: seen.sink });
});
afterAll(() => t.close());
beforeEach(() => {
  seen.events.length = 0;
  seen.lines.length = 0;
  t.simulator.clearFaults();
});

const put = (provider: string, account: string, body: Record<string, unknown>) =>
  t.json(`/personal-tokens/${provider}/${account}`, { method: 'PUT', body: JSON.stringify(body) });
const types = () => seen.events.map((event) => `${event.type} ${event.account}`);

describe('events', () => {
  it('announces connected, refreshed, reauthorization_required and deleted, without tokens', async () => {
    await connect(t, 'event-store', { provider: 'lightspeed-x', reference: 'tenant-5' });
    const token = await t.json<TokenBody>('/tokens/lightspeed-x/event-store?force_refresh=true');
    t.simulator.revokeAccount('event-store');
    await t.json('/tokens/lightspeed-x/event-store?force_refresh=true');
    await t.api('/connections/lightspeed-x/event-store', { method: 'DELETE' });
    expect(types()).toEqual([
      'connection.connected event-store',
      'connection.refreshed event-store',
      'connection.reauthorization_required event-store',
      'connection.deleted event-store',
    ]);
    expect(seen.events[0]?.detail).toMatchObject({ reference: 'tenant-5' });
    expect(seen.events[2]?.detail).toMatchObject({ reason: 'invalid_grant', reference: 'tenant-5' });
    expect(JSON.stringify(seen.events)).not.toContain(token.body.access_token);
  });
});

describe('personal-token lifecycle', () => {
  it('shows a token expiring within 14 days as expiring, and the sweep announces it once', async () => {
    await put('xentral', 'soon', {
      token: 'expiring-soon-token',
      expires_at: new Date(Date.now() + 10 * DAY).toISOString(),
    });
    await put('xentral', 'later', {
      token: 'expiring-later-token',
      expires_at: new Date(Date.now() + 60 * DAY).toISOString(),
    });
    expect((await t.json('/connections/xentral/soon')).body.status).toBe('expiring');
    expect((await t.json('/connections/xentral/later')).body.status).toBe('active');
    const listed = await t.json<{ connections: { account: string }[] }>('/connections?status=expiring');
    expect(listed.body.connections.map((c) => c.account)).toEqual(['soon']);
    // Still usable while expiring.
    expect((await t.json<TokenBody>('/tokens/xentral/soon')).body.access_token).toBe('expiring-soon-token');

    const first = await t.broker.sweep();
    expect(first.personalExpiring).toBe(1);
    expect(types()).toEqual(['personal_token.expiring soon']);
    expect(seen.lines.some((line) => line.level === 'warn' && line.message.includes('expires soon'))).toBe(
      true,
    );
    const second = await t.broker.sweep();
    expect(second.personalExpiring).toBe(0);
    expect(types()).toHaveLength(1);
  });

  it('re-arms the announcement when the token is replaced', async () => {
    await put('xentral', 'renew', {
      token: 'first-renew-token',
      expires_at: new Date(Date.now() + 5 * DAY).toISOString(),
    });
    await t.broker.sweep();
    await put('xentral', 'renew', {
      token: 'second-renew-token',
      expires_at: new Date(Date.now() + 7 * DAY).toISOString(),
    });
    seen.events.length = 0;
    await t.broker.sweep();
    expect(types()).toEqual(['personal_token.expiring renew']);
  });

  it('refuses a Xentral expiry beyond the 180 days new tokens may live', async () => {
    const response = await put('xentral', 'far', {
      token: 'far-future-token',
      expires_at: new Date(Date.now() + 200 * DAY).toISOString(),
    });
    expect(response.status).toBe(400);
    expect(String(response.body.message)).toMatch(/expires_at.*180 days/);
    expect(
      (
        await put('xentral', 'far', {
          token: 'far-future-token',
          expires_at: new Date(Date.now() + 170 * DAY).toISOString(),
        })
      ).status,
    ).toBe(200);
  });

  it('verifies a Xentral token with one authenticated call before storing it', async () => {
    const valid = t.broker.xentralSimulator!.createToken('verified');
    const before = t.broker.xentralSimulator!.stats().apiCalls;
    expect((await put('xentral', 'verified', { token: valid, verify: true })).status).toBe(200);
    expect(t.broker.xentralSimulator!.stats().apiCalls).toBe(before + 1);
    const refused = await put('xentral', 'unverified', { token: 'not-a-real-xentral-token', verify: true });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_request' });
    expect(String(refused.body.message)).toMatch(/^body\.token: .*401/);
    expect((await t.json('/connections/xentral/unverified')).status).toBe(404);
  });

  it('verifies a Lightspeed token against the API and refuses one it does not accept', async () => {
    await connect(t, 'verify-store');
    const { body } = await t.json<TokenBody>('/tokens/lightspeed-x/verify-store');
    expect(
      (await put('lightspeed-x', 'verify-store', { token: body.access_token, verify: true })).status,
    ).toBe(200);
    const refused = await put('lightspeed-x', 'verify-store', {
      token: 'a-private-app-token-that-is-wrong',
      verify: true,
    });
    expect(refused.status).toBe(400);
    // The refused token did not replace the good one.
    await t.api('/connections/lightspeed-x/verify-store', { method: 'DELETE' });
  });

  it('answers 503 when the provider cannot be reached to verify, and stores nothing', async () => {
    // Port 1 on loopback refuses connections: an unreachable provider.
    const offline = await startTestBroker({ XENTRAL_API_BASE_URL: 'http://127.0.0.1:1/{account}/api' });
    try {
      const response = await offline.json('/personal-tokens/xentral/offline', {
        method: 'PUT',
        body: JSON.stringify({ token: 'cannot-verify-now', verify: true }),
      });
      expect(response.status).toBe(503);
      expect(response.body.error).toBe('provider_unavailable');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await offline.json('/connections/xentral/offline')).status).toBe(404);
    } finally {
      await offline.close();
    }
  });

  it('refuses a Lightspeed token for a store the provider does not know', async () => {
    const response = await put('lightspeed-x', 'never-connected', {
      token: 'token-for-an-unknown-store',
      verify: true,
    });
    expect(response.status).toBe(400);
    expect((await t.json('/connections/lightspeed-x/never-connected')).status).toBe(404);
  });
});

describe('stores per provider app', () => {
  it('reports connected stores per app in the listing and warns from 25 of the 30 an unapproved app may connect', async () => {
    const accounts = Array.from({ length: 26 }, (_, i) => `limit-${i}`);
    for (const account of accounts) await connect(t, account);
    const listing = await t.json<{
      apps: { provider: string; connected_stores: number; unapproved_app_limit: number }[];
    }>('/connections?provider=lightspeed-x&limit=1');
    const app = listing.body.apps.find((a) => a.provider === 'lightspeed-x');
    expect(app?.connected_stores).toBeGreaterThanOrEqual(26);
    expect(app?.unapproved_app_limit).toBe(30);
    const warnings = seen.lines.filter((line) => line.message.includes('near the store limit'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]?.attributes).toMatchObject({ provider: 'lightspeed-x', limit: 30 });

    // A store that disconnected the app (its refresh token refused) no longer counts.
    t.simulator.revokeAccount('limit-0');
    expect((await t.json('/tokens/lightspeed-x/limit-0?force_refresh=true')).status).toBe(409);
    const after = await t.json<{ apps: { provider: string; connected_stores: number }[] }>(
      '/connections?limit=1',
    );
    expect(after.body.apps.find((a) => a.provider === 'lightspeed-x')?.connected_stores).toBe(
      (app?.connected_stores ?? 0) - 1,
    );
  });
});

describe('audit of reads', () => {
  it('records every token handed out or refused: who, which account, source, outcome, never the token', async () => {
    await connect(t, 'audit-store');
    const handed = await t.json<TokenBody>('/tokens/lightspeed-x/audit-store');
    const refused = await t.json('/tokens/lightspeed-x/audit-nobody');
    expect(handed.status).toBe(200);
    expect(refused.status).toBe(404);

    const audit = seen.lines.filter(
      (line) => line.message === 'token handed out' || line.message === 'token refused',
    );
    expect(audit).toEqual([
      {
        level: 'info',
        message: 'token handed out',
        attributes: {
          provider: 'lightspeed-x',
          account: 'audit-store',
          caller: apiKeyId(t.broker.apiKey),
          source: 'oauth',
          stale: false,
          outcome: 'issued',
        },
      },
      {
        level: 'info',
        message: 'token refused',
        attributes: {
          provider: 'lightspeed-x',
          account: 'audit-nobody',
          caller: apiKeyId(t.broker.apiKey),
          outcome: 'not_found',
        },
      },
    ]);
    expect(apiKeyId(t.broker.apiKey)).toMatch(/^api-key:[0-9a-f]{12}$/);
    expect(JSON.stringify(seen.lines)).not.toContain(handed.body.access_token);
  });
});
