/**
 * TokenBrokerClient against an in-process local broker (demo mode, simulator): caching, single
 * flight, the typed errors the real broker produces, and the management routes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BrokerRequestError,
  NotFoundError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenBrokerClient,
  type TokenBrokerClientOptions,
  TokenBrokerError,
  TokenExpiredError,
} from '../../client';
import {
  connect,
  openCallback,
  openConnectLink,
  startTestBroker,
  TEST_API_KEY,
  type TestBroker,
} from '../helpers/broker';

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(() => t.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.setAccessTokenTtl(86_400);
  t.simulator.setTokenLatency(0);
});

/** A client whose fetch counts the token requests it sends. */
function countingClient(options: Partial<TokenBrokerClientOptions> = {}) {
  const sent: string[] = [];
  const client = new TokenBrokerClient({
    url: t.url,
    auth: { apiKey: TEST_API_KEY },
    fetch: (input, init) => {
      sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
    ...options,
  });
  return { client, tokenRequests: () => sent.filter((s) => s.startsWith('GET /tokens/')).length, sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const putPersonal = (provider: string, account: string, body: Record<string, unknown>) =>
  t.json(`/personal-tokens/${provider}/${account}`, { method: 'PUT', body: JSON.stringify(body) });

describe('getToken caching', () => {
  it('answers 1,000 concurrent and sequential calls with one broker request while the token is valid', async () => {
    await connect(t, 'cache-store');
    const { client, tokenRequests } = countingClient();
    const concurrent = await Promise.all(
      Array.from({ length: 500 }, () => client.getToken('lightspeed-x', 'cache-store')),
    );
    const sequential = [];
    for (let i = 0; i < 500; i++) sequential.push(await client.getToken('lightspeed-x', 'cache-store'));
    expect(tokenRequests()).toBe(1);
    const tokens = new Set([...concurrent, ...sequential].map((token) => token.access_token));
    expect(tokens.size).toBe(1);
    expect(concurrent[0]).toMatchObject({
      provider: 'lightspeed-x',
      account: 'cache-store',
      token_type: 'Bearer',
      source: 'oauth',
      api_base_url: `${t.url}/_sim/lightspeed-x/cache-store/api`,
    });
  });

  it('sends 100 concurrent first calls as one request (single flight)', async () => {
    await connect(t, 'flight-store');
    const { client, tokenRequests } = countingClient();
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => client.getToken('lightspeed-x', 'flight-store')),
    );
    expect(tokenRequests()).toBe(1);
    expect(new Set(answers.map((a) => a.access_token)).size).toBe(1);
  });

  it('keeps single flights apart per connection', async () => {
    await connect(t, 'apart-a');
    await connect(t, 'apart-b');
    const { client, tokenRequests } = countingClient();
    const [a, b] = await Promise.all([
      client.getToken('lightspeed-x', 'apart-a'),
      client.getToken('lightspeed-x', 'apart-b'),
      client.getToken('lightspeed-x', 'apart-a'),
    ]);
    expect(tokenRequests()).toBe(2);
    expect(a?.account).toBe('apart-a');
    expect(b?.account).toBe('apart-b');
  });

  it('fetches again once the token is within the margin of its expiry', async () => {
    await connect(t, 'margin-store');
    let clock = Date.now();
    const { client, tokenRequests } = countingClient({ now: () => clock, marginSeconds: 60 });
    const first = await client.getToken('lightspeed-x', 'margin-store');
    const expiresAt = Date.parse(first.expires_at ?? '');
    clock = expiresAt - 61_000;
    await client.getToken('lightspeed-x', 'margin-store');
    expect(tokenRequests()).toBe(1);
    clock = expiresAt - 59_000;
    await client.getToken('lightspeed-x', 'margin-store');
    expect(tokenRequests()).toBe(2);
  });

  it('fetches again when the caller needs the token valid longer than the cached one is', async () => {
    await connect(t, 'longer-store');
    let clock = Date.now();
    const { client, tokenRequests } = countingClient({ now: () => clock });
    const first = await client.getToken('lightspeed-x', 'longer-store');
    clock = Date.parse(first.expires_at ?? '') - 600_000;
    await client.getToken('lightspeed-x', 'longer-store', { minValidSeconds: 300 });
    expect(tokenRequests()).toBe(1);
    await client.getToken('lightspeed-x', 'longer-store', { minValidSeconds: 900 });
    expect(tokenRequests()).toBe(2);
  });

  it('never answers force_refresh from the cache', async () => {
    await connect(t, 'forced-store');
    const { client, tokenRequests } = countingClient();
    const cached = await client.getToken('lightspeed-x', 'forced-store');
    const forced = await client.getToken('lightspeed-x', 'forced-store', { forceRefresh: true });
    expect(tokenRequests()).toBe(2);
    expect(forced.access_token).not.toBe(cached.access_token);
    // The refreshed token replaces the cached one.
    expect((await client.getToken('lightspeed-x', 'forced-store')).access_token).toBe(forced.access_token);
    expect(tokenRequests()).toBe(2);
  });

  it('fetches again after invalidate()', async () => {
    await connect(t, 'invalidate-store');
    const { client, tokenRequests } = countingClient();
    await client.getToken('lightspeed-x', 'invalidate-store');
    client.invalidate('lightspeed-x', 'invalidate-store');
    await client.getToken('lightspeed-x', 'invalidate-store');
    expect(tokenRequests()).toBe(2);
  });

  it('caches a personal token without expiry for five minutes, not forever', async () => {
    await putPersonal('xentral', 'forever', { token: 'no-expiry-token-1' });
    let clock = Date.now();
    const { client, tokenRequests } = countingClient({ now: () => clock });
    expect((await client.getToken('xentral', 'forever')).expires_at).toBeNull();
    clock += 299_000;
    await client.getToken('xentral', 'forever');
    expect(tokenRequests()).toBe(1);
    clock += 2_000;
    await client.getToken('xentral', 'forever');
    expect(tokenRequests()).toBe(2);
  });

  it('caches a stale answer for 30 seconds only', async () => {
    t.simulator.setAccessTokenTtl(3600);
    await connect(t, 'stale-store');
    let clock = Date.now();
    const { client, tokenRequests } = countingClient({ now: () => clock });
    t.simulator.injectFault({ kind: 'status', status: 502, times: 100, grant: 'refresh_token' });
    const stale = await client.getToken('lightspeed-x', 'stale-store', { minValidSeconds: 43_200 });
    t.simulator.clearFaults();
    expect(stale.stale).toBe(true);
    clock += 29_000;
    await client.getToken('lightspeed-x', 'stale-store');
    expect(tokenRequests()).toBe(1);
    clock += 2_000;
    const fresh = await client.getToken('lightspeed-x', 'stale-store');
    expect(tokenRequests()).toBe(2);
    expect(fresh.stale).toBeUndefined();
  });

  it('hands out frozen answers so one caller cannot change another caller’s token', async () => {
    await connect(t, 'frozen-store');
    const { client } = countingClient();
    const token = await client.getToken('lightspeed-x', 'frozen-store');
    expect(Object.isFrozen(token)).toBe(true);
  });
});

describe('getToken errors from the broker', () => {
  it('throws ReauthorizationRequiredError when the provider refused the refresh token', async () => {
    await connect(t, 'revoked-store');
    const { client } = countingClient();
    await client.getToken('lightspeed-x', 'revoked-store');
    t.simulator.revokeAccount('revoked-store');
    const error = await client
      .getToken('lightspeed-x', 'revoked-store', { forceRefresh: true })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect(error).toBeInstanceOf(TokenBrokerError);
    expect(error).toMatchObject({ code: 'reauthorization_required', status: 409 });
    // The token cached before must not be handed out any more.
    await expect(client.getToken('lightspeed-x', 'revoked-store')).rejects.toBeInstanceOf(
      ReauthorizationRequiredError,
    );
  });

  it('throws TokenExpiredError for a personal token past its expiry', async () => {
    await putPersonal('xentral', 'short', {
      token: 'short-lived-token',
      expires_at: new Date(Date.now() + 1200).toISOString(),
    });
    await sleep(1300);
    const { client } = countingClient();
    const error = await client.getToken('xentral', 'short').catch((e) => e);
    expect(error).toBeInstanceOf(TokenExpiredError);
    expect(error).toMatchObject({ code: 'token_expired', status: 409 });
  });

  it('throws ProviderUnavailableError with retryAfterSeconds when the token must be refreshed during an outage', async () => {
    t.simulator.setAccessTokenTtl(1);
    await connect(t, 'outage-store');
    await sleep(1100);
    t.simulator.injectFault({ kind: 'status', status: 503, times: 100, grant: 'refresh_token' });
    const { client } = countingClient();
    const error = await client.getToken('lightspeed-x', 'outage-store').catch((e) => e);
    t.simulator.clearFaults();
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ code: 'provider_unavailable', status: 503 });
    expect((error as ProviderUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    // Not cached: the next call asks again and gets a token once the provider is back.
    expect((await client.getToken('lightspeed-x', 'outage-store')).account).toBe('outage-store');
  });

  it('throws NotFoundError for an account that was never connected', async () => {
    const { client } = countingClient();
    const error = await client.getToken('lightspeed-x', 'never-store').catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('shares one failure among concurrent callers', async () => {
    const { client, tokenRequests } = countingClient();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.getToken('lightspeed-x', 'missing-store')),
    );
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof NotFoundError)).toBe(true);
    expect(tokenRequests()).toBe(1);
  });

  it.each<[string, { account?: string; apiKey?: string; url?: string }, string, number]>([
    ['a bad account', { account: 'Bad_Account' }, 'invalid_request', 400],
    ['a wrong API key', { apiKey: 'wrong-api-key-0123456789' }, 'unauthorized', 401],
    ['an unreachable broker', { url: 'http://127.0.0.1:9' }, 'network_error', 0],
  ])('throws BrokerRequestError for %s', async (_case, change, code, status) => {
    const client = new TokenBrokerClient({
      url: change.url ?? t.url,
      auth: { apiKey: change.apiKey ?? TEST_API_KEY },
    });
    const error = await client.getToken('lightspeed-x', change.account ?? 'some-store').catch((e) => e);
    expect(error).toBeInstanceOf(BrokerRequestError);
    expect(error).toBeInstanceOf(TokenBrokerError);
    expect(error).toMatchObject({ code, status });
  });
});

describe('management routes', () => {
  it('creates a connect session whose link starts the flow', async () => {
    const { client } = countingClient();
    const session = await client.createConnectSession({ provider: 'lightspeed-x', reference: 'tenant-1' });
    expect(session.connect_url).toBe(`${t.url}/connect/${session.id}`);
    expect(Date.parse(session.expires_at)).toBeGreaterThan(Date.now());
    const auth = await openConnectLink(session.connect_url);
    expect(auth.state.length).toBeGreaterThanOrEqual(32);
  });

  it('sends the account with the session: a Shopify link authorizes on that shop, the connection has v1.1 metadata', async () => {
    const { client } = countingClient();
    await expect(client.createConnectSession({ provider: 'shopify' })).rejects.toMatchObject({
      code: 'invalid_request',
      status: 400,
    });
    const session = await client.createConnectSession({ provider: 'shopify', account: 'client-shop' });
    const auth = await openConnectLink(session.connect_url);
    expect(auth.location).toContain('client-shop');
    const shopify = t.broker.simulators.shopify;
    if (shopify === undefined) throw new Error('the test broker has no Shopify simulator');
    await (
      await openCallback(shopify.consent(auth.location, { account: 'client-shop' }), auth.cookie)
    ).text();
    const connection = await client.getConnection('shopify', 'client-shop');
    expect(connection).toHaveProperty('refresh_expires_at');
    expect(Date.parse(connection.renew_by ?? '')).toBeGreaterThan(Date.now());
  });

  it('lists connections page by page and follows next_token through every page', async () => {
    for (const account of ['list-a', 'list-b', 'list-c']) {
      await putPersonal('xentral', account, { token: `token-for-${account}` });
    }
    const { client } = countingClient();
    const page = await client.listConnections({ provider: 'xentral', limit: 1 });
    expect(page.connections).toHaveLength(1);
    expect(page.next_token).toBeDefined();
    const all = [];
    for await (const connection of client.allConnections({ provider: 'xentral', limit: 1 }))
      all.push(connection);
    const accounts = all.map((c) => c.account);
    expect(accounts).toEqual(expect.arrayContaining(['list-a', 'list-b', 'list-c']));
    expect(new Set(accounts).size).toBe(accounts.length);
  });

  it('stores, shows and deletes a personal token, dropping the cached token each time', async () => {
    const { client } = countingClient();
    const stored = await client.putPersonalToken('xentral', 'rotating', {
      token: 'first-token-value',
      name: 'ERP sync',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(stored).toMatchObject({
      provider: 'xentral',
      account: 'rotating',
      source: 'personal',
      name: 'ERP sync',
    });
    expect(JSON.stringify(stored)).not.toContain('first-token-value');
    expect((await client.getToken('xentral', 'rotating')).access_token).toBe('first-token-value');
    await client.putPersonalToken('xentral', 'rotating', { token: 'second-token-value' });
    expect((await client.getToken('xentral', 'rotating')).access_token).toBe('second-token-value');
    expect(await client.getConnection('xentral', 'rotating')).toMatchObject({ status: 'active' });
    await client.deletePersonalToken('xentral', 'rotating');
    await expect(client.getToken('xentral', 'rotating')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.getConnection('xentral', 'rotating')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a connection and stops handing out its cached token', async () => {
    await connect(t, 'doomed-store');
    const { client } = countingClient();
    await client.getToken('lightspeed-x', 'doomed-store');
    await client.deleteConnection('lightspeed-x', 'doomed-store');
    await expect(client.getToken('lightspeed-x', 'doomed-store')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.deleteConnection('lightspeed-x', 'doomed-store')).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});
