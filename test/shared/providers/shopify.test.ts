import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { UnusableTokenAnswerError } from '../../../shared/domain/errors';
import { createProviders } from '../../../shared/providers';
import {
  DEFAULT_SHOPIFY_SCOPES,
  parseShopDomain,
  parseShopifyTokenResponse,
  shopify,
  verifyShopifyQuery,
} from '../../../shared/providers/shopify';
import { behaviourOf, failureOf, oauthOf, RECEIVED_AT, response, STATE } from './support';

const CLIENT_ID = 'shopify-client-0123';
const CLIENT_SECRET = 'shpss_secret_abcdef';
const REDIRECT_URI = 'https://broker.example.com/oauth/shopify/callback';

const jsonFields = (body: string | undefined): unknown => JSON.parse(body ?? 'null');

/** Shopify's signature, computed here from the documented recipe, independently of the adapter. */
function sign(params: Record<string, string>, secret = CLIENT_SECRET): string {
  const message = Object.keys(params)
    .sort()
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(params[key]!)}`)
    .join('&');
  return createHmac('sha256', secret).update(message).digest('hex');
}

const NOW = Date.parse('2026-05-01T08:00:00Z');
const TIMESTAMP = String(NOW / 1000);

describe('verifyShopifyQuery', () => {
  const callback = {
    code: '0907a61c0c8d55e99db179b68161bc00',
    host: 'ZGVtby1zaG9wLm15c2hvcGlmeS5jb20vYWRtaW4',
    shop: 'demo-shop.myshopify.com',
    state: STATE,
    timestamp: TIMESTAMP,
  };

  it('accepts a callback signed with the client secret', () => {
    // Prepare
    const query = { ...callback, hmac: sign(callback) };

    // Act
    const refused = verifyShopifyQuery(query, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBeUndefined();
  });

  it('matches a fixed vector: message "code=abc&shop=demo-shop.myshopify.com&timestamp=1777622400"', () => {
    // Prepare
    const message = 'code=abc&shop=demo-shop.myshopify.com&timestamp=1777622400';
    const hmac = createHmac('sha256', 'hush').update(message).digest('hex');
    const query = { timestamp: '1777622400', shop: 'demo-shop.myshopify.com', hmac, code: 'abc' };

    // Act
    const refused = verifyShopifyQuery(query, 'hush', 1777622400_000);

    // Assess
    expect(refused).toBeUndefined();
  });

  it('signs values URL-encoded with spaces as %20 and leaves signature out', () => {
    // Prepare
    const params = { shop: 'demo-shop.myshopify.com', timestamp: TIMESTAMP, locale: 'en US&x=1' };
    const query = { ...params, hmac: sign(params), signature: 'ignored' };

    // Act
    const refused = verifyShopifyQuery(query, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBeUndefined();
  });

  it('accepts an install start (no code, no state)', () => {
    // Prepare
    const install = { host: callback.host, shop: callback.shop, timestamp: TIMESTAMP };

    // Act
    const refused = verifyShopifyQuery({ ...install, hmac: sign(install) }, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBeUndefined();
  });

  it('refuses a query with one parameter changed after signing', () => {
    // Prepare
    const query = { ...callback, hmac: sign(callback), shop: 'other-shop.myshopify.com' };

    // Act
    const refused = verifyShopifyQuery(query, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBe('hmac does not match');
  });

  it('refuses a query signed with another secret, without naming the secret or the hmac', () => {
    // Prepare
    const hmac = sign(callback, 'another-secret');

    // Act
    const refused = verifyShopifyQuery({ ...callback, hmac }, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBe('hmac does not match');
    expect(refused).not.toContain(hmac);
    expect(refused).not.toContain(CLIENT_SECRET);
  });

  it('refuses a query without hmac', () => {
    expect(verifyShopifyQuery(callback, CLIENT_SECRET, NOW)).toBe('missing hmac');
  });

  it('refuses an hmac that is not 64 hex digits, without comparing', () => {
    // Prepare
    const short = sign(callback).slice(0, 63);

    // Act
    const refused = verifyShopifyQuery({ ...callback, hmac: short }, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBe('malformed hmac');
  });

  it.each([
    ['91 s old', NOW + 91_000],
    ['91 s ahead', NOW - 91_000],
  ])('refuses a correctly signed query whose timestamp is %s', (_, now) => {
    expect(verifyShopifyQuery({ ...callback, hmac: sign(callback) }, CLIENT_SECRET, now)).toBe(
      'timestamp more than 90 s from now',
    );
  });

  it('accepts a timestamp exactly 90 s old', () => {
    expect(
      verifyShopifyQuery({ ...callback, hmac: sign(callback) }, CLIENT_SECRET, NOW + 90_000),
    ).toBeUndefined();
  });

  it('refuses a signed query without a timestamp', () => {
    // Prepare
    const { timestamp: _, ...unstamped } = callback;

    // Act
    const refused = verifyShopifyQuery({ ...unstamped, hmac: sign(unstamped) }, CLIENT_SECRET, NOW);

    // Assess
    expect(refused).toBe('missing or malformed timestamp');
  });
});

describe('parseShopDomain and the account syntax', () => {
  it.each([
    ['demo-shop.myshopify.com', 'demo-shop'],
    ['Demo-Shop.myshopify.com', 'demo-shop'],
    ['shop42.myshopify.com', 'shop42'],
  ])('reads %s as %s', (value, account) => {
    expect(parseShopDomain(value)).toBe(account);
  });

  it.each([
    'demo-shop',
    'demo-shop.myshopify.com.evil.com',
    'demo-shop.shopify.com',
    'evil.com/demo-shop.myshopify.com',
    '-shop.myshopify.com',
    '.myshopify.com',
  ])('refuses %s', (value) => {
    expect(parseShopDomain(value)).toBeUndefined();
  });

  it('takes lower-case DNS labels as accounts', () => {
    expect(shopify.account.pattern.test('demo-shop')).toBe(true);
    expect(shopify.account.pattern.test('Demo-Shop')).toBe(false);
    expect(shopify.account.pattern.test('demo_shop')).toBe(false);
  });
});

describe('parseShopifyTokenResponse', () => {
  it('reads an expiring offline token: expiry and refresh-token expiry from receipt', () => {
    // Prepare
    const answer = {
      access_token: 'shpat_0123456789abcdef',
      scope: 'read_products,read_orders',
      expires_in: 3600,
      refresh_token: 'shprt_fedcba9876543210',
      refresh_token_expires_in: 7_776_000,
    };

    // Act
    const tokens = parseShopifyTokenResponse(response(200, answer));

    // Assess
    expect(tokens).toEqual({
      accessToken: 'shpat_0123456789abcdef',
      refreshToken: 'shprt_fedcba9876543210',
      expiresAt: RECEIVED_AT + 3_600_000,
      refreshExpiresAt: RECEIVED_AT + 7_776_000_000,
      scope: 'read_products,read_orders',
    });
  });

  it('leaves the refresh token undefined when the answer has none (the stored one is kept)', () => {
    // Act
    const tokens = parseShopifyTokenResponse(response(200, { access_token: 'shpat_1', expires_in: 3600 }));

    // Assess
    expect(tokens.refreshToken).toBeUndefined();
    expect(tokens.refreshExpiresAt).toBeUndefined();
  });

  it('refuses a non-expiring token (no expires_in), keeping a refresh token it carried', () => {
    // Act
    const error = failureOf(() =>
      parseShopifyTokenResponse(response(200, { access_token: 'shpat_1', refresh_token: 'shprt_2' })),
    );

    // Assess
    expect(error).toBeInstanceOf(UnusableTokenAnswerError);
    expect((error as UnusableTokenAnswerError).salvagedRefreshToken()).toBe('shprt_2');
  });

  it('classifies 400 invalid_grant as invalid_grant without keeping the description', () => {
    // Act
    const error = failureOf(() =>
      parseShopifyTokenResponse(
        response(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }),
      ),
    );

    // Assess
    expect(error.kind).toBe('invalid_grant');
    expect(error.message).not.toContain('expired or revoked');
  });

  it('classifies 401 invalid_client as invalid_client, and 429 with Retry-After as transient', () => {
    // Act
    const client = failureOf(() => parseShopifyTokenResponse(response(401, { error: 'invalid_client' })));
    const limited = failureOf(() => parseShopifyTokenResponse(response(429, '', { 'retry-after': '4' })));

    // Assess
    expect(client.kind).toBe('invalid_client');
    expect(limited.kind).toBe('transient');
    expect(limited.details.retryAfterSeconds).toBe(4);
  });

  it('refuses an HTML 200 as unreadable', () => {
    expect(failureOf(() => parseShopifyTokenResponse(response(200, '<html></html>'))).kind).toBe(
      'unconfirmed',
    );
  });
});

describe('shopifyProvider', () => {
  it('is registered with a signed callback naming the shop, installs, and the shop before authorization', () => {
    // Act
    const provider = createProviders(loadConfig({})).shopify;

    // Assess
    expect(provider.displayName).toBe('Shopify');
    expect(provider.oauth?.callbackAccount?.parameter).toBe('shop');
    expect(provider.oauth?.callbackAccount?.parse?.('demo-shop.myshopify.com')).toBe('demo-shop');
    expect(provider.oauth?.accountBeforeAuthorization).toBe(true);
    expect(provider.oauth?.startsInstalls).toBe(true);
    expect(provider.oauth?.pkce).toBe(false);
    expect(provider.oauth?.verifyCallback).toBe(verifyShopifyQuery);
  });

  it('sends the authorization to the shop host with comma-separated scopes and no grant options', () => {
    // Act
    const url = new URL(
      oauthOf(shopify).buildAuthorizationUrl({
        clientId: CLIENT_ID,
        redirectUri: REDIRECT_URI,
        state: STATE,
        account: 'demo-shop',
      }),
    );

    // Assess
    expect(`${url.origin}${url.pathname}`).toBe('https://demo-shop.myshopify.com/admin/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: CLIENT_ID,
      scope: DEFAULT_SHOPIFY_SCOPES.join(','),
      redirect_uri: REDIRECT_URI,
      state: STATE,
    });
  });

  it('refuses to build an authorization without the shop', () => {
    expect(() =>
      oauthOf(shopify).buildAuthorizationUrl({
        clientId: CLIENT_ID,
        redirectUri: REDIRECT_URI,
        state: STATE,
      }),
    ).toThrow('a Shopify authorization needs the shop');
  });

  it('posts the code exchange as JSON with expiring: 1 to the shop, nothing in the query', () => {
    // Act
    const request = oauthOf(shopify).buildCodeExchange({
      account: 'demo-shop',
      code: 'code-abc',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
    });

    // Assess
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://demo-shop.myshopify.com/admin/oauth/access_token');
    expect(new URL(request.url).search).toBe('');
    expect(request.headers).toEqual({ 'content-type': 'application/json', accept: 'application/json' });
    expect(jsonFields(request.body)).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code: 'code-abc',
      expiring: 1,
    });
  });

  it('posts the refresh as JSON to the shop, nothing in the query', () => {
    // Act
    const request = oauthOf(shopify).buildRefresh({
      account: 'demo-shop',
      refreshToken: 'shprt_old',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(request.url).toBe('https://demo-shop.myshopify.com/admin/oauth/access_token');
    expect(new URL(request.url).search).toBe('');
    expect(jsonFields(request.body)).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'refresh_token',
      refresh_token: 'shprt_old',
    });
  });

  it('fills {shop} into the path of configured templates (the simulator)', () => {
    // Prepare
    const env = {
      SHOPIFY_TOKEN_URL: 'http://127.0.0.1:9400/_sim/shopify/{shop}/admin/oauth/access_token',
      SHOPIFY_API_BASE_URL: 'http://127.0.0.1:9400/_sim/shopify/{shop}/admin/api/2026-10',
    };
    const provider = behaviourOf(shopify, env);

    // Act
    const refresh = provider.oauth!.buildRefresh({
      account: 'demo-shop',
      refreshToken: 'rt',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(refresh.url).toBe('http://127.0.0.1:9400/_sim/shopify/demo-shop/admin/oauth/access_token');
    expect(provider.apiBaseUrl('demo-shop')).toBe(
      'http://127.0.0.1:9400/_sim/shopify/demo-shop/admin/api/2026-10',
    );
  });

  it('verifies a custom-app token with X-Shopify-Access-Token on shop.json', () => {
    // Act
    const request = createProviders(loadConfig({})).shopify.verifyRequest!('demo-shop', 'shpat_custom');

    // Assess
    expect(request).toEqual({
      url: 'https://demo-shop.myshopify.com/admin/api/2026-10/shop.json',
      method: 'GET',
      headers: { 'x-shopify-access-token': 'shpat_custom', accept: 'application/json' },
    });
  });

  it('reads space-separated scopes from SHOPIFY_SCOPES and refuses a comma list', () => {
    expect(oauthOf(shopify, { SHOPIFY_SCOPES: 'read_products write_orders' }).scopes).toEqual([
      'read_products',
      'write_orders',
    ]);
    expect(() => loadConfig({ SHOPIFY_SCOPES: 'read_products,write_orders' })).toThrow('SHOPIFY_SCOPES');
  });
});
