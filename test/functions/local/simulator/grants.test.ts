/** The token endpoint's grants: the code exchange (with PKCE) and the refresh. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  apiGet,
  authorizeUrl,
  CLIENT_ID,
  CLIENT_SECRET,
  codeFrom,
  connect,
  exchangeFields,
  postForm,
  REDIRECT_URI,
  refreshFields,
  restartSimulator,
  STATE,
  TOKEN_SHAPE,
  type TokenBody,
  t,
  tokenCall,
  tokenUrl,
  useLightspeedSimulator,
} from './harness';

useLightspeedSimulator();

describe('Lightspeed code exchange with PKCE (for testing the broker: X-Series has no PKCE)', () => {
  const VERIFIER = 'v'.repeat(43);
  const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

  it('requires the verifier of the S256 challenge the authorization carried', async () => {
    const pkce = { code_challenge: CHALLENGE, code_challenge_method: 'S256' };
    const code = codeFrom(t.sim.consent(authorizeUrl(pkce), { domainPrefix: 'demo-store' }));
    const missing = await tokenCall('demo-store', exchangeFields(code));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_grant');
    // A wrong or missing verifier spends the code, like any refused presentation.
    const again = codeFrom(t.sim.consent(authorizeUrl(pkce), { domainPrefix: 'demo-store' }));
    expect((await tokenCall('demo-store', exchangeFields(again, { code_verifier: VERIFIER }))).status).toBe(
      200,
    );
  });

  it('refuses a plain or malformed challenge at the authorization', () => {
    expect(() =>
      t.sim.consent(authorizeUrl({ code_challenge: CHALLENGE, code_challenge_method: 'plain' }), {
        domainPrefix: 'demo-store',
      }),
    ).toThrow(/S256/);
    expect(() =>
      t.sim.consent(authorizeUrl({ code_challenge: 'short', code_challenge_method: 'S256' }), {
        domainPrefix: 'demo-store',
      }),
    ).toThrow(/S256/);
  });

  it('answers with another store in domain_prefix under the foreign_account fault, after spending the code', async () => {
    t.sim.injectFault({ kind: 'foreign_account', domainPrefix: 'other-store', grant: 'authorization_code' });
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const answer = await tokenCall('demo-store', exchangeFields(code));
    expect(answer.status).toBe(200);
    expect(answer.body.domain_prefix).toBe('other-store');
    expect((await tokenCall('demo-store', exchangeFields(code))).body.error).toBe('invalid_grant');
  });
});

describe('Lightspeed code exchange', () => {
  it('accepts a code only once', async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    expect((await tokenCall('demo-store', exchangeFields(code))).status).toBe(200);
    const again = await tokenCall('demo-store', exchangeFields(code));
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect(t.sim.stats()).toMatchObject({ exchanges: 1, invalidGrants: 1, tokenCalls: 2 });
  });

  it('lets a code expire after 10 minutes', async () => {
    const fresh = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const stale = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    t.clock += 10 * 60 * 1000 - 1000;
    expect((await tokenCall('demo-store', exchangeFields(fresh))).status).toBe(200);
    t.clock += 1000;
    const expired = await tokenCall('demo-store', exchangeFields(stale));
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('invalid_grant');
  });

  it('requires exactly the redirect_uri the code was issued for', async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    for (const redirectUri of [`${REDIRECT_URI}?x=1`, 'https://broker.example/oauth/lightspeed-x/callback']) {
      const wrong = await tokenCall('demo-store', exchangeFields(code, { redirect_uri: redirectUri }));
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
    }
    expect((await tokenCall('demo-store', exchangeFields(code))).status).toBe(200);
  });

  it("refuses a code at another store's token endpoint", async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const other = await tokenCall('other-store', exchangeFields(code));
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_grant');
  });

  it('refuses parameters in the query string even when the body is complete', async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const response = await postForm(`${tokenUrl('demo-store')}?client_id=${CLIENT_ID}`, exchangeFields(code));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      error_description: 'parameters must be sent in the request body',
    });
    // The code was not spent by the refused call.
    expect((await tokenCall('demo-store', exchangeFields(code))).status).toBe(200);
  });

  it('refuses a JSON body', async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const response = await fetch(tokenUrl('demo-store'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(exchangeFields(code)),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as TokenBody).error).toBe('invalid_request');
  });

  it('answers a wrong client secret with 401 invalid_client', async () => {
    const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const response = await tokenCall('demo-store', exchangeFields(code, { client_secret: 'wrong' }));
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
    expect(JSON.stringify(response.body)).not.toContain(CLIENT_SECRET);
  });

  it('answers an unknown grant type with unsupported_grant_type', async () => {
    const response = await tokenCall('demo-store', {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('unsupported_grant_type');
  });

  it('answers a body over 64 KiB with 413', async () => {
    const response = await postForm(tokenUrl('demo-store'), { padding: 'x'.repeat(70 * 1024) });
    expect(response.status).toBe(413);
  });
});

describe('Lightspeed refresh', () => {
  it('rotates the refresh token and refuses the old one afterwards', async () => {
    const first = await connect();
    const refreshed = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toMatch(TOKEN_SHAPE);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(refreshed.body.access_token).not.toBe(first.access_token);

    const reused = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    expect(typeof reused.body.error_description).toBe('string');
    expect(t.sim.stats()).toMatchObject({
      refreshes: 1,
      refreshAttempts: 2,
      invalidGrants: 1,
      revokedRefreshTokenUses: 1,
      byAccount: { 'demo-store': { refreshes: 1, refreshAttempts: 2, maxConcurrentRefreshes: 1 } },
    });
    expect((await tokenCall('demo-store', refreshFields(refreshed.body.refresh_token ?? ''))).status).toBe(
      200,
    );
  });

  it('keeps earlier access tokens valid until they expire', async () => {
    const first = await connect();
    await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect((await apiGet('demo-store', '/2.0/outlets', first.access_token)).status).toBe(200);
  });

  it('returns domain_prefix and scope on refresh', async () => {
    const first = await connect('scoped-store');
    const { body } = await tokenCall('scoped-store', refreshFields(first.refresh_token));
    expect(body).toMatchObject({
      token_type: 'Bearer',
      domain_prefix: 'scoped-store',
      scope: 'outlets:read sales:read',
    });
  });

  it("refuses a refresh token at another store's endpoint", async () => {
    const first = await connect('demo-store');
    const response = await tokenCall('other-store', refreshFields(first.refresh_token));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_grant');
  });

  it('lets access tokens live expires_in seconds, while expires disagrees', async () => {
    t.sim.setAccessTokenTtl(3600);
    const first = await connect();
    const { body } = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(body.expires_in).toBe(3600);
    const issuedAt = t.clock;
    expect(body.expires).not.toBe(Math.floor(issuedAt / 1000) + 3600);
    const accessToken = body.access_token ?? '';

    t.clock = issuedAt + 3600 * 1000 - 1000;
    expect((await apiGet('demo-store', '/2.0/users', accessToken)).status).toBe(200);
    t.clock = issuedAt + 3600 * 1000;
    // Still before `expires`, yet the token is dead: expires_in is the truth.
    expect(t.clock / 1000).toBeLessThan(body.expires ?? 0);
    expect((await apiGet('demo-store', '/2.0/users', accessToken)).status).toBe(401);
  });

  it('honours the includeStateOnDenial and registers options', async () => {
    await restartSimulator({ includeStateOnDenial: true, registers: 2 });
    expect(new URL(t.sim.consent(authorizeUrl(), 'deny')).searchParams.get('state')).toBe(STATE);
    const tokens = await connect();
    const response = await apiGet('demo-store', '/2.0/outlets', tokens.access_token);
    expect(response.headers.get('x-ratelimit-limit')).toBe('650');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('649');
  });

  it('refuses every token of an account revoked by the retailer', async () => {
    const tokens = await connect();
    t.sim.revokeAccount('demo-store');
    expect((await apiGet('demo-store', '/2.0/outlets', tokens.access_token)).status).toBe(401);
    const refresh = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(refresh.body.error).toBe('invalid_grant');
    expect(t.sim.stats().revokedRefreshTokenUses).toBe(0);
  });

  it('does not rotate when rotation is switched off', async () => {
    await restartSimulator({ rotateRefreshTokens: false });
    const first = await connect();
    const refreshed = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeUndefined();
    expect((await tokenCall('demo-store', refreshFields(first.refresh_token))).status).toBe(200);
  });
});
