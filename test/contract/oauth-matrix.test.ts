/**
 * One contract matrix over every OAuth provider of the registry: each flow of docs/api.md runs
 * against each provider's simulator (its own answer shapes, expiry formats, rotation, body
 * encodings, signatures), so a provider added to the registry and the demo gets all of it for free.
 * The two-process race runs in test/contract/oauth-matrix-pair.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDemoProvider } from '../../functions/local/demo';
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import type { Provider } from '../../shared/domain/ports';
import { PROVIDER_DEFINITIONS, type ProviderId } from '../../shared/providers';
import {
  createSession,
  openCallback,
  openConnectLink,
  startTestBroker,
  type TestBroker,
  type TokenBody,
} from '../helpers/broker';
import { accountFor, type ConnectOptions, callsTheApi, connectAccount } from './matrix';

const OAUTH_PROVIDERS = PROVIDER_DEFINITIONS.filter((definition) => definition.oauth !== undefined).map(
  (definition) => definition.id,
);

let t: TestBroker;
const defaultTtl: Record<string, number> = {};

beforeAll(async () => {
  t = await startTestBroker();
  for (const [id, simulator] of Object.entries(t.broker.simulators)) {
    defaultTtl[id] = simulator.settings.accessTokenTtlSeconds;
  }
});
afterAll(() => t.close());

it('covers every OAuth provider of the registry, each played by a demo simulator', () => {
  expect(OAUTH_PROVIDERS.length).toBeGreaterThanOrEqual(5);
  for (const id of OAUTH_PROVIDERS) {
    expect(isDemoProvider(id), id).toBe(true);
    expect(Object.keys(t.broker.simulators)).toContain(id);
  }
});

describe.each(OAUTH_PROVIDERS)('%s', (id: ProviderId) => {
  const simulator = (): OAuthSimulator => {
    const played = t.broker.simulators[id];
    if (played === undefined) throw new Error(`no simulator for ${id}`);
    return played;
  };
  const provider = (): Provider => t.broker.services.providers[id];
  let accounts = 0;
  const newAccount = () => accountFor(provider(), simulator(), ++accounts);
  const token = (account: string, query = '') => t.json<TokenBody>(`/tokens/${id}/${account}${query}`);
  const connection = (account: string) => t.json<Record<string, unknown>>(`/connections/${id}/${account}`);

  const connect = (account: string, options?: ConnectOptions) =>
    connectAccount(t, provider(), simulator(), account, options);

  /** Connects with an access token of two minutes: due for any caller asking 300 s of validity. */
  async function connectDue(account: string) {
    simulator().setAccessTokenTtl(120);
    try {
      await connect(account);
    } finally {
      simulator().setAccessTokenTtl(defaultTtl[id] ?? 3600);
    }
  }

  beforeEach(() => {
    simulator().clearFaults();
    simulator().setTokenLatency(0);
    simulator().setAccessTokenTtl(defaultTtl[id] ?? 3600);
    simulator().resetStats();
  });

  describe('connect', () => {
    it('connects a store: the connected page, then a token that works against the provider API', async () => {
      const account = newAccount();
      const { response } = await connect(account);
      expect(response.status).toBe(200);
      const fetched = await token(account);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toMatchObject({ provider: id, account, source: 'oauth', token_type: 'Bearer' });
      expect(Date.parse(fetched.body.expires_at ?? '')).toBeGreaterThan(Date.now());
      expect(await callsTheApi(provider(), account, fetched.body.access_token)).toBe(200);
    });

    it('shows the declined page when the retailer says no, and stores nothing', async () => {
      const account = newAccount();
      const needsAccount = provider().oauth?.accountBeforeAuthorization === true;
      const { connect_url } = await createSession(t, { provider: id, ...(needsAccount ? { account } : {}) });
      const authorization = await openConnectLink(connect_url);
      const response = await openCallback(
        simulator().consent(authorization.location, 'deny'),
        authorization.cookie,
      );
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('declined');
      expect((await connection(account)).status).toBe(404);
    });

    it('refuses a replayed callback and one from another browser, without a provider call', async () => {
      const account = newAccount();
      const first = await connect(account);
      expect(first.response.status).toBe(200);
      simulator().resetStats();
      expect((await openCallback(first.callback, first.cookie)).status).toBe(400);
      const other = await createSession(t, {
        provider: id,
        ...(provider().oauth?.accountBeforeAuthorization ? { account } : {}),
      });
      const authorization = await openConnectLink(other.connect_url);
      const callback = simulator().consent(authorization.location, { account });
      expect((await openCallback(callback)).status).toBe(400);
      expect(simulator().stats().exchanges).toBe(0);
    });

    it('refuses an account outside the provider syntax before any provider call', async () => {
      const before = simulator().stats().tokenCalls;
      const refused = await t.json<{ error: string; message: string }>(`/tokens/${id}/not_an-account!`);
      expect(refused.status).toBe(400);
      expect(refused.body.message).toBe(`path.account: must be ${provider().account.syntax}`);
      expect(simulator().stats().tokenCalls).toBe(before);
    });

    it('stores nothing when the provider connects another account than the connect session named', async () => {
      const named = newAccount();
      const other = newAccount();
      // Where the account is the authorization URL's own (Shopify's shop), the retailer cannot pick
      // another: a session with one shop only ever reaches that shop.
      const picksAccount = simulator().profile.accountSource === 'typed';
      const { response } = await connect(named, {
        session: { account: named },
        consentAs: picksAccount ? other : named,
      });
      if (!picksAccount) {
        expect(response.status).toBe(200);
        return;
      }
      expect(response.status).toBe(400);
      expect((await connection(other)).status).toBe(404);
      expect((await connection(named)).status).toBe(404);
    });

    it('shows the failed page and stores nothing when the code exchange fails', async () => {
      const account = newAccount();
      simulator().injectFault({ kind: 'status', status: 500, grant: 'authorization_code' });
      const { response } = await connect(account);
      expect(response.status).toBe(502);
      expect((await connection(account)).status).toBe(404);
    });
  });

  describe('refresh', () => {
    it('rotates: each refresh presents the newest refresh token, never a used one', async () => {
      const account = newAccount();
      await connect(account);
      const first = await token(account, '?force_refresh=true');
      const second = await token(account, '?force_refresh=true');
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body.access_token).not.toBe(first.body.access_token);
      const stats = simulator().stats();
      expect(stats.refreshes).toBe(2);
      expect(stats.revokedRefreshTokenUses).toBe(0);
      expect(stats.invalidGrants).toBe(0);
      expect(await callsTheApi(provider(), account, second.body.access_token)).toBe(200);
    });

    it('keeps the stored refresh token when an answer has none', async () => {
      const account = newAccount();
      await connect(account);
      simulator().injectFault({ kind: 'omit_refresh_token' });
      expect((await token(account, '?force_refresh=true')).status).toBe(200);
      const after = await token(account, '?force_refresh=true');
      expect(after.status).toBe(200);
      expect(simulator().stats().invalidGrants).toBe(0);
    });

    it('answers 409 after invalid_grant, calls the provider no more, and works again once reconnected', async () => {
      const account = newAccount();
      await connect(account);
      simulator().revokeAccount(account);
      const refused = await token(account, '?force_refresh=true');
      expect(refused.status).toBe(409);
      expect(refused.body.error).toBe('reauthorization_required');
      const calls = simulator().stats().tokenCalls;
      expect((await token(account)).status).toBe(409);
      expect(simulator().stats().tokenCalls).toBe(calls);
      expect((await connection(account)).body).toMatchObject({ status: 'reauthorization_required' });
      expect((await connect(account)).response.status).toBe(200);
      expect((await token(account, '?force_refresh=true')).status).toBe(200);
    });

    it('retries a 503, then serves the still-valid token as stale while the provider is down', async () => {
      const account = newAccount();
      await connect(account);
      simulator().injectFault({ kind: 'status', status: 503, grant: 'refresh_token' });
      expect((await token(account, '?force_refresh=true')).status).toBe(200);
      expect(simulator().stats().refreshAttempts).toBe(2);

      const due = newAccount();
      await connectDue(due);
      simulator().injectFault({ kind: 'status', status: 503, grant: 'refresh_token', times: 10 });
      const degraded = await token(due, '?min_valid_seconds=300');
      expect(degraded.status).toBe(200);
      expect(degraded.body.stale).toBe(true);
      const forced = await token(due, '?force_refresh=true');
      expect(forced.status).toBe(503);
      expect(forced.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await connection(due)).body).toMatchObject({ status: 'active' });
    });

    it('waits out a 429 with Retry-After without marking the connection dead', async () => {
      const account = newAccount();
      await connect(account);
      simulator().injectFault({ kind: 'status', status: 429, retryAfter: '1', grant: 'refresh_token' });
      const answer = await token(account, '?force_refresh=true');
      expect([200, 503]).toContain(answer.status);
      expect((await connection(account)).body).toMatchObject({ status: 'active' });
      expect((await token(account, '?force_refresh=true')).status).toBe(200);
    });

    it('refreshes once for 40 concurrent fetches of a token that is due', async () => {
      const account = newAccount();
      await connectDue(account);
      simulator().resetStats();
      const answers = await Promise.all(
        Array.from({ length: 40 }, () => token(account, '?min_valid_seconds=300')),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(40).fill(200));
      expect(new Set(answers.map((answer) => answer.body.access_token)).size).toBe(1);
      expect(simulator().stats().refreshes).toBe(1);
      expect(simulator().stats().maxConcurrentRefreshesPerAccount).toBe(1);
    });
  });

  describe('faults after the provider processed the refresh', () => {
    it('keeps the new refresh token of a 200 whose access part is unusable', async () => {
      const account = newAccount();
      await connectDue(account);
      const before = await token(account, '?min_valid_seconds=60');
      simulator().injectFault({ kind: 'unusable', variant: 'no_access_token', grant: 'refresh_token' });
      const answer = await token(account, '?min_valid_seconds=300');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ stale: true, access_token: before.body.access_token });
      expect((await connection(account)).body).toMatchObject({
        status: 'active',
        last_error: 'unusable_token_answer',
      });
      // The next refresh presents the kept token: the provider refreshes, never sees a revoked one.
      const forced = await token(account, '?force_refresh=true');
      expect(forced.status).toBe(200);
      expect(forced.body.access_token).not.toBe(before.body.access_token);
      expect(simulator().stats()).toMatchObject({ revokedRefreshTokenUses: 0, invalidGrants: 0 });
    });

    it.each([
      ['an answer that never arrives', { kind: 'hang', ms: 2_500, afterProcessing: true }],
      ['an answer cut off mid-body', { kind: 'malformed', afterProcessing: true }],
    ] as const)(
      'makes one attempt after %s, then refreshes on or labels the loss refresh_answer_lost',
      async (_, fault) => {
        const account = newAccount();
        await connect(account);
        simulator().injectFault({ ...fault, grant: 'refresh_token' });
        const first = await token(account, '?force_refresh=true');
        expect(first.status).toBe(503);
        expect((await connection(account)).body).toMatchObject({ status: 'active' });
        expect(simulator().stats().refreshAttempts).toBe(1);
        // What follows is the provider's rule: a token it keeps valid (Square's, Shopify's grace) still
        // refreshes; a single-use one is gone, and the connection says so in its own words.
        const next = await token(account, '?force_refresh=true');
        if (next.status === 200) {
          expect(simulator().stats().invalidGrants).toBe(0);
        } else {
          expect(next.status).toBe(409);
          expect((await connection(account)).body).toMatchObject({
            status: 'reauthorization_required',
            last_error: 'refresh_answer_lost',
          });
        }
      },
    );
  });

  describe('sweep', () => {
    it('refreshes a connection nobody asks for before its access token expires', async () => {
      const account = newAccount();
      simulator().setAccessTokenTtl(600);
      await connect(account);
      const before = (await connection(account)).body.expires_at;
      simulator().resetStats();
      const report = await t.broker.sweep();
      expect(report.refreshed).toBeGreaterThanOrEqual(1);
      expect(simulator().stats().byAccount[account]?.refreshes).toBe(1);
      const after = (await connection(account)).body;
      expect(after.expires_at).not.toBe(before);
      expect(after.refreshed_at).not.toBeNull();
    });

    it('refreshes an idle connection ahead of its refresh token expiry, where the provider states one', async () => {
      const account = newAccount();
      // Access tokens outlive the sweep margin; the refresh token expires within twice of it.
      simulator().setAccessTokenTtl(7_200);
      simulator().setRefreshTokenTtl(1_200);
      try {
        await connect(account);
      } finally {
        simulator().setRefreshTokenTtl(undefined);
      }
      const { body } = await connection(account);
      simulator().resetStats();
      await t.broker.sweep();
      if (body.refresh_expires_at === null) {
        // States none: renewed at the provider's cadence (days away), so this sweep leaves it be.
        expect(simulator().stats().byAccount[account]?.refreshes ?? 0).toBe(0);
        return;
      }
      expect(simulator().stats().byAccount[account]?.refreshes).toBe(1);
      const after = (await connection(account)).body;
      expect(Date.parse(String(after.refresh_expires_at))).toBeGreaterThan(
        Date.parse(String(body.refresh_expires_at)),
      );
    });

    it('tracks the refresh token: its stated expiry, or the provider cadence, sets renew_by', async () => {
      const account = newAccount();
      await connect(account);
      const { body } = await connection(account);
      const renewBy = Date.parse(String(body.renew_by));
      expect(renewBy).toBeGreaterThan(Date.now());
      const cadence = provider().oauth?.renewal.everySeconds ?? 0;
      if (body.refresh_expires_at === null) {
        // No stated expiry: renewed at the provider's cadence, never "never".
        expect(renewBy).toBeLessThanOrEqual(Date.now() + cadence * 1000);
      } else {
        expect(renewBy).toBeLessThan(Date.parse(String(body.refresh_expires_at)));
      }
    });
  });
});
