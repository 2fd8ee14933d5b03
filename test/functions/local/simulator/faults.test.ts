/** Token-endpoint faults and the token endpoint's rate limit. */
import { describe, expect, it } from 'vitest';
import {
  authorizeUrl,
  codeFrom,
  connect,
  exchangeFields,
  IMF_FIXDATE,
  postForm,
  refreshFields,
  restartSimulator,
  TOKEN_SHAPE,
  type TokenBody,
  t,
  tokenCall,
  tokenUrl,
  useLightspeedSimulator,
} from './harness';

useLightspeedSimulator();

describe('Lightspeed token-endpoint rate limit', () => {
  it('answers calls over the per-retailer limit with 429 and an HTTP-date Retry-After, other retailers unaffected', async () => {
    await restartSimulator({ tokenRateLimit: 2 });
    const first = await connect();
    const second = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(second.status).toBe(200);
    const third = await postForm(tokenUrl('demo-store'), refreshFields(second.body.refresh_token ?? ''));
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(IMF_FIXDATE);
    expect(await third.json()).toEqual({ error: 'Too Many Requests', message: 'Rate limiting enforced' });
    expect((await connect('other-store')).access_token).toMatch(TOKEN_SHAPE);
    // The refused call did not touch the refresh token: after the window it still works.
    t.clock += 5 * 60 * 1000;
    expect((await tokenCall('demo-store', refreshFields(second.body.refresh_token ?? ''))).status).toBe(200);
  });
});

describe('Lightspeed token-endpoint faults', () => {
  it('answers a 429 fault with the real body and an HTTP-date Retry-After, once', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'status', status: 429 });
    const limited = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'Too Many Requests', message: 'Rate limiting enforced' });
    const retryAfter = limited.response.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(IMF_FIXDATE);
    expect(Date.parse(retryAfter)).toBeGreaterThan(t.clock);
    // The refused call changed nothing: the same refresh token still works.
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('answers 500 with JSON and 503 with an HTML page', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'status', status: 500 });
    t.sim.injectFault({ kind: 'status', status: 503, retryAfter: '30' });
    const first = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(first.status).toBe(500);
    expect(((await first.json()) as TokenBody).error).toBe('server_error');
    const second = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(second.status).toBe(503);
    expect(second.headers.get('content-type')).toMatch(/^text\/html/);
    expect(second.headers.get('retry-after')).toBe('30');
    await second.text();
    expect(t.sim.stats()).toMatchObject({ refreshAttempts: 2, refreshes: 0, tokenCalls: 3 });
  });

  it('applies faults in FIFO order, honouring times and the grant filter', async () => {
    t.sim.injectFault({ kind: 'status', status: 500, grant: 'refresh_token', times: 2 });
    t.sim.injectFault({ kind: 'status', status: 502 });
    // The exchange skips the refresh-only fault and takes the next one.
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const exchange = await postForm(tokenUrl('demo-store'), exchangeFields(code));
    expect(exchange.status).toBe(502);
    await exchange.text();
    const tokens = await tokenCall('demo-store', exchangeFields(code));
    expect(tokens.status).toBe(200);
    const refreshToken = tokens.body.refresh_token ?? '';
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      statuses.push((await tokenCall('demo-store', refreshFields(refreshToken))).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
  });

  it('delays the answer by a hang fault', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'hang', ms: 300 });
    const started = performance.now();
    const response = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(response.status).toBe(200);
  });

  it('drops a hanging request the client aborts without rotating its token', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'hang', ms: 60_000 });
    await expect(
      postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token), {
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    const after = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(after.status).toBe(200);
    expect(t.sim.stats()).toMatchObject({ refreshAttempts: 2, refreshes: 1 });
  });

  it('loses the rotated token when a hang after processing is aborted', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'hang', ms: 60_000, afterProcessing: true });
    await expect(
      postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token), {
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    const after = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(after.body.error).toBe('invalid_grant');
    expect(t.sim.stats().revokedRefreshTokenUses).toBe(1);
  });

  it('answers a malformed fault with a 200 body that is not JSON', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'malformed' });
    const response = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(() => JSON.parse(text)).toThrow();
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('refuses a valid refresh token under an invalid_grant fault without revoking it', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'invalid_grant' });
    const refused = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(t.sim.stats().invalidGrants).toBe(1);
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('omits refresh_token and keeps the old one valid under omit_refresh_token', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'omit_refresh_token' });
    const legacy = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(legacy.status).toBe(200);
    expect(legacy.body).not.toHaveProperty('refresh_token');
    expect(legacy.body.access_token).toMatch(TOKEN_SHAPE);
    const next = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).toMatch(TOKEN_SHAPE);
  });

  it('refuses malformed faults', () => {
    expect(() => t.sim.injectFault({ kind: 'status', status: 200 })).toThrow(RangeError);
    expect(() => t.sim.injectFault({ kind: 'hang', ms: -1 })).toThrow(RangeError);
    expect(() => t.sim.injectFault({ kind: 'malformed', times: 0 })).toThrow(RangeError);
  });

  it('clears queued faults', async () => {
    const tokens = await connect();
    t.sim.injectFault({ kind: 'status', status: 500, times: 5 });
    t.sim.clearFaults();
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });
});
