/** The connect flow over HTTP through the local runtime: every row of the contract's callback table. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONNECT_ATTEMPTS_PER_SESSION } from '../../shared/domain/connect';
import {
  connect,
  createSession,
  openCallback,
  openConnectLink,
  startTestBroker,
  type TestBroker,
  type TokenBody,
} from '../helpers/broker';

const APP = 'https://app.example.com';
let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker({ BROKER_RETURN_TO_ORIGINS: `${APP},http://localhost:9999` });
});
afterAll(() => t.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.resetStats();
});

describe('POST /connect-sessions', () => {
  it('creates a single-use session with a connect URL on the broker and a 10 minute expiry', async () => {
    const before = Date.now();
    const session = await createSession(t, { provider: 'lightspeed-x', reference: 'cust-1' });
    expect(session.connect_url).toBe(`${t.url}/connect/${session.id}`);
    const lifetime = Date.parse(session.expires_at) - before;
    expect(lifetime).toBeGreaterThan(9.9 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(10 * 60_000 + 1000);
  });

  it('refuses a return_to outside the allowed origins, naming the field', async () => {
    const { status, body } = await t.json('/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ provider: 'lightspeed-x', return_to: 'https://evil.example.net/done' }),
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_request' });
    expect(String(body.message)).toContain('return_to');
  });

  it('refuses xentral, which has no OAuth flow, pointing at personal tokens', async () => {
    const { status, body } = await t.json('/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ provider: 'xentral' }),
    });
    expect(status).toBe(400);
    expect(String(body.message)).toContain('/personal-tokens/xentral');
  });

  it('needs the API key', async () => {
    const response = await fetch(`${t.url}/connect-sessions`, {
      method: 'POST',
      body: '{"provider":"lightspeed-x"}',
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'unauthorized' });
  });
});

describe('GET /connect/{session_id}', () => {
  it('redirects to the authorization URL with a fresh state of at least 32 characters and a bound cookie', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const url = new URL(auth.location);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe('demo-client-id');
    expect(url.searchParams.get('redirect_uri')).toBe(`${t.url}/oauth/lightspeed-x/callback`);
    expect(url.searchParams.get('scope')).toMatch(/:read/);
    expect(auth.state.length).toBeGreaterThanOrEqual(32);
    expect(auth.state).not.toBe(session.id);
    expect(auth.setCookie).toMatch(/HttpOnly/);
    expect(auth.setCookie).toMatch(/SameSite=Lax/);
    // http://localhost: no Secure flag, or the browser would drop the cookie.
    expect(auth.setCookie).not.toMatch(/Secure/);
  });

  it('answers 410 with a page when the link is opened again after it completed', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'once-store' });
    expect((await openCallback(callback, auth.cookie)).status).toBe(200);
    const again = await fetch(session.connect_url, { redirect: 'manual' });
    expect(again.status).toBe(410);
    expect(again.headers.get('content-type')).toContain('text/html');
    expect(again.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await again.text()).toContain('expired or was already used');
  });

  it('answers 410 for an unknown session', async () => {
    const response = await fetch(`${t.url}/connect/${'x'.repeat(43)}`, { redirect: 'manual' });
    expect(response.status).toBe(410);
  });

  it('answers 410 for an expired session', async () => {
    const now = Date.now();
    // biome-ignore lint/complexity/useLiteralKeys: the private deps hold the session store to plant an expired session
    await t.broker.services.connect['deps'].sessions.createConnectSession({
      id: 'e'.repeat(43),
      provider: 'lightspeed-x',
      createdAt: now - 11 * 60_000,
      expiresAt: now - 60_000,
      keepUntil: now + 9 * 60_000,
    });
    const response = await fetch(`${t.url}/connect/${'e'.repeat(43)}`, { redirect: 'manual' });
    expect(response.status).toBe(410);
  });
});

describe('GET /oauth/{provider}/callback', () => {
  it('stores the tokens and shows a connected page when the session has no return_to', async () => {
    const response = await connect(t, 'page-store');
    expect(response.status).toBe(200);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const token = await t.json<TokenBody>('/tokens/lightspeed-x/page-store');
    expect(token.status).toBe(200);
    expect(token.body.source).toBe('oauth');
  });

  it('redirects 303 to return_to with status, provider, account and reference', async () => {
    const session = await createSession(t, {
      provider: 'lightspeed-x',
      return_to: `${APP}/integrations/done?tab=pos`,
      reference: 'cust-77',
    });
    const auth = await openConnectLink(session.connect_url);
    const response = await openCallback(
      t.simulator.consent(auth.location, { domainPrefix: 'redirect-store' }),
      auth.cookie,
    );
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${APP}/integrations/done`);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      tab: 'pos',
      status: 'connected',
      provider: 'lightspeed-x',
      account: 'redirect-store',
      reference: 'cust-77',
    });
    const metadata = await t.json('/connections/lightspeed-x/redirect-store');
    expect(metadata.body).toMatchObject({ status: 'active', source: 'oauth', reference: 'cust-77' });
  });

  it('stores nothing and redirects with status=denied when the retailer declines a known state', async () => {
    const session = await createSession(t, { provider: 'lightspeed-x', return_to: `${APP}/done` });
    const auth = await openConnectLink(session.connect_url);
    const response = await openCallback(
      `${t.url}/oauth/lightspeed-x/callback?error=access_denied&state=${auth.state}`,
      auth.cookie,
    );
    expect(response.status).toBe(303);
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('status')).toBe('denied');
    expect(t.simulator.stats().tokenCalls).toBe(0);
  });

  it.each(['invalid_scope', 'server_error', 'temporarily_unavailable'])(
    'shows the failed page, not the declined one, for error=%s, and uses up the state',
    async (error) => {
      const session = await createSession(t, { provider: 'lightspeed-x', return_to: `${APP}/done` });
      const auth = await openConnectLink(session.connect_url);
      const response = await openCallback(
        `${t.url}/oauth/lightspeed-x/callback?error=${error}&state=${auth.state}`,
        auth.cookie,
      );
      expect(response.status).toBe(502);
      expect(await response.text()).not.toContain('You declined');
      expect(t.simulator.stats().tokenCalls).toBe(0);
      const replay = await openCallback(
        `${t.url}/oauth/lightspeed-x/callback?error=access_denied&state=${auth.state}`,
        auth.cookie,
      );
      expect(replay.status).toBe(400); // the state is gone: no redirect to return_to any more
    },
  );

  it('answers 400 to a provider error without a known state: anybody can make that link', async () => {
    const response = await openCallback(`${t.url}/oauth/lightspeed-x/callback?error=server_error`);
    expect(response.status).toBe(400);
    expect(t.simulator.stats().tokenCalls).toBe(0);
  });

  it('shows a declined page when the provider omits the state on a denial (as Lightspeed documents)', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const denied = t.simulator.consent(auth.location, 'deny');
    expect(new URL(denied).searchParams.has('state')).toBe(false);
    const response = await openCallback(denied, auth.cookie);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('You declined the connection');
    expect(t.simulator.stats().tokenCalls).toBe(0);
  });

  it.each([
    ['missing state', (cb: URL) => cb.searchParams.delete('state')],
    ['unknown state', (cb: URL) => cb.searchParams.set('state', 'u'.repeat(43))],
    ['invalid domain_prefix', (cb: URL) => cb.searchParams.set('domain_prefix', 'Evil.example.com')],
    ['missing code', (cb: URL) => cb.searchParams.delete('code')],
  ])('answers 400 without calling the provider for a %s', async (_, mutate) => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const callback = new URL(t.simulator.consent(auth.location, { domainPrefix: 'bad-store' }));
    mutate(callback);
    const response = await openCallback(callback.toString(), auth.cookie);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(t.simulator.stats().tokenCalls).toBe(0);
  });

  it('answers 400 without calling the provider when the browser has no matching cookie', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'cookie-store' });
    expect((await openCallback(callback)).status).toBe(400);
    const [name] = auth.cookie.split('=');
    expect((await openCallback(callback, `${name}=forged-value`)).status).toBe(400);
    expect(t.simulator.stats().tokenCalls).toBe(0);
    expect((await t.json('/connections/lightspeed-x/cookie-store')).status).toBe(404);
  });

  it('answers 400 to a replayed callback without a second provider call', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'replay-store' });
    expect((await openCallback(callback, auth.cookie)).status).toBe(200);
    const calls = t.simulator.stats().tokenCalls;
    expect((await openCallback(callback, auth.cookie)).status).toBe(400);
    expect(t.simulator.stats().tokenCalls).toBe(calls);
  });

  it('answers 502 and stores nothing when the token endpoint keeps failing', async () => {
    t.simulator.injectFault({ kind: 'status', status: 503, times: 5, grant: 'authorization_code' });
    const response = await connect(t, 'failing-store');
    expect(response.status).toBe(502);
    expect((await t.json('/connections/lightspeed-x/failing-store')).status).toBe(404);
  });

  it('answers 400 for an unknown provider', async () => {
    const response = await openCallback(`${t.url}/oauth/square/callback?code=x&state=${'s'.repeat(43)}`);
    expect(response.status).toBe(400);
  });

  it('heals a connection that needed reauthorization when the retailer connects again', async () => {
    await connect(t, 'heal-store');
    t.simulator.revokeAccount('heal-store');
    const dead = await t.json('/tokens/lightspeed-x/heal-store?force_refresh=true');
    expect(dead.body).toMatchObject({ error: 'reauthorization_required' });
    await connect(t, 'heal-store');
    const healed = await t.json<TokenBody>('/tokens/lightspeed-x/heal-store?force_refresh=true');
    expect(healed.status).toBe(200);
    expect((await t.json('/connections/lightspeed-x/heal-store')).body).toMatchObject({ status: 'active' });
  });
});

describe('a state is used up only by its own browser', () => {
  it('leaves the state usable and reveals nothing when a denial arrives without the binding cookie or with a forged one', async () => {
    const session = await createSession(t, {
      provider: 'lightspeed-x',
      return_to: `${APP}/done`,
      reference: 'victim-tenant',
    });
    const auth = await openConnectLink(session.connect_url);
    const denial = `${t.url}/oauth/lightspeed-x/callback?error=access_denied&state=${auth.state}`;
    const [name] = auth.cookie.split('=');
    for (const cookie of [undefined, `${name}=forged-value`, `${name}=${'A'.repeat(43)}`]) {
      const response = await openCallback(denial, cookie);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      const html = await response.text();
      expect(html).not.toContain('victim-tenant');
      expect(html).not.toContain(APP);
    }
    // The retailer's own browser still finishes with that state.
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'unburnt-store' });
    const finished = await openCallback(callback, auth.cookie);
    expect(finished.status).toBe(303);
    expect(new URL(finished.headers.get('location') ?? '').searchParams.get('status')).toBe('connected');
  });

  it('leaves the state usable when a provider error arrives with a forged cookie', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const [name] = auth.cookie.split('=');
    const error = await openCallback(
      `${t.url}/oauth/lightspeed-x/callback?error=server_error&state=${auth.state}`,
      `${name}=forged-value`,
    );
    expect(error.status).toBe(400);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'still-usable' });
    expect((await openCallback(callback, auth.cookie)).status).toBe(200);
  });

  it('leaves the state usable when a code callback arrives with a forged cookie', async () => {
    const session = await createSession(t);
    const auth = await openConnectLink(session.connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'forged-first' });
    const [name] = auth.cookie.split('=');
    expect((await openCallback(callback, `${name}=forged-value`)).status).toBe(400);
    expect(t.simulator.stats().tokenCalls).toBe(0);
    expect((await openCallback(callback, auth.cookie)).status).toBe(200);
    expect(t.simulator.stats().tokenCalls).toBe(1);
  });
});

describe('a connect link survives link-preview bots', () => {
  it('still connects when a mail scanner opened the link before the retailer', async () => {
    const session = await createSession(t, { provider: 'lightspeed-x', return_to: `${APP}/done` });
    // The scanner follows the link without cookies, and never consents.
    const scanner = await openConnectLink(session.connect_url);
    const retailer = await openConnectLink(session.connect_url);
    expect(retailer.state).not.toBe(scanner.state);
    expect(retailer.cookie).not.toBe(scanner.cookie);
    const response = await openCallback(
      t.simulator.consent(retailer.location, { domainPrefix: 'scanned-store' }),
      retailer.cookie,
    );
    expect(response.status).toBe(303);
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('status')).toBe('connected');
  });

  it('completes once: a second attempt of the same link reaching the callback later gets 400 and no provider call', async () => {
    const session = await createSession(t);
    const first = await openConnectLink(session.connect_url);
    const second = await openConnectLink(session.connect_url);
    const firstCallback = t.simulator.consent(first.location, { domainPrefix: 'single-a' });
    const secondCallback = t.simulator.consent(second.location, { domainPrefix: 'single-b' });
    expect((await openCallback(secondCallback, second.cookie)).status).toBe(200);
    const calls = t.simulator.stats().tokenCalls;
    const late = await openCallback(firstCallback, first.cookie);
    expect(late.status).toBe(400);
    expect(t.simulator.stats().tokenCalls).toBe(calls);
    expect((await t.json('/connections/lightspeed-x/single-a')).status).toBe(404);
    expect((await fetch(session.connect_url, { redirect: 'manual' })).status).toBe(410);
  });

  it(`starts at most ${CONNECT_ATTEMPTS_PER_SESSION} authorization attempts per link, then answers 410`, async () => {
    const session = await createSession(t);
    for (let n = 0; n < CONNECT_ATTEMPTS_PER_SESSION; n++) await openConnectLink(session.connect_url);
    const exhausted = await fetch(session.connect_url, { redirect: 'manual' });
    expect(exhausted.status).toBe(410);
  });
});
