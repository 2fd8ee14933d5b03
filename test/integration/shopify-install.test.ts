/**
 * Shopify over HTTP through the local runtime: installs that start at Shopify (the signed app URL
 * `GET /oauth/shopify/install`), signed callbacks (hmac and timestamp checked before the state is
 * used up), the shop a connect session must name, and a session for one shop that cannot connect
 * another. The demo's Shopify simulator signs with the broker's client secret.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ShopifySimulator,
  shopifyHmac,
  shopifyHost,
  shopifySignedQuery,
} from '../../functions/local/simulator/profiles';
import {
  createSession,
  openCallback,
  openConnectLink,
  recorder,
  startTestBroker,
  type TestBroker,
  type TokenBody,
} from '../helpers/broker';

const TEN_MINUTES_MS = 10 * 60_000;

let t: TestBroker;
let sim: ShopifySimulator;
let secret: string;
const log = recorder();
/** Every token, code, secret and binding cookie the tests saw: none may reach a log line. */
const secrets = new Set<string>();

beforeAll(async () => {
  t = await startTestBroker({}, { logger: log.logger, events: log.sink });
  sim = t.broker.simulators.shopify as ShopifySimulator;
  // biome-ignore lint/complexity/useLiteralKeys: the simulator's options hold the demo client secret, needed to forge signed queries
  secret = sim['options'].clientSecret;
  secrets.add(secret);
});
afterAll(async () => {
  try {
    for (const [token] of sim.snapshot().refreshTokens) secrets.add(token);
    for (const [token] of sim.snapshot().accessTokens) secrets.add(token);
    expect(log.lines.length).toBeGreaterThan(0);
    const logged = JSON.stringify(log.lines);
    for (const value of [...secrets].filter((value) => value !== '')) expect(logged).not.toContain(value);
  } finally {
    await t.close();
  }
});
beforeEach(() => {
  sim.clearFaults();
  sim.resetStats();
});

const installUrl = () => `${t.url}/oauth/shopify/install`;

/** The app URL with a query of our own making (`hmac` computed over `params` unless given). */
function appUrl(params: Record<string, string>, path = installUrl()): string {
  const url = new URL(path);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}

/** What the broker answered to an install start, noting the secrets the redirect carried. */
async function openInstall(url: string) {
  const response = await fetch(url, { redirect: 'manual' });
  const body = await response.text();
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  if (cookie !== '') secrets.add(cookie.split('=')[1] ?? '');
  return { response, body, location: response.headers.get('location'), setCookie, cookie };
}

/** Consents at the simulator for the authorize URL's shop; the callback URL, its code noted. */
function consentAt(location: string): URL {
  const callback = new URL(sim.consent(location, { account: 'ignored-for-shopify' }));
  secrets.add(callback.searchParams.get('code') ?? '');
  return callback;
}

/** The callback's query re-signed after `change` (what only the client secret's holder can do). */
function resign(callback: URL, change: (params: Record<string, string>) => void): string {
  const params = Object.fromEntries(callback.searchParams);
  delete params.hmac;
  change(params);
  const url = new URL(callback);
  url.search = new URLSearchParams({ ...params, hmac: shopifyHmac(params, secret) }).toString();
  return url.toString();
}

/** Why the broker refused the latest callback, as it logged it. */
function lastCallbackRefusal(): unknown {
  return log.lines.findLast((line) => line.message === 'callback refused')?.attributes.reason;
}

async function expectNothingStored(shop: string) {
  expect((await t.json(`/connections/shopify/${shop}`)).status).toBe(404);
}

async function fetchToken(shop: string) {
  const token = await t.json<TokenBody>(`/tokens/shopify/${shop}`);
  if (token.status === 200) secrets.add(token.body.access_token);
  return token;
}

/** Opens a connect link for a session naming `shop`: the authorization and its consent's callback. */
async function startConnect(shop: string) {
  const session = await createSession(t, { provider: 'shopify', account: shop });
  const auth = await openConnectLink(session.connect_url);
  secrets.add(auth.cookie.split('=')[1] ?? '');
  return { auth, callback: consentAt(auth.location) };
}

describe('GET /oauth/shopify/install', () => {
  it('sends an install started at Shopify on to the authorization of that shop, then connects it', async () => {
    // Prepare
    const url = sim.installUrl(installUrl(), 'install-shop');

    // Act
    const install = await openInstall(url);

    // Assess: the authorization of that shop, with a state and the binding cookie of this browser.
    expect(install.response.status).toBe(302);
    const location = new URL(install.location ?? '');
    const authorize = sim.urls(t.url).authorizeUrl?.replace('{shop}', 'install-shop');
    expect(`${location.origin}${location.pathname}`).toBe(authorize);
    expect(location.searchParams.get('client_id')).toBe('demo-client-id');
    expect(location.searchParams.get('redirect_uri')).toBe(`${t.url}/oauth/shopify/callback`);
    expect(location.searchParams.get('state')?.length).toBeGreaterThanOrEqual(32);
    expect(install.setCookie).toMatch(/HttpOnly/);
    expect(install.setCookie).toMatch(/Path=\/oauth\/shopify\/callback/);

    // Act: the merchant approves; Shopify sends the browser back with a signed callback.
    const callback = consentAt(location.toString());
    const connected = await openCallback(callback.toString(), install.cookie);

    // Assess
    expect(connected.status).toBe(200);
    expect(await connected.text()).toContain('Shopify store &quot;install-shop&quot; is now connected.');
    const token = await fetchToken('install-shop');
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ provider: 'shopify', account: 'install-shop', source: 'oauth' });
    expect(token.body.access_token).toMatch(/^shpat_/);
    expect(sim.stats().tokenCalls).toBe(1);
  });

  it.each<[string, string, () => string]>([
    [
      'a tampered hmac',
      'hmac does not match',
      () => {
        const url = new URL(sim.installUrl(installUrl(), 'tampered-shop'));
        const hmac = url.searchParams.get('hmac') ?? '';
        url.searchParams.set('hmac', `${hmac[0] === 'a' ? 'b' : 'a'}${hmac.slice(1)}`);
        return url.toString();
      },
    ],
    [
      'a shop changed after signing',
      'hmac does not match',
      () => {
        const url = new URL(sim.installUrl(installUrl(), 'signed-shop'));
        url.searchParams.set('shop', 'tampered-shop.myshopify.com');
        return url.toString();
      },
    ],
    [
      'a timestamp 10 minutes old',
      'timestamp more than 90 s from now',
      () => appUrl(shopifySignedQuery('tampered-shop', secret, Date.now() - TEN_MINUTES_MS)),
    ],
    [
      'a missing hmac',
      'missing hmac',
      () => {
        const url = new URL(sim.installUrl(installUrl(), 'tampered-shop'));
        url.searchParams.delete('hmac');
        return url.toString();
      },
    ],
    [
      'a shop that is not *.myshopify.com (correctly signed)',
      'invalid shop',
      () => {
        const params = {
          host: shopifyHost('tampered-shop'),
          shop: 'tampered-shop.example.com',
          timestamp: String(Math.floor(Date.now() / 1000)),
        };
        return appUrl({ ...params, hmac: shopifyHmac(params, secret) });
      },
    ],
    [
      'a provider whose installs do not start on its side (lightspeed-x)',
      'this provider does not start installs on the broker',
      () => sim.installUrl(`${t.url}/oauth/lightspeed-x/install`, 'tampered-shop'),
    ],
  ])('refuses %s (%s) with the 400 page: no session, no redirect, no cookie', async (_, reason, build) => {
    // Prepare
    const before = log.lines.length;

    // Act
    const install = await openInstall(build());

    // Assess
    expect(install.response.status).toBe(400);
    expect(install.response.headers.get('content-type')).toContain('text/html');
    expect(install.location).toBeNull();
    expect(install.setCookie).toBe('');
    expect(install.body).toContain('This connection request is no longer valid');
    const logged = log.lines.slice(before);
    const refusal = logged.find((line) => line.message === 'install refused');
    expect(refusal?.attributes.reason).toBe(reason);
    expect(logged.some((line) => line.message.includes('sent on to authorization'))).toBe(false);
    expect(sim.stats().tokenCalls).toBe(0);
    await expectNothingStored('tampered-shop');
    await expectNothingStored('signed-shop');
  });
});

describe('GET /oauth/shopify/callback', () => {
  it('refuses a callback with a tampered hmac and leaves the state usable for the genuine one', async () => {
    // Prepare
    const { auth, callback } = await startConnect('hmac-shop');
    const tampered = new URL(callback);
    const hmac = tampered.searchParams.get('hmac') ?? '';
    tampered.searchParams.set('hmac', `${hmac.slice(0, -1)}${hmac.endsWith('0') ? '1' : '0'}`);

    // Act
    const refused = await openCallback(tampered.toString(), auth.cookie);

    // Assess
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('This connection request is no longer valid');
    expect(lastCallbackRefusal()).toBe('hmac does not match');
    expect(sim.stats().tokenCalls).toBe(0);
    await expectNothingStored('hmac-shop');

    // Act: the genuine callback still completes the connection.
    const genuine = await openCallback(callback.toString(), auth.cookie);

    // Assess
    expect(genuine.status).toBe(200);
    expect((await fetchToken('hmac-shop')).status).toBe(200);
  });

  it('refuses a correctly signed callback with a stale timestamp and leaves the state usable', async () => {
    // Prepare
    const { auth, callback } = await startConnect('stale-shop');
    const stale = resign(callback, (params) => {
      params.timestamp = String(Math.floor((Date.now() - TEN_MINUTES_MS) / 1000));
    });

    // Act
    const refused = await openCallback(stale, auth.cookie);

    // Assess
    expect(refused.status).toBe(400);
    expect(lastCallbackRefusal()).toBe('timestamp more than 90 s from now');
    expect(sim.stats().tokenCalls).toBe(0);
    await expectNothingStored('stale-shop');
    const genuine = await openCallback(callback.toString(), auth.cookie);
    expect(genuine.status).toBe(200);
    expect((await fetchToken('stale-shop')).status).toBe(200);
  });

  it('refuses a signed callback for another shop than the connect session named, storing nothing', async () => {
    // Prepare: the session names shop A; a callback for shop B carries its state, correctly signed.
    const { auth, callback } = await startConnect('session-shop');
    const forged = resign(callback, (params) => {
      params.shop = 'other-shop.myshopify.com';
      params.host = shopifyHost('other-shop');
    });

    // Act
    const refused = await openCallback(forged, auth.cookie);

    // Assess
    expect(refused.status).toBe(400);
    expect(lastCallbackRefusal()).toBe('the callback names another account than the connect session');
    expect(sim.stats().tokenCalls).toBe(0);
    await expectNothingStored('other-shop');
    await expectNothingStored('session-shop');
  });

  it("refuses a shop B callback issued by the simulator for shop B's authorization with shop A's state", async () => {
    // Prepare: the authorize URL is per shop; the same request sent to shop B's authorize endpoint.
    const session = await createSession(t, { provider: 'shopify', account: 'first-shop' });
    const auth = await openConnectLink(session.connect_url);
    secrets.add(auth.cookie.split('=')[1] ?? '');
    const otherShop = auth.location.replace('/first-shop/admin/', '/second-shop/admin/');
    const callback = consentAt(otherShop);
    expect(callback.searchParams.get('shop')).toBe('second-shop.myshopify.com');

    // Act
    const refused = await openCallback(callback.toString(), auth.cookie);

    // Assess
    expect(refused.status).toBe(400);
    expect(lastCallbackRefusal()).toBe('the callback names another account than the connect session');
    expect(sim.stats().tokenCalls).toBe(0);
    await expectNothingStored('second-shop');
    await expectNothingStored('first-shop');
  });
});

describe('POST /connect-sessions for shopify', () => {
  it('needs the shop as "account", naming the field', async () => {
    const { status, body } = await t.json('/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ provider: 'shopify' }),
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_request' });
    expect(String(body.message)).toBe(
      'body.account: is required for shopify, which needs the account before authorization (a lower-case DNS label (a-z, 0-9, inner hyphens, at most 63 characters))',
    );
  });

  it('refuses a shop that is not a lower-case DNS label, naming the rule', async () => {
    const { status, body } = await t.json('/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ provider: 'shopify', account: 'Bad_Shop' }),
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_request' });
    expect(String(body.message)).toContain('body.account');
    expect(String(body.message)).toContain('lower-case DNS label');
  });
});
