import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LightspeedSimulator, XentralSimulator } from '../../../functions/local/simulator';

const CLIENT_ID = 'sim-client-id';
const CLIENT_SECRET = 'sim-client-secret-0123456789';
const CONTROL_KEY = 'sim-control-key-0123456789';
const REDIRECT_URI = 'http://127.0.0.1:8787/oauth/lightspeed-x/callback';
const STATE = 'state-abcdefgh-1234';
const START = Date.parse('2026-05-01T08:00:00Z');
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const TOKEN_SHAPE = /^[A-Za-z0-9]{40,}$/;

interface TokenBody {
  access_token?: string;
  token_type?: string;
  expires?: number;
  expires_in?: number;
  refresh_token?: string;
  domain_prefix?: string;
  scope?: string;
  error?: string;
  error_description?: string;
}

let clock = START;
let sim: LightspeedSimulator;
let origin: string;
let urls: { authorizeUrl: string; tokenUrl: string; apiBaseUrl: string };

beforeEach(async () => {
  clock = START;
  sim = new LightspeedSimulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI, 'https://broker.example/oauth/lightspeed-x/callback'],
    now: () => clock,
  });
  origin = await sim.listen(0);
  urls = sim.urls(origin);
});

afterEach(async () => {
  await sim.close();
});

/** Replaces the simulator with one built with these options (on the test clock, a new port). */
async function restartSimulator(options: Partial<ConstructorParameters<typeof LightspeedSimulator>[0]>) {
  await sim.close();
  sim = new LightspeedSimulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    now: () => clock,
    ...options,
  });
  origin = await sim.listen(0);
  urls = sim.urls(origin);
}

function authorizeUrl(overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    state: STATE,
    scope: 'outlets:read sales:read',
    ...overrides,
  };
  const url = new URL(urls.authorizeUrl);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}

const tokenUrl = (domainPrefix: string): string => urls.tokenUrl.replace('{domain_prefix}', domainPrefix);
const apiUrl = (domainPrefix: string, path: string): string =>
  `${urls.apiBaseUrl.replace('{domain_prefix}', domainPrefix)}${path}`;

function postForm(url: string, fields: Record<string, string>, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual', ...init });
}

async function tokenCall(
  domainPrefix: string,
  fields: Record<string, string>,
  init: RequestInit = {},
): Promise<{ status: number; body: TokenBody; response: Response }> {
  const response = await postForm(tokenUrl(domainPrefix), fields, init);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as TokenBody, response };
}

function codeFrom(callback: string): string {
  const code = new URL(callback).searchParams.get('code');
  if (code === null) throw new Error('the callback carries no code');
  return code;
}

function exchangeFields(code: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uri: REDIRECT_URI,
    ...overrides,
  };
}

function refreshFields(refreshToken: string): Record<string, string> {
  return {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  };
}

async function connect(
  domainPrefix = 'demo-store',
): Promise<Required<Pick<TokenBody, 'access_token' | 'refresh_token'>>> {
  const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix }));
  const { status, body } = await tokenCall(domainPrefix, exchangeFields(code));
  expect(status).toBe(200);
  if (body.access_token === undefined || body.refresh_token === undefined) throw new Error('tokens missing');
  return { access_token: body.access_token, refresh_token: body.refresh_token };
}

function apiGet(domainPrefix: string, path: string, accessToken: string): Promise<Response> {
  return fetch(apiUrl(domainPrefix, path), { headers: { authorization: `Bearer ${accessToken}` } });
}

describe('Lightspeed authorize endpoint', () => {
  it('answers an unregistered redirect_uri with a 400 page and never redirects to it', async () => {
    for (const redirectUri of [
      'https://evil.example/callback',
      `${REDIRECT_URI}?extra=1`,
      `${REDIRECT_URI}/`,
    ]) {
      const response = await fetch(authorizeUrl({ redirect_uri: redirectUri }), { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toContain('redirect_uri does not match');
    }
  });

  it('refuses an unknown client_id with a 400 page', async () => {
    const response = await fetch(authorizeUrl({ client_id: 'someone-else' }), { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('requires a state of at least 8 characters', async () => {
    for (const state of ['short', undefined]) {
      const url = new URL(authorizeUrl());
      if (state === undefined) url.searchParams.delete('state');
      else url.searchParams.set('state', state);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('state required');
    }
  });

  it('redirects a request without scope to access_denied, keeping the state', async () => {
    for (const scope of [undefined, '', '   ']) {
      const url = new URL(authorizeUrl());
      if (scope === undefined) url.searchParams.delete('scope');
      else url.searchParams.set('scope', scope);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe(STATE);
      expect(location.searchParams.has('code')).toBe(false);
    }
  });

  it('renders an accessible consent page that escapes every value', async () => {
    const hostileState = '"><script>alert(1)</script>';
    const response = await fetch(authorizeUrl({ state: hostileState, scope: 'outlets:read <b>x</b>' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('name="viewport"');
    expect(html).toContain('<label for="domain_prefix">Store domain prefix</label>');
    expect(html).toMatch(/<input type="text" id="domain_prefix" name="domain_prefix" value="demo-store"/);
    expect(html).toMatch(/<button[^>]*value="allow"[^>]*>Allow<\/button>/);
    expect(html).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
    expect(html).toContain(CLIENT_ID);
    expect(html).toContain('<code>outlets:read</code>');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&#34;&#62;&#60;script&#62;');
    expect(html).not.toMatch(/<link|src=|https?:\/\/(?!127\.0\.0\.1)/);
  });
});

/** Reads the consent form the way a browser would: its action and every named input. */
function parseConsentForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  if (action === undefined) throw new Error('no form');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="(?:hidden|text)"[^>]*?name="([^"]+)" value="([^"]*)"/g)) {
    const [, name, value] = match;
    if (name !== undefined && value !== undefined) fields[name] = value.replaceAll('&#34;', '"');
  }
  return { action, fields };
}

describe('Lightspeed consent', () => {
  it('issues a code through the consent form that exchanges for tokens', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    expect(fields).toMatchObject({ client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: STATE });

    const allow = await postForm(new URL(action, origin).toString(), {
      ...fields,
      domain_prefix: 'corner-shop',
      decision: 'allow',
    });
    expect(allow.status).toBe(302);
    const callback = new URL(allow.headers.get('location') ?? '');
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('domain_prefix')).toBe('corner-shop');
    expect(callback.searchParams.get('state')).toBe(STATE);
    const code = callback.searchParams.get('code') ?? '';
    expect(code.length).toBeGreaterThanOrEqual(32);

    const { status, body } = await tokenCall('corner-shop', exchangeFields(code));
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(86_400);
    expect(typeof body.expires).toBe('number');
    expect(body.access_token).toMatch(TOKEN_SHAPE);
    expect(body.refresh_token).toMatch(TOKEN_SHAPE);
    expect(sim.stats().exchanges).toBe(1);
  });

  it('redirects a denial to access_denied without state', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const deny = await postForm(new URL(action, origin).toString(), { ...fields, decision: 'deny' });
    expect(deny.status).toBe(302);
    const callback = new URL(deny.headers.get('location') ?? '');
    expect(callback.search).toBe('?error=access_denied');
    expect(sim.consent(authorizeUrl(), 'deny')).toBe(`${REDIRECT_URI}?error=access_denied`);
  });

  it('shows the form again when the domain prefix is not a DNS label', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const response = await postForm(new URL(action, origin).toString(), {
      ...fields,
      domain_prefix: 'bad_prefix!',
      decision: 'allow',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const html = await response.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('value="bad_prefix!"');
    expect(() => sim.consent(authorizeUrl(), { domainPrefix: '-bad-' })).toThrow(/DNS label/);
  });

  it('re-checks the hidden fields, refusing a tampered redirect_uri', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const response = await postForm(new URL(action, origin).toString(), {
      ...fields,
      redirect_uri: 'https://evil.example/cb',
      domain_prefix: 'demo-store',
      decision: 'allow',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});

describe('Lightspeed code exchange with PKCE (for testing the broker: X-Series has no PKCE)', () => {
  const VERIFIER = 'v'.repeat(43);
  const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

  it('requires the verifier of the S256 challenge the authorization carried', async () => {
    const pkce = { code_challenge: CHALLENGE, code_challenge_method: 'S256' };
    const code = codeFrom(sim.consent(authorizeUrl(pkce), { domainPrefix: 'demo-store' }));
    const missing = await tokenCall('demo-store', exchangeFields(code));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_grant');
    // A wrong or missing verifier spends the code, like any refused presentation.
    const again = codeFrom(sim.consent(authorizeUrl(pkce), { domainPrefix: 'demo-store' }));
    expect((await tokenCall('demo-store', exchangeFields(again, { code_verifier: VERIFIER }))).status).toBe(
      200,
    );
  });

  it('refuses a plain or malformed challenge at the authorization', () => {
    expect(() =>
      sim.consent(authorizeUrl({ code_challenge: CHALLENGE, code_challenge_method: 'plain' }), {
        domainPrefix: 'demo-store',
      }),
    ).toThrow(/S256/);
    expect(() =>
      sim.consent(authorizeUrl({ code_challenge: 'short', code_challenge_method: 'S256' }), {
        domainPrefix: 'demo-store',
      }),
    ).toThrow(/S256/);
  });

  it('answers with another store in domain_prefix under the foreign_account fault, after spending the code', async () => {
    sim.injectFault({ kind: 'foreign_account', domainPrefix: 'other-store', grant: 'authorization_code' });
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const answer = await tokenCall('demo-store', exchangeFields(code));
    expect(answer.status).toBe(200);
    expect(answer.body.domain_prefix).toBe('other-store');
    expect((await tokenCall('demo-store', exchangeFields(code))).body.error).toBe('invalid_grant');
  });
});

describe('Lightspeed code exchange', () => {
  it('accepts a code only once', async () => {
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    expect((await tokenCall('demo-store', exchangeFields(code))).status).toBe(200);
    const again = await tokenCall('demo-store', exchangeFields(code));
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect(sim.stats()).toMatchObject({ exchanges: 1, invalidGrants: 1, tokenCalls: 2 });
  });

  it('lets a code expire after 10 minutes', async () => {
    const fresh = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const stale = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    clock += 10 * 60 * 1000 - 1000;
    expect((await tokenCall('demo-store', exchangeFields(fresh))).status).toBe(200);
    clock += 1000;
    const expired = await tokenCall('demo-store', exchangeFields(stale));
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('invalid_grant');
  });

  it('requires exactly the redirect_uri the code was issued for', async () => {
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    for (const redirectUri of [`${REDIRECT_URI}?x=1`, 'https://broker.example/oauth/lightspeed-x/callback']) {
      const wrong = await tokenCall('demo-store', exchangeFields(code, { redirect_uri: redirectUri }));
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
    }
    expect((await tokenCall('demo-store', exchangeFields(code))).status).toBe(200);
  });

  it("refuses a code at another store's token endpoint", async () => {
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const other = await tokenCall('other-store', exchangeFields(code));
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_grant');
  });

  it('refuses parameters in the query string even when the body is complete', async () => {
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
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
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
    const response = await fetch(tokenUrl('demo-store'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(exchangeFields(code)),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as TokenBody).error).toBe('invalid_request');
  });

  it('answers a wrong client secret with 401 invalid_client', async () => {
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
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
    expect(sim.stats()).toMatchObject({
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
    sim.setAccessTokenTtl(3600);
    const first = await connect();
    const { body } = await tokenCall('demo-store', refreshFields(first.refresh_token));
    expect(body.expires_in).toBe(3600);
    const issuedAt = clock;
    expect(body.expires).not.toBe(Math.floor(issuedAt / 1000) + 3600);
    const accessToken = body.access_token ?? '';

    clock = issuedAt + 3600 * 1000 - 1000;
    expect((await apiGet('demo-store', '/2.0/users', accessToken)).status).toBe(200);
    clock = issuedAt + 3600 * 1000;
    // Still before `expires`, yet the token is dead: expires_in is the truth.
    expect(clock / 1000).toBeLessThan(body.expires ?? 0);
    expect((await apiGet('demo-store', '/2.0/users', accessToken)).status).toBe(401);
  });

  it('honours the includeStateOnDenial and registers options', async () => {
    await restartSimulator({ includeStateOnDenial: true, registers: 2 });
    expect(new URL(sim.consent(authorizeUrl(), 'deny')).searchParams.get('state')).toBe(STATE);
    const tokens = await connect();
    const response = await apiGet('demo-store', '/2.0/outlets', tokens.access_token);
    expect(response.headers.get('x-ratelimit-limit')).toBe('650');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('649');
  });

  it('refuses every token of an account revoked by the retailer', async () => {
    const tokens = await connect();
    sim.revokeAccount('demo-store');
    expect((await apiGet('demo-store', '/2.0/outlets', tokens.access_token)).status).toBe(401);
    const refresh = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(refresh.body.error).toBe('invalid_grant');
    expect(sim.stats().revokedRefreshTokenUses).toBe(0);
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
    clock += 5 * 60 * 1000;
    expect((await tokenCall('demo-store', refreshFields(second.body.refresh_token ?? ''))).status).toBe(200);
  });
});

describe('Lightspeed state across a restart', () => {
  it('restores live tokens from a snapshot, without the rotated ones', async () => {
    const first = await connect();
    const refreshed = await tokenCall('demo-store', refreshFields(first.refresh_token));
    const changes: number[] = [];
    const snapshot = sim.snapshot();
    expect(snapshot.refreshTokens).toEqual([
      [refreshed.body.refresh_token, { domainPrefix: 'demo-store', scope: expect.any(String) }],
    ]);
    await restartSimulator({ restore: snapshot, onTokensChanged: () => changes.push(clock) });
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
    sim.revokeAccount('other-store');
    expect(sim.snapshot().accessTokens.map(([token]) => token)).toEqual([first.access_token]);
    clock += 86_400_000;
    expect(sim.snapshot().accessTokens).toEqual([]);
  });
});

describe('Lightspeed concurrency accounting', () => {
  it('counts two overlapping refreshes of one account, one of which loses to rotation', async () => {
    const tokens = await connect();
    sim.setTokenLatency(150);
    const results = await Promise.all([
      tokenCall('demo-store', refreshFields(tokens.refresh_token)),
      tokenCall('demo-store', refreshFields(tokens.refresh_token)),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([200, 400]);
    const stats = sim.stats();
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(2);
    expect(stats.byAccount['demo-store']?.maxConcurrentRefreshes).toBe(2);
    expect(stats.revokedRefreshTokenUses).toBe(1);
  });

  it('keeps overlapping refreshes of different accounts apart', async () => {
    const a = await connect('store-a');
    const b = await connect('store-b');
    sim.setTokenLatency(100);
    await Promise.all([
      tokenCall('store-a', refreshFields(a.refresh_token)),
      tokenCall('store-b', refreshFields(b.refresh_token)),
    ]);
    const stats = sim.stats();
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(stats.byAccount['store-a']?.maxConcurrentRefreshes).toBe(1);
    expect(stats.refreshes).toBe(2);
  });

  it('counts sequential refreshes as one in flight', async () => {
    let { refresh_token: refreshToken } = await connect();
    sim.setTokenLatency(20);
    for (let i = 0; i < 3; i += 1) {
      const { body } = await tokenCall('demo-store', refreshFields(refreshToken));
      refreshToken = body.refresh_token ?? '';
    }
    expect(sim.stats().maxConcurrentRefreshesPerAccount).toBe(1);
    expect(sim.stats().refreshes).toBe(3);
  });
});

describe('Lightspeed token-endpoint faults', () => {
  it('answers a 429 fault with the real body and an HTTP-date Retry-After, once', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'status', status: 429 });
    const limited = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'Too Many Requests', message: 'Rate limiting enforced' });
    const retryAfter = limited.response.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(IMF_FIXDATE);
    expect(Date.parse(retryAfter)).toBeGreaterThan(clock);
    // The refused call changed nothing: the same refresh token still works.
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('answers 500 with JSON and 503 with an HTML page', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'status', status: 500 });
    sim.injectFault({ kind: 'status', status: 503, retryAfter: '30' });
    const first = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(first.status).toBe(500);
    expect(((await first.json()) as TokenBody).error).toBe('server_error');
    const second = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(second.status).toBe(503);
    expect(second.headers.get('content-type')).toMatch(/^text\/html/);
    expect(second.headers.get('retry-after')).toBe('30');
    await second.text();
    expect(sim.stats()).toMatchObject({ refreshAttempts: 2, refreshes: 0, tokenCalls: 3 });
  });

  it('applies faults in FIFO order, honouring times and the grant filter', async () => {
    sim.injectFault({ kind: 'status', status: 500, grant: 'refresh_token', times: 2 });
    sim.injectFault({ kind: 'status', status: 502 });
    // The exchange skips the refresh-only fault and takes the next one.
    const code = codeFrom(sim.consent(authorizeUrl(), { domainPrefix: 'demo-store' }));
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
    sim.injectFault({ kind: 'hang', ms: 300 });
    const started = performance.now();
    const response = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(response.status).toBe(200);
  });

  it('drops a hanging request the client aborts without rotating its token', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'hang', ms: 60_000 });
    await expect(
      postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token), {
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    const after = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(after.status).toBe(200);
    expect(sim.stats()).toMatchObject({ refreshAttempts: 2, refreshes: 1 });
  });

  it('loses the rotated token when a hang after processing is aborted', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'hang', ms: 60_000, afterProcessing: true });
    await expect(
      postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token), {
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    const after = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(after.body.error).toBe('invalid_grant');
    expect(sim.stats().revokedRefreshTokenUses).toBe(1);
  });

  it('answers a malformed fault with a 200 body that is not JSON', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'malformed' });
    const response = await postForm(tokenUrl('demo-store'), refreshFields(tokens.refresh_token));
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(() => JSON.parse(text)).toThrow();
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('refuses a valid refresh token under an invalid_grant fault without revoking it', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'invalid_grant' });
    const refused = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(sim.stats().invalidGrants).toBe(1);
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
  });

  it('omits refresh_token and keeps the old one valid under omit_refresh_token', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'omit_refresh_token' });
    const legacy = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(legacy.status).toBe(200);
    expect(legacy.body).not.toHaveProperty('refresh_token');
    expect(legacy.body.access_token).toMatch(TOKEN_SHAPE);
    const next = await tokenCall('demo-store', refreshFields(tokens.refresh_token));
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).toMatch(TOKEN_SHAPE);
  });

  it('refuses malformed faults', () => {
    expect(() => sim.injectFault({ kind: 'status', status: 200 })).toThrow(RangeError);
    expect(() => sim.injectFault({ kind: 'hang', ms: -1 })).toThrow(RangeError);
    expect(() => sim.injectFault({ kind: 'malformed', times: 0 })).toThrow(RangeError);
  });

  it('clears queued faults', async () => {
    const tokens = await connect();
    sim.injectFault({ kind: 'status', status: 500, times: 5 });
    sim.clearFaults();
    expect((await tokenCall('demo-store', refreshFields(tokens.refresh_token))).status).toBe(200);
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
    expect(sim.stats().apiCalls).toBe(2);
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
    clock += 86_400 * 1000;
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
    clock = START + 5 * 60 * 1000;
    expect((await apiGet('demo-store', '/2.0/outlets', tokens.access_token)).status).toBe(200);
  });
});

describe('Lightspeed routing and control', () => {
  it('builds configuration URLs that keep the {domain_prefix} template', () => {
    expect(urls).toEqual({
      authorizeUrl: `${origin}/_sim/lightspeed-x/connect`,
      tokenUrl: `${origin}/_sim/lightspeed-x/{domain_prefix}/api/1.0/token`,
      apiBaseUrl: `${origin}/_sim/lightspeed-x/{domain_prefix}/api`,
    });
  });

  it('answers unknown paths under the base path with 404 JSON', async () => {
    for (const path of [
      '/_sim/lightspeed-x/nope',
      '/_sim/lightspeed-x/demo-store/api/3.0/x',
      '/_sim/lightspeed-x',
    ]) {
      const response = await fetch(`${origin}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      await response.text();
    }
  });

  it('drives faults, settings and statistics through the control endpoints', async () => {
    await restartSimulator({ redirectUris: [REDIRECT_URI], controlKey: CONTROL_KEY });
    const control = (path: string, init: RequestInit = {}) =>
      fetch(`${origin}/_sim/lightspeed-x/_control/${path}`, {
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
    expect(sim.stats()).toMatchObject({ tokenCalls: 0, refreshes: 0, byAccount: {} });
  });

  it('refuses a control request without the key, as a cross-site form would send it', async () => {
    await restartSimulator({ redirectUris: [REDIRECT_URI], controlKey: CONTROL_KEY });
    const tokens = await connect();
    const url = `${origin}/_sim/lightspeed-x/_control/revoke-account`;
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
    const response = await fetch(`${origin}/_sim/lightspeed-x/_control/stats`, {
      headers: { authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(response.status).toBe(404);
    await response.text();
  });
});

describe('Lightspeed mounted on another server', () => {
  let broker: Server;
  let brokerOrigin: string;
  let mounted: LightspeedSimulator;

  beforeEach(async () => {
    mounted = new LightspeedSimulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [REDIRECT_URI],
      basePath: '/demo/',
      controlKey: CONTROL_KEY,
    });
    broker = createServer((req, res) => {
      // Plays a remote peer: the control endpoints must not answer it.
      if (req.headers['x-test-remote'] === '1') {
        Object.defineProperty(req.socket, 'remoteAddress', { value: '203.0.113.7', configurable: true });
      }
      void mounted.handle(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('broker');
        }
      });
    });
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    brokerOrigin = `http://127.0.0.1:${(broker.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    broker.closeAllConnections();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });

  it('leaves requests outside its base path to the host server', async () => {
    for (const path of ['/health', '/_sim/lightspeed-x/connect', '/demo-other/lightspeed-x/connect']) {
      expect(await (await fetch(`${brokerOrigin}${path}`)).text()).toBe('broker');
    }
    expect(mounted.urls(brokerOrigin).authorizeUrl).toBe(`${brokerOrigin}/demo/lightspeed-x/connect`);
    const page = await fetch(
      `${brokerOrigin}/demo/lightspeed-x/connect?${new URL(authorizeUrl()).search.slice(1)}`,
    );
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('action="/demo/lightspeed-x/consent"');
  });

  it('refuses control requests from non-loopback peers', async () => {
    const response = await fetch(`${brokerOrigin}/demo/lightspeed-x/_control/stats`, {
      headers: { 'x-test-remote': '1', authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(response.status).toBe(403);
    const local = await fetch(`${brokerOrigin}/demo/lightspeed-x/_control/stats`, {
      headers: { authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(local.status).toBe(200);
  });
});

describe('Xentral simulator', () => {
  let xentral: XentralSimulator;
  let xentralOrigin: string;
  let xentralClock = START;

  beforeEach(async () => {
    xentralClock = START;
    xentral = new XentralSimulator({ now: () => xentralClock });
    xentralOrigin = await xentral.listen();
  });

  afterEach(async () => {
    await xentral.close();
  });

  const usersUrl = (instance: string) =>
    `${xentral.urls(xentralOrigin).apiBaseUrl.replace('{account}', instance)}/v1/users?page[size]=1`;

  it('serves a registered personal access token', async () => {
    const token = xentral.createToken('acme');
    expect(token).toMatch(/^[A-Za-z0-9]{40,}$/);
    const response = await fetch(usersUrl('acme'), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: unknown[] };
    expect(body.data.length).toBeGreaterThan(0);
    expect(xentral.createToken('acme', 'chosen-token-123')).toBe('chosen-token-123');
  });

  it('answers invalid tokens with a 401 HTML body that is not JSON', async () => {
    const token = xentral.createToken('acme');
    const attempts = [
      await fetch(usersUrl('acme'), { headers: { authorization: 'Bearer not-a-token' } }),
      await fetch(usersUrl('other'), { headers: { authorization: `Bearer ${token}` } }),
      await fetch(usersUrl('acme')),
    ];
    for (const response of attempts) {
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const text = await response.text();
      expect(text).toContain('Unauthorized');
      expect(() => JSON.parse(text)).toThrow();
    }
    xentral.revokeToken('acme', token);
    expect((await fetch(usersUrl('acme'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      401,
    );
    expect(xentral.stats()).toEqual({ apiCalls: 4, unauthorized: 4 });
  });

  it('rate-limits 100 calls per minute per instance with Retry-After in seconds', async () => {
    const token = xentral.createToken('acme');
    const headers = { authorization: `Bearer ${token}` };
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => fetch(usersUrl('acme'), { headers })),
    );
    for (const response of responses) await response.arrayBuffer();
    expect(responses.every((response) => response.status === 200)).toBe(true);

    xentralClock += 15_000;
    const limited = await fetch(usersUrl('acme'), { headers });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('45');
    expect(limited.headers.get('x-ratelimit-reset')).toBe(String((START + 60_000) / 1000));
    await limited.arrayBuffer();

    const otherToken = xentral.createToken('globex');
    expect(
      (await fetch(usersUrl('globex'), { headers: { authorization: `Bearer ${otherToken}` } })).status,
    ).toBe(200);
    xentralClock = START + 60_000;
    expect((await fetch(usersUrl('acme'), { headers })).status).toBe(200);
  });

  it('builds an API base URL that keeps the {account} template', () => {
    expect(xentral.urls(xentralOrigin)).toEqual({
      apiBaseUrl: `${xentralOrigin}/_sim/xentral/{account}/api`,
    });
  });
});
