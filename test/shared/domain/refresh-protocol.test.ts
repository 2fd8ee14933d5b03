/**
 * The refresh protocol's rules that need a controlled clock or a held flight: a joiner answered by
 * its own options, lease takeover without comparing clocks, capped hold-offs. Over a DynamoDbStore
 * on dynalite with a scripted token endpoint.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderUnavailableError } from '../../../shared/domain/errors';
import { MAX_CLOCK_SKEW_MS } from '../../../shared/domain/lease-watch';
import type { ConnectionKey, OAuthConnection } from '../../../shared/domain/model';
import type { Clock, ConnectionStore, HttpClient, ProviderResponse } from '../../../shared/domain/ports';
import { REFRESH_COOLDOWN_MS, type Refresher } from '../../../shared/domain/refresh';
import { GRANT_RETRY_POLICY, MAX_RETRY_AFTER_SECONDS } from '../../../shared/domain/retry';
import { fixtureRefresher, renewalFor, type StoreFixture, startStoreFixture } from '../../helpers/store';

let f: StoreFixture;
let calls: string[];
let rotation = 0;
/** What the token endpoint answers next (a rotating 200 when empty). */
let script: Array<(now: number) => ProviderResponse>;

/** A wall clock and a monotonic clock the tests move; sleeping moves both. */
let wall = 0;
let mono = 0;
const clock: Clock = {
  now: () => wall,
  sleep: async (ms) => {
    wall += ms;
    mono += ms;
  },
};

const rotating = (now: number): ProviderResponse => {
  rotation++;
  return {
    status: 200,
    headers: new Headers(),
    body: JSON.stringify({
      access_token: `at-${rotation}`,
      refresh_token: `rt-${rotation}`,
      expires_in: 86_400,
      token_type: 'Bearer',
    }),
    receivedAt: now,
  };
};

const http: HttpClient = async (request) => {
  calls.push(new URLSearchParams(request.body).get('refresh_token') ?? '');
  return (script.shift() ?? rotating)(wall);
};

function refresherWith(store?: ConnectionStore): Refresher {
  const refresher = fixtureRefresher(f, {
    http,
    clock,
    monotonic: () => mono,
    retryPolicy: GRANT_RETRY_POLICY,
  });
  if (store === undefined) return refresher;
  return fixtureRefresher(
    { ...f, store: store as StoreFixture['store'] },
    {
      http,
      clock,
      monotonic: () => mono,
      retryPolicy: GRANT_RETRY_POLICY,
    },
  );
}

async function connected(account: string, expiresInMs: number): Promise<OAuthConnection> {
  const key: ConnectionKey = { provider: 'lightspeed-x', account };
  await f.store.saveAuthorization(
    key,
    { accessToken: `at-${account}`, refreshToken: `rt-${account}`, expiresAt: wall + expiresInMs },
    { now: wall, renewal: renewalFor(wall) },
  );
  const stored = await f.store.getOAuth(key);
  if (stored === undefined) throw new Error('not stored');
  return stored;
}

beforeAll(async () => {
  f = await startStoreFixture();
});
afterAll(() => f?.close());
beforeEach(() => {
  calls = [];
  script = [];
  // Real epoch values: DynamoDB items carry them, and the helpers compare with Date.now().
  wall = Date.now();
  mono = 1_000_000;
});

describe('a caller that joins a refresh under way', () => {
  it("gives a force_refresh that joins the sweep's look at a still-valid token a new token", async () => {
    const account = 'joined-force';
    const before = await connected(account, 3_600_000);
    // The sweep's first read is held until the force_refresh call has joined its flight.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated = new Proxy(f.store, {
      get(target, name, receiver) {
        if (name !== 'getOAuth') return Reflect.get(target, name, receiver);
        return async (key: ConnectionKey) => {
          await gate;
          return target.getOAuth(key);
        };
      },
    });
    const refresher = refresherWith(gated);

    const sweep = refresher.ensureFreshByKey(before, { minValidSeconds: 900, force: false });
    const forced = refresher.ensureFresh(before, { minValidSeconds: 300, force: true });
    release();

    expect((await sweep).refreshed).toBe(false);
    const answer = await forced;
    expect(answer.refreshed).toBe(true);
    expect(answer.connection.accessToken).not.toBe(before.accessToken);
    expect(calls).toEqual([`rt-${account}`]);
  });

  it('answers a storm of force_refresh calls from one refresh within the cooldown', async () => {
    const before = await connected('cooldown', 3_600_000);
    const refresher = refresherWith();
    const first = await refresher.ensureFresh(before, { minValidSeconds: 300, force: true });
    expect(first.refreshed).toBe(true);

    wall += REFRESH_COOLDOWN_MS - 1;
    const inside = await refresher.ensureFresh(first.connection, { minValidSeconds: 300, force: true });
    expect(inside.connection.accessToken).toBe(first.connection.accessToken);
    expect(calls).toHaveLength(1);

    wall += 2;
    const after = await refresher.ensureFresh(first.connection, { minValidSeconds: 300, force: true });
    expect(after.connection.accessToken).not.toBe(first.connection.accessToken);
    expect(calls).toHaveLength(2);
  });
});

describe('lease takeover without comparing clocks', () => {
  it('waits out a lease whose holder runs 60 s behind, and takes it over only after watching it a whole lease length', async () => {
    const before = await connected('skewed-holder', 60_000);
    const refresher = refresherWith();
    // Another process, its clock 60 s behind, just took the lease: by this host's clock it ended already.
    await f.store.acquireLease(before, {
      version: before.version,
      owner: 'skewed',
      until: wall - 60_000 + refresher.leaseMs,
    });

    await expect(refresher.ensureFresh(before, { minValidSeconds: 300, force: false })).rejects.toThrow(
      'still in progress',
    );
    expect(calls).toEqual([]);

    // Watched for a whole lease length on the monotonic clock: abandoned, taken over, refreshed.
    mono += refresher.leaseMs;
    const answer = await refresher.ensureFresh(before, { minValidSeconds: 300, force: false });
    expect(answer.refreshed).toBe(true);
    expect(calls).toEqual(['rt-skewed-holder']);
  });

  it('does not count watching time across a change of lease (a new holder starts the watch again)', async () => {
    const before = await connected('relet', 60_000);
    const refresher = refresherWith();
    await f.store.acquireLease(before, { version: before.version, owner: 'first', until: wall + 30_000 });
    await expect(refresher.ensureFresh(before, { minValidSeconds: 300, force: false })).rejects.toThrow(
      ProviderUnavailableError,
    );
    // The first holder finished without writing; a second took the lease. Watched over both calls,
    // the lease row was held longer than a lease length, but never the same lease.
    await f.store.recordRefreshFailure(before, { owner: 'first', error: 'http_503', now: wall });
    await f.store.acquireLease(before, { version: before.version, owner: 'second', until: wall + 30_000 });
    await expect(refresher.ensureFresh(before, { minValidSeconds: 300, force: false })).rejects.toThrow(
      ProviderUnavailableError,
    );
    expect(calls).toEqual([]);
  });

  it('lets a cold observer take over a lease whose end lies more than the tolerated skew behind', async () => {
    const before = await connected('cold', 60_000);
    const refresher = refresherWith();
    await f.store.acquireLease(before, {
      version: before.version,
      owner: 'crashed',
      until: wall - MAX_CLOCK_SKEW_MS - 1,
    });
    const answer = await refresher.ensureFresh(before, { minValidSeconds: 300, force: false });
    expect(answer.refreshed).toBe(true);
    expect(calls).toEqual(['rt-cold']);
  });
});

describe('hold-offs from Retry-After', () => {
  it.each([
    ['a year in seconds', '31536000'],
    ['an HTTP date in 2099', 'Thu, 01 Jan 2099 00:00:00 GMT'],
    ['24 digits', '100000000000000000000000'],
  ])(
    'caps a Retry-After of %s at 900 s, releases the lease, and asks the provider again after the cap',
    async (_, header) => {
      const account = `hold-${header.length}`;
      const before = await connected(account, 60_000);
      const refresher = refresherWith();
      script.push((now) => ({
        status: 429,
        headers: new Headers({ 'retry-after': header }),
        body: '{"error":"Too Many Requests"}',
        receivedAt: now,
      }));

      const failure = await refresher
        .ensureFresh(before, { minValidSeconds: 300, force: false })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ProviderUnavailableError);
      expect((failure as ProviderUnavailableError).retryAfterSeconds).toBe(MAX_RETRY_AFTER_SECONDS);
      const stored = await f.store.getOAuthRecord(before);
      expect(stored).toMatchObject({ leaseOwner: undefined, retryAfterSeconds: MAX_RETRY_AFTER_SECONDS });

      // Inside the cap: no provider call, a whole-seconds Retry-After.
      wall += (MAX_RETRY_AFTER_SECONDS - 10) * 1000;
      const held = await refresher
        .ensureFresh(before, { minValidSeconds: 300, force: false })
        .catch((error: unknown) => error);
      expect((held as ProviderUnavailableError).retryAfterSeconds).toBe(10);
      expect(calls).toHaveLength(1);

      // After the cap, a healthy provider is used again.
      wall += 11_000;
      const answer = await refresher.ensureFresh(before, { minValidSeconds: 300, force: false });
      expect(answer.refreshed).toBe(true);
      expect(calls).toHaveLength(2);
    },
  );
});
