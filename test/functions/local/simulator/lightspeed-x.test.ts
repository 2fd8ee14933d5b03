/** Lightspeed as a whole: state across a restart, statistics, the REST API, routing and control. */
import { describe, expect, it } from 'vitest';
import {
  apiGet,
  apiUrl,
  CONTROL_KEY,
  connect,
  IMF_FIXDATE,
  postForm,
  REDIRECT_URI,
  refreshFields,
  restartSimulator,
  START,
  t,
  tokenCall,
  tokenUrl,
  useLightspeedSimulator,
} from './harness';

useLightspeedSimulator();

describe('Lightspeed state across a restart', () => {
  it('restores live tokens from a snapshot, without the rotated ones', async () => {
    const first = await connect();
    const refreshed = await tokenCall('demo-store', refreshFields(first.refresh_token));
    const changes: number[] = [];
    const snapshot = t.sim.snapshot();
    expect(snapshot.refreshTokens).toEqual([
      [refreshed.body.refresh_token, { domainPrefix: 'demo-store', scope: expect.any(String) }],
    ]);
    await restartSimulator({ restore: snapshot, onTokensChanged: () => changes.push(t.clock) });
    expect((await apiGet('demo-store', '/2.0/outlets', refreshed.body.access_token ?? '')).status).toBe(200);
    expect((await tokenCall('demo-store', refreshFields(first.refresh_token))).body.error).toBe(
      'invalid_grant',
    );
    const again = await tokenCall('demo-store', refreshFields(refreshed.body.refresh_token ?? ''));
    expect(again.status).toBe(200);
    expect(changes).toHaveLength(1);
  });

  it('leaves expired and revoked access tokens out of the snapshot', async () => {
    const first = await connect();
    await connect('other-store');
    t.sim.revokeAccount('other-store');
    expect(t.sim.snapshot().accessTokens.map(([token]) => token)).toEqual([first.access_token]);
    t.clock += 86_400_000;
    expect(t.sim.snapshot().accessTokens).toEqual([]);
  });
});

describe('Lightspeed concurrency accounting', () => {
  it('counts two overlapping refreshes of one account, one of which loses to rotation', async () => {
    const tokens = await connect();
    t.sim.setTokenLatency(150);
    const results = await Promise.all([
      tokenCall('demo-store', refreshFields(tokens.refresh_token)),
      tokenCall('demo-store', refreshFields(tokens.refresh_token)),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([200, 400]);
    const stats = t.sim.stats();
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(2);
    expect(stats.byAccount['demo-store']?.maxConcurrentRefreshes).toBe(2);
    expect(stats.revokedRefreshTokenUses).toBe(1);
  });

  it('keeps overlapping refreshes of different accounts apart', async () => {
    const a = await connect('store-a');
    const b = await connect('store-b');
    t.sim.setTokenLatency(100);
    await Promise.all([
      tokenCall('store-a', refreshFields(a.refresh_token)),
      tokenCall('store-b', refreshFields(b.refresh_token)),
    ]);
    const stats = t.sim.stats();
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(stats.byAccount['store-a']?.maxConcurrentRefreshes).toBe(1);
    expect(stats.refreshes).toBe(2);
  });

  it('counts sequential refreshes as one in flight', async () => {
    let { refresh_token: refreshToken } = await connect();
    t.sim.setTokenLatency(20);
    for (let i = 0; i < 3; i += 1) {
      const { body } = await tokenCall('demo-store', refreshFields(refreshToken));
      refreshToken = body.refresh_token ?? '';
    }
    expect(t.sim.stats().maxConcurrentRefreshesPerAccount).toBe(1);
    expect(t.sim.stats().refreshes).toBe(3);
  });
});

describe('Lightspeed REST API', () => {
  it('serves outlets and users to a valid access token', async () => {
    const tokens = await connect();
    const outlets = await apiGet('demo-store', '/2.0/outlets', tokens.access_token);
    expect(outlets.status).toBe(200);
    const body = (await outlets.json()) as { data: Array<{ id: string; name: string }> };
    expect(body.data.length).toBeGreaterThan(0);
    expect(body.data[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    const users = await apiGet('demo-store', '/2.0/users', tokens.access_token);
    expect(((await users.json()) as { data: Array<{ username: string }> }).data[0]?.username).toBe('admin');
    expect(t.sim.stats().apiCalls).toBe(2);
  });

  it('answers missing, invalid, foreign and expired tokens with 401 JSON', async () => {
    const tokens = await connect('demo-store');
    const unauthorized = async (response: Response) => {
      expect(response.status).toBe(401);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe('Unauthorized');
      expect(typeof body.message).toBe('string');
    };
    await unauthorized(await fetch(apiUrl('demo-store', '/2.0/outlets')));
    await unauthorized(await apiGet('demo-store', '/2.0/outlets', 'x'.repeat(40)));
    await unauthorized(await apiGet('other-store', '/2.0/outlets', tokens.access_token));
    t.clock += 86_400 * 1000;
    await unauthorized(await apiGet('demo-store', '/2.0/outlets', tokens.access_token));
  });

  it('rate-limits an account at 350 calls per 5 minutes with an HTTP-date Retry-After', async () => {
    const tokens = await connect();
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let batch = 0; batch < 7; batch += 1) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => apiGet('demo-store', '/2.0/outlets', tokens.access_token)),
      );
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      last = responses.at(-1);
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(350);
    expect(last?.headers.get('x-ratelimit-limit')).toBe('350');

    const limited = await apiGet('demo-store', '/2.0/outlets', tokens.access_token);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: 'Too Many Requests', message: 'Rate limiting enforced' });
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    const retryAfter = limited.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(IMF_FIXDATE);
    expect(Date.parse(retryAfter)).toBe(START + 5 * 60 * 1000);

    // Another account has its own budget; the window ends on time.
    const other = await connect('other-store');
    expect((await apiGet('other-store', '/2.0/outlets', other.access_token)).status).toBe(200);
    t.clock = START + 5 * 60 * 1000;
    expect((await apiGet('demo-store', '/2.0/outlets', tokens.access_token)).status).toBe(200);
  });
});

describe('Lightspeed routing and control', () => {
  it('builds configuration URLs that keep the {domain_prefix} template', () => {
    expect(t.urls).toEqual({
      authorizeUrl: `${t.origin}/_sim/lightspeed-x/connect`,
      tokenUrl: `${t.origin}/_sim/lightspeed-x/{domain_prefix}/api/1.0/token`,
      apiBaseUrl: `${t.origin}/_sim/lightspeed-x/{domain_prefix}/api`,
    });
  });

  it('answers unknown paths under the base path with 404 JSON', async () => {
    for (const path of [
      '/_sim/lightspeed-x/nope',
      '/_sim/lightspeed-x/demo-store/api/3.0/x',
      '/_sim/lightspeed-x',
    ]) {
      const response = await fetch(`${t.origin}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      await response.text();
    }
  });

  it('drives faults, settings and statistics through the control endpoints', async () => {
    await restartSimulator({ redirectUris: [REDIRECT_URI], controlKey: CONTROL_KEY });
    const control = (path: string, init: RequestInit = {}) =>
      fetch(`${t.origin}/_sim/lightspeed-x/_control/${path}`, {
        ...init,
        headers: { authorization: `Bearer ${CONTROL_KEY}`, ...init.headers },
      });
    const tokens = await connect();

    const queued = await control('faults', {
      method: 'POST',
      body: JSON.stringify({ kind: 'status', status: 503 }),
    });
    expect(queued.status).toBe(201);
    expect((await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token))).status).toBe(503);

    await control('faults', { method: 'POST', body: JSON.stringify({ kind: 'malformed', times: 3 }) });
    expect((await control('faults', { method: 'DELETE' })).status).toBe(200);

    const bad = await control('faults', { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).toBe(400);

    const settings = await control('settings', {
      method: 'POST',
      body: JSON.stringify({ accessTokenTtlSeconds: 120, tokenLatencyMs: 0 }),
    });
    expect(await settings.json()).toEqual({ accessTokenTtlSeconds: 120, tokenLatencyMs: 0 });
    const refreshed = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.expires_in).toBe(120);

    const stats = (await (await control('stats')).json()) as { tokenCalls: number; refreshes: number };
    expect(stats).toMatchObject({ tokenCalls: 3, refreshes: 1, exchanges: 1 });

    const reset = await control('reset-stats', { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(t.sim.stats()).toMatchObject({ tokenCalls: 0, refreshes: 0, byAccount: {} });
  });

  it('refuses a control request without the key, as a cross-site form would send it', async () => {
    await restartSimulator({ redirectUris: [REDIRECT_URI], controlKey: CONTROL_KEY });
    const tokens = await connect();
    const url = `${t.origin}/_sim/lightspeed-x/_control/revoke-account`;
    const form = {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: '{"domainPrefix":"demo-store"}',
    };
    const forged = await fetch(url, form);
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(url, {
      ...form,
      headers: { ...form.headers, authorization: 'Bearer not-the-key' },
    });
    expect(wrong.status).toBe(401);
    // Nothing was revoked: the refresh token still works.
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('has no control endpoints without a control key', async () => {
    const response = await fetch(`${t.origin}/_sim/lightspeed-x/_control/stats`, {
      headers: { authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(response.status).toBe(404);
    await response.text();
  });
});
