/** The provider profiles (Shopify, Square, Clover, Lightspeed R-Series) driven over HTTP on 127.0.0.1. */
import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createProviderSimulator,
  type OAuthSimulator,
  type ProviderSimulatorOptions,
  type ShopifySimulator,
  shopifyHmac,
} from '../../../../functions/local/simulator/profiles';
import { CLIENT_ID, CLIENT_SECRET, CONTROL_KEY, REDIRECT_URI, START, STATE } from './harness';

type Json = Record<string, unknown>;

const running: OAuthSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

async function start(
  id: Parameters<typeof createProviderSimulator>[0],
  extra: Partial<ProviderSimulatorOptions> = {},
): Promise<{ sim: OAuthSimulator; urls: Record<string, string>; origin: string }> {
  const sim = createProviderSimulator(id, {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    controlKey: CONTROL_KEY,
    ...extra,
  });
  running.push(sim);
  const origin = await sim.listen(0);
  return { sim, urls: sim.urls(origin), origin };
}

function withQuery(url: string, params: Record<string, string>): string {
  const out = new URL(url);
  for (const [name, value] of Object.entries(params)) out.searchParams.set(name, value);
  return out.toString();
}

async function post(url: string, body: Json, as: 'json' | 'form', headers: Record<string, string> = {}) {
  const init =
    as === 'json'
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }
      : { body: new URLSearchParams(body as Record<string, string>), headers };
  const response = await fetch(url, { method: 'POST', ...init });
  const text = await response.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, body: json, response };
}

function query(callback: string): Record<string, string> {
  return Object.fromEntries(new URL(callback).searchParams);
}

/** Goes through the consent page as a browser would: GET the authorize URL, POST the form with Allow. */
async function consentInBrowser(authorizeUrl: string, origin: string, fields: Record<string, string>) {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '';
  const form = new URLSearchParams();
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(
      name ?? '',
      (value ?? '').replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code))),
    );
  }
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  const answer = await fetch(`${origin}${action}`, { method: 'POST', body: form, redirect: 'manual' });
  return { status: answer.status, location: answer.headers.get('location') ?? '', html };
}

describe('Shopify profile', () => {
  const shopAuthorize = (urls: Record<string, string>, shop = 'demo-shop') =>
    withQuery((urls.authorizeUrl ?? '').replace('{shop}', shop), {
      client_id: CLIENT_ID,
      scope: 'read_products,write_orders',
      redirect_uri: REDIRECT_URI,
      state: STATE,
    });
  const tokenUrl = (urls: Record<string, string>, shop = 'demo-shop') =>
    (urls.tokenUrl ?? '').replace('{shop}', shop);

  it('signs as the documented example does (secret "hush")', () => {
    const params = {
      code: '0907a61c0c8d55e99db179b68161bc00',
      shop: 'some-shop.myshopify.com',
      state: '0.6784241404160823',
      timestamp: '1337178173',
    };
    expect(shopifyHmac(params, 'hush')).toBe(
      '700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf',
    );
  });

  it('sends the browser back with code, shop, state, timestamp, host and an hmac the client secret verifies', async () => {
    const { urls, origin } = await start('shopify');
    const { status, location, html } = await consentInBrowser(shopAuthorize(urls), origin, {
      decision: 'allow',
    });
    expect(html).toContain('demo-shop');
    expect(status).toBe(302);
    const params = query(location);
    expect(Object.keys(params).sort()).toEqual(['code', 'hmac', 'host', 'shop', 'state', 'timestamp']);
    expect(params.shop).toBe('demo-shop.myshopify.com');
    expect(params.state).toBe(STATE);
    const { hmac, ...rest } = params;
    const message = Object.entries(rest)
      .map(([name, value]) => `${name}=${value}`)
      .sort()
      .join('&');
    expect(hmac).toBe(createHmac('sha256', CLIENT_SECRET).update(message).digest('hex'));
  });

  it('issues expiring tokens only with expiring=1, and a never-expiring token without a refresh token otherwise', async () => {
    const { sim, urls } = await start('shopify');
    const code = () => query(sim.consent(shopAuthorize(urls), { account: 'ignored' })).code;
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    const expiring = await post(tokenUrl(urls), { ...base, code: code() ?? '', expiring: '1' }, 'json');
    expect(expiring.status).toBe(200);
    expect(expiring.body).toEqual({
      access_token: expect.stringMatching(/^shpat_/),
      scope: 'read_products,write_orders',
      expires_in: 3600,
      refresh_token: expect.any(String),
      refresh_token_expires_in: 7_776_000,
    });
    const offline = await post(tokenUrl(urls), { ...base, code: code() ?? '' }, 'form');
    expect(offline.body).toEqual({ access_token: expect.any(String), scope: 'read_products,write_orders' });
    const otherShop = await post(
      tokenUrl(urls, 'other-shop'),
      { ...base, code: code() ?? '', expiring: '1' },
      'json',
    );
    expect(otherShop.status).toBe(400);
    expect(otherShop.body.error).toBe('invalid_grant');
  });

  it('keeps the previous refresh token valid until the new access token is first used, then revokes it', async () => {
    const { sim, urls } = await start('shopify');
    const code = query(sim.consent(shopAuthorize(urls), { account: 'ignored' })).code ?? '';
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    const first = await post(tokenUrl(urls), { ...base, code, expiring: '1' }, 'json');
    const refresh = (token: unknown) =>
      post(tokenUrl(urls), { ...base, grant_type: 'refresh_token', refresh_token: String(token) }, 'json');
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    // A client that lost the second answer can still refresh with the first token.
    const retried = await refresh(first.body.refresh_token);
    expect(retried.status).toBe(200);
    const verify = await fetch((urls.verifyUrl ?? '').replace('{shop}', 'demo-shop'), {
      headers: { 'x-shopify-access-token': String(retried.body.access_token) },
    });
    expect(verify.status).toBe(200);
    expect(verify.headers.get('x-shopify-shop-api-call-limit')).toBe('1/40');
    expect(((await verify.json()) as { shop: Json }).shop.myshopify_domain).toBe('demo-shop.myshopify.com');
    const late = await refresh(first.body.refresh_token);
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
    expect(sim.stats().revokedRefreshTokenUses).toBe(1);
  });

  it('ends the grace when the new refresh token is used', async () => {
    const { sim, urls } = await start('shopify');
    const code = query(sim.consent(shopAuthorize(urls), { account: 'ignored' })).code ?? '';
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    const refresh = (token: unknown) =>
      post(tokenUrl(urls), { ...base, grant_type: 'refresh_token', refresh_token: String(token) }, 'form');
    const first = await post(tokenUrl(urls), { ...base, code, expiring: '1' }, 'form');
    const second = await refresh(first.body.refresh_token);
    expect((await refresh(second.body.refresh_token)).status).toBe(200);
    expect((await refresh(first.body.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('builds a signed app URL for an install started in the Shopify admin', async () => {
    const { sim } = await start('shopify');
    const url = new URL(
      (sim as ShopifySimulator).installUrl('https://broker.example/install/shopify', 'demo-shop'),
    );
    expect(url.searchParams.get('shop')).toBe('demo-shop.myshopify.com');
    expect(url.searchParams.get('hmac')).toBe(shopifyHmac(url.searchParams, CLIENT_SECRET));
  });

  it('applies queued faults to the access_token endpoint', async () => {
    const { sim, urls } = await start('shopify');
    sim.injectFault({ kind: 'status', status: 503 });
    const code = query(sim.consent(shopAuthorize(urls), { account: 'ignored' })).code ?? '';
    const answer = await post(
      tokenUrl(urls),
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code },
      'json',
    );
    expect(answer.status).toBe(503);
    expect(answer.response.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('Square profile', () => {
  const authorize = (urls: Record<string, string>, extra: Record<string, string> = {}) =>
    withQuery(urls.authorizeUrl ?? '', {
      client_id: CLIENT_ID,
      scope: 'MERCHANT_PROFILE_READ PAYMENTS_READ',
      session: 'false',
      state: STATE,
      ...extra,
    });

  it('refuses form bodies, answers JSON with expires_at and merchant_id, and names no merchant in the callback', async () => {
    const { sim, urls, origin } = await start('square');
    const { location } = await consentInBrowser(authorize(urls), origin, {
      decision: 'allow',
      merchant_id: 'mlabc123xyz45',
    });
    const params = query(location);
    expect(Object.keys(params).sort()).toEqual(['code', 'response_type', 'state']);
    expect(params.code).toMatch(/^sq0cgp-/);
    const fields = {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'authorization_code',
      code: params.code ?? '',
    };
    const form = await post(urls.tokenUrl ?? '', fields, 'form');
    expect(form.status).toBe(400);
    expect(form.body).toEqual({
      errors: [{ category: 'INVALID_REQUEST_ERROR', code: 'BAD_REQUEST', detail: expect.any(String) }],
    });
    const answer = await post(urls.tokenUrl ?? '', fields, 'json');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      token_type: 'bearer',
      merchant_id: 'MLABC123XYZ45',
      short_lived: false,
    });
    expect(answer.body).not.toHaveProperty('expires_in');
    const expiresAt = Date.parse(String(answer.body.expires_at));
    expect(expiresAt - Date.now()).toBeGreaterThan(29.9 * 86_400_000);
    expect(String(answer.body.expires_at)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(sim.stats().exchanges).toBe(1);
  });

  it('returns the same refresh token on a code-flow refresh with a new access token', async () => {
    const { sim, urls } = await start('square');
    const code = query(sim.consent(authorize(urls), { account: 'MLDEMOSTORE01' })).code ?? '';
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    const first = await post(
      urls.tokenUrl ?? '',
      { ...base, grant_type: 'authorization_code', code },
      'json',
    );
    const refreshed = await post(
      urls.tokenUrl ?? '',
      { ...base, grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token) },
      'json',
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBe(first.body.refresh_token);
    expect(refreshed.body.access_token).not.toBe(first.body.access_token);
    const me = await fetch(urls.verifyUrl ?? '', {
      headers: { authorization: `Bearer ${refreshed.body.access_token}` },
    });
    expect(((await me.json()) as { merchant: Json }).merchant.id).toBe('MLDEMOSTORE01');
  });

  it('lets a PKCE grant go without the secret and rotates its refresh token', async () => {
    const { sim, urls } = await start('square');
    const verifier = 'v'.repeat(43);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code =
      query(
        sim.consent(authorize(urls, { code_challenge: challenge, code_challenge_method: 'S256' }), {
          account: 'MLDEMOSTORE01',
        }),
      ).code ?? '';
    const first = await post(
      urls.tokenUrl ?? '',
      { client_id: CLIENT_ID, grant_type: 'authorization_code', code, code_verifier: verifier },
      'json',
    );
    expect(first.status).toBe(200);
    expect(first.body.refresh_token_expires_at).toEqual(expect.any(String));
    const refresh = (token: unknown) =>
      post(
        urls.tokenUrl ?? '',
        { client_id: CLIENT_ID, grant_type: 'refresh_token', refresh_token: String(token) },
        'json',
      );
    const second = await refresh(first.body.refresh_token);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    expect((await refresh(first.body.refresh_token)).status).toBe(401);
  });

  it('names an expired access token on the verify call, and speaks the legacy error shape on request', async () => {
    let clock = START;
    const { sim, urls } = await start('square', { now: () => clock, errorShape: 'legacy' });
    const code = query(sim.consent(authorize(urls), { account: 'MLDEMOSTORE01' })).code ?? '';
    const fields = {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'authorization_code',
      code,
    };
    const first = await post(urls.tokenUrl ?? '', fields, 'json');
    clock += 31 * 86_400_000;
    const me = await fetch(urls.verifyUrl ?? '', {
      headers: { authorization: `Bearer ${first.body.access_token}` },
    });
    expect(me.status).toBe(401);
    expect(((await me.json()) as { errors: Json[] }).errors[0]?.code).toBe('ACCESS_TOKEN_EXPIRED');
    const reused = await post(urls.tokenUrl ?? '', fields, 'json');
    expect(reused.status).toBe(401);
    expect(reused.body).toEqual({
      message: 'The authorization code has already been used',
      type: 'service.not_authorized',
    });
  });
});

describe('Clover profile', () => {
  const authorize = (urls: Record<string, string>, region = 'na') =>
    withQuery((urls.authorizeUrl ?? '').replace('{region}', region), {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      state: STATE,
    });
  const at = (url: string | undefined, region = 'na') => (url ?? '').replace('{region}', region);

  async function connect(sim: OAuthSimulator, urls: Record<string, string>, merchant = 'DEMOMERCHANT1') {
    const callback = query(sim.consent(authorize(urls), { account: merchant }));
    const answer = await post(
      at(urls.tokenUrl),
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code: callback.code },
      'json',
    );
    return { callback, answer };
  }

  it('puts merchant_id, employee_id and client_id in the callback and refuses an unknown region', async () => {
    const { urls, origin } = await start('clover');
    const { location } = await consentInBrowser(authorize(urls), origin, {
      decision: 'allow',
      merchant_id: 'demomerchant1',
    });
    const params = query(location);
    expect(Object.keys(params).sort()).toEqual(['client_id', 'code', 'employee_id', 'merchant_id', 'state']);
    expect(params.merchant_id).toBe('DEMOMERCHANT1');
    expect(params.employee_id).toMatch(/^[A-Z0-9]{13}$/);
    expect(params.client_id).toBe(CLIENT_ID);
    const unknown = await fetch(authorize(urls, 'xx'), { redirect: 'manual' });
    expect(unknown.status).toBe(404);
  });

  it('answers epoch-second expirations and rotates single-use refresh tokens at /oauth/v2/refresh', async () => {
    const { sim, urls } = await start('clover');
    const { answer } = await connect(sim, urls);
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual([
      'access_token',
      'access_token_expiration',
      'refresh_token',
      'refresh_token_expiration',
    ]);
    expect(answer.body.access_token_expiration).toBeGreaterThan(Date.now() / 1000);
    const refresh = (token: unknown, region = 'na') =>
      post(at(urls.refreshUrl, region), { client_id: CLIENT_ID, refresh_token: String(token) }, 'json');
    expect((await refresh(answer.body.refresh_token, 'eu')).status).toBe(400);
    const second = await refresh(answer.body.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(answer.body.refresh_token);
    expect((await refresh(answer.body.refresh_token)).status).toBe(400);
    expect(sim.stats()).toMatchObject({ refreshes: 1, revokedRefreshTokenUses: 1 });
    const verify = await fetch(at(urls.verifyUrl).replace('{merchant_id}', 'DEMOMERCHANT1'), {
      headers: { authorization: `Bearer ${second.body.access_token}` },
    });
    expect(((await verify.json()) as Json).id).toBe('DEMOMERCHANT1');
  });

  it('makes the tokens act for another merchant under a foreign_account fault, which the verify call shows', async () => {
    const { sim, urls } = await start('clover');
    sim.injectFault({ kind: 'foreign_account', account: 'OTHERMERCHANT', grant: 'authorization_code' });
    const { answer } = await connect(sim, urls);
    const verify = (merchant: string) =>
      fetch(at(urls.verifyUrl).replace('{merchant_id}', merchant), {
        headers: { authorization: `Bearer ${answer.body.access_token}` },
      });
    expect((await verify('DEMOMERCHANT1')).status).toBe(401);
    expect((await verify('OTHERMERCHANT')).status).toBe(200);
  });
});

describe('Lightspeed R-Series profile', () => {
  const authorize = (urls: Record<string, string>) =>
    withQuery(urls.authorizeUrl ?? '', {
      response_type: 'code',
      client_id: CLIENT_ID,
      scope: 'employee:all',
      state: STATE,
    });

  async function connect(sim: OAuthSimulator, urls: Record<string, string>) {
    const callback = query(sim.consent(authorize(urls), { account: '123456' }));
    expect(Object.keys(callback).sort()).toEqual(['code', 'state']);
    const fields = {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'authorization_code',
      code: callback.code ?? '',
    };
    return post(urls.tokenUrl ?? '', fields, 'form');
  }

  it('reads a JSON body as no parameters, and answers a form exchange without naming the account', async () => {
    const { sim, urls } = await start('lightspeed-r');
    const json = await post(
      urls.tokenUrl ?? '',
      { client_id: CLIENT_ID, grant_type: 'authorization_code' },
      'json',
    );
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('unsupported_grant_type');
    const answer = await connect(sim, urls);
    expect(answer.body).toEqual({
      access_token: expect.any(String),
      expires_in: 3600,
      token_type: 'bearer',
      scope: 'employee:all',
      refresh_token: expect.any(String),
    });
  });

  it('refuses scope on a refresh with invalid_grant and spends refresh tokens once', async () => {
    const { sim, urls } = await start('lightspeed-r');
    const first = await connect(sim, urls);
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'refresh_token' };
    const refresh = (token: unknown, extra: Record<string, string> = {}) =>
      post(urls.tokenUrl ?? '', { ...base, refresh_token: String(token), ...extra }, 'form');
    const scoped = await refresh(first.body.refresh_token, { scope: 'employee:all' });
    expect(scoped.status).toBe(400);
    expect(scoped.body.error).toBe('invalid_grant');
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    expect((await refresh(first.body.refresh_token)).body.error).toBe('invalid_grant');
    expect(sim.stats().invalidGrants).toBe(2);
  });

  it('names the account on Account.json and fills a leaky bucket of 60', async () => {
    const { sim, urls } = await start('lightspeed-r', { now: () => START });
    const { body } = await connect(sim, urls);
    const get = () =>
      fetch(urls.verifyUrl ?? '', { headers: { authorization: `Bearer ${body.access_token}` } });
    const first = await get();
    expect(first.headers.get('x-ls-api-bucket-level')).toBe('1/60');
    expect(((await first.json()) as { Account: Json }).Account.accountID).toBe('123456');
    for (let call = 2; call <= 60; call += 1) await (await get()).arrayBuffer();
    const over = await get();
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
  });

  it('counts two overlapping refreshes of one account and loses a rotated token behind a malformed answer', async () => {
    const { sim, urls } = await start('lightspeed-r');
    const first = await connect(sim, urls);
    const base = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'refresh_token' };
    sim.injectFault({ kind: 'malformed', afterProcessing: true });
    const truncated = await post(
      urls.tokenUrl ?? '',
      { ...base, refresh_token: String(first.body.refresh_token) },
      'form',
    );
    expect(truncated.body.raw).toBe('{"access_token":"');
    const again = await connect(sim, urls);
    sim.setTokenLatency(100);
    await Promise.all([
      post(urls.tokenUrl ?? '', { ...base, refresh_token: String(again.body.refresh_token) }, 'form'),
      post(urls.tokenUrl ?? '', { ...base, refresh_token: String(again.body.refresh_token) }, 'form'),
    ]);
    const stats = sim.stats();
    expect(stats.byAccount['123456']?.maxConcurrentRefreshes).toBe(2);
    expect(stats.revokedRefreshTokenUses).toBe(1);
  });

  it('answers the control endpoints with the key, as the X-Series simulator does', async () => {
    const { urls } = await start('lightspeed-r');
    const root = (urls.authorizeUrl ?? '').replace('/cloud/auth/oauth/authorize', '');
    const stats = await fetch(`${root}/_control/stats`, {
      headers: { authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({ tokenCalls: 0 });
  });
});
