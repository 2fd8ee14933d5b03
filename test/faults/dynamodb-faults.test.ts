/**
 * DynamoDB throttling and outages, injected by a proxy between an in-process broker and dynalite
 * (dynamo-proxy.ts). Light throttling is absorbed by the SDK's own retries; a persistent failure
 * answers a clean JSON 500 without a token or a stack; afterwards every connection still works and
 * the provider never saw a revoked refresh token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type TestBroker, type TokenBody } from '../helpers/broker';
import type { DynamoFaultKind, DynamoFaultProxy } from './dynamo-proxy';
import {
  connectAll,
  expectCleanError,
  expectNothingLost,
  expireLease,
  type ProxiedBroker,
  startProxiedBroker,
} from './helpers';

const ACCOUNTS = ['ddb-a', 'ddb-b', 'ddb-c'];

let env: ProxiedBroker;
let proxy: DynamoFaultProxy;
let t: TestBroker;

beforeAll(async () => {
  env = await startProxiedBroker();
  ({ proxy, t } = env);
  await connectAll(t, ACCOUNTS);
});
afterAll(() => env?.close());
beforeEach(() => env.reset());

const token = (account: string, query = '') => t.json<TokenBody>(`/tokens/lightspeed-x/${account}${query}`);
const faulted = () => Object.values(proxy.stats().faulted).reduce((sum, n) => sum + n, 0);

describe('DynamoDB throttling and outages', () => {
  it.each<DynamoFaultKind>(['provisioned-throughput', 'throttling-500', 'throttling-503'])(
    'absorbs light %s throttling with the SDK retries: the fetch answers 200 with the stored token',
    async (kind) => {
      const before = await token('ddb-a');
      proxy.fail({ kind, count: 2 });
      const during = await token('ddb-a');
      expect(faulted()).toBe(2);
      expect(during.status).toBe(200);
      expect(during.body.access_token).toBe(before.body.access_token);
      expect(t.simulator.stats().tokenCalls).toBe(0);
      await expectNothingLost(t, ACCOUNTS);
    },
  );

  it('keeps the rotated refresh token when the token write after the provider answer is throttled', async () => {
    // The first UpdateItem takes the lease; the second writes the provider's new tokens.
    proxy.fail({ kind: 'throttling-503', count: 2, operations: ['UpdateItem'], skip: 1 });
    const refreshed = await token('ddb-b', '?force_refresh=true');
    expect(refreshed.status).toBe(200);
    expect(proxy.stats().faulted).toEqual({ UpdateItem: 2 });
    expect(t.simulator.stats().refreshes).toBe(1);
    await expectNothingLost(t, ACCOUNTS);
  });

  it('keeps the rotated refresh token when the token write fails past the SDK retries and then recovers', async () => {
    await connect(t, 'ddb-recover');
    t.simulator.resetStats();
    // The lease write passes; the token write's first try fails all its SDK attempts (4), the
    // broker's second try meets two more failures and then succeeds.
    proxy.fail({ kind: 'internal-500', count: 6, operations: ['UpdateItem'], skip: 1 });
    const refreshed = await token('ddb-recover', '?force_refresh=true');
    expect(refreshed.status).toBe(200);
    expect(proxy.stats().faulted).toEqual({ UpdateItem: 6 });
    expect(t.simulator.stats().refreshes).toBe(1);
    await expectNothingLost(t, ['ddb-recover']);
  });

  it('answers a persistent outage with clean JSON 500s, never a token or stack, and loses nothing', async () => {
    const before = await token('ddb-c');
    proxy.fail({ kind: 'provisioned-throughput', count: 1_000 });
    const [fetched, forced, listed, stored] = await Promise.all([
      t.api('/tokens/lightspeed-x/ddb-c'),
      t.api('/tokens/lightspeed-x/ddb-a?force_refresh=true'),
      t.api('/connections'),
      t.api('/personal-tokens/xentral/ddb-outage', {
        method: 'PUT',
        body: JSON.stringify({ token: 'pat_outage_0123456789' }),
      }),
    ]);
    for (const response of [fetched, forced, listed, stored]) {
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toContain('application/json');
      const text = await response.text();
      expect(text).not.toContain(before.body.access_token);
      expect(text).not.toContain('pat_outage');
      expectCleanError(JSON.parse(text), 'internal_error');
    }
    // Nothing reached the provider: a refresh cannot start without its lease.
    expect(t.simulator.stats().tokenCalls).toBe(0);

    proxy.clear();
    const after = await token('ddb-c');
    expect(after.status).toBe(200);
    expect(after.body.access_token).toBe(before.body.access_token);
    expect((await t.json('/connections/xentral/ddb-outage')).status).toBe(404);
    await expectNothingLost(t, ACCOUNTS);
  });

  it('never calls the provider when the lease write fails', async () => {
    proxy.fail({ kind: 'internal-500', count: 100, operations: ['UpdateItem'] });
    const response = await t.api('/tokens/lightspeed-x/ddb-a?force_refresh=true');
    expect(response.status).toBe(500);
    expectCleanError(await response.json(), 'internal_error');
    expect(proxy.stats().faulted.UpdateItem).toBe(4);
    expect(t.simulator.stats().tokenCalls).toBe(0);
    proxy.clear();
    await expectNothingLost(t, ACCOUNTS);
  });

  it('reports a token write that failed for good after the provider rotated as refresh_interrupted', async () => {
    await connect(t, 'ddb-lost');
    t.simulator.resetStats();
    proxy.fail({ kind: 'internal-500', count: 100, operations: ['UpdateItem'], skip: 1 });
    const failed = await t.api('/tokens/lightspeed-x/ddb-lost?force_refresh=true');
    expect(failed.status).toBe(500);
    expectCleanError(await failed.json(), 'internal_error');
    // The provider rotated: the new refresh token existed only in the failed write.
    expect(t.simulator.stats().refreshes).toBe(1);
    proxy.clear();

    // The lease the failed refresh held is never released; let it run out (time passing).
    await expireLease(env.dynamodbEndpoint, 'ddb-lost');
    const refused = await token('ddb-lost', '?force_refresh=true');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('reauthorization_required');
    expect((await t.json('/connections/lightspeed-x/ddb-lost')).body).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'refresh_interrupted',
    });
    // The stale refresh token was presented exactly once, then the provider was left alone.
    expect(t.simulator.stats().revokedRefreshTokenUses).toBe(1);
    const calls = t.simulator.stats().tokenCalls;
    expect((await token('ddb-lost', '?force_refresh=true')).status).toBe(409);
    expect(t.simulator.stats().tokenCalls).toBe(calls);

    t.simulator.resetStats();
    await expectNothingLost(t, ACCOUNTS);
  });
});
