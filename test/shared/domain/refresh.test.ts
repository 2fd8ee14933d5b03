/**
 * The Refresher over a recording DynamoDbStore (dynalite) with a scripted token endpoint: the
 * refresh token comes only from the write that took the lease, and the types keep it that way.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ProviderUnavailableError } from '../../../shared/domain/errors';
import type { ConnectionKey, LeasedConnection, OAuthConnection } from '../../../shared/domain/model';
import type { HttpClient, ProviderRequest } from '../../../shared/domain/ports';
import type { Refresher } from '../../../shared/domain/refresh';
import { fixtureRefresher, renewalFor, type StoreFixture, startStoreFixture } from '../../helpers/store';

let f: StoreFixture;
let refresher: Refresher;
let calls: ProviderRequest[];
let rotation = 0;

/** A token endpoint that rotates on every refresh. */
const http: HttpClient = async (request) => {
  calls.push(request);
  rotation++;
  return {
    status: 200,
    headers: { get: () => null },
    body: JSON.stringify({
      access_token: `at-${rotation}`,
      refresh_token: `rt-${rotation}`,
      expires_in: 86_400,
      token_type: 'Bearer',
    }),
    receivedAt: Date.now(),
  };
};

beforeAll(async () => {
  f = await startStoreFixture();
  // These tests force one refresh after another: no cooldown between them.
  refresher = fixtureRefresher(f, { http, cooldownMs: 0 });
});
afterAll(() => f?.close());
beforeEach(() => {
  calls = [];
});

const key: ConnectionKey = { provider: 'lightspeed-x', account: 'rotating' };

describe('Refresher and the refresh token', () => {
  it('keeps the refresh token out of what a fetch reads: only a lease carries it', () => {
    expectTypeOf<OAuthConnection>().not.toHaveProperty('refreshToken');
    expectTypeOf<LeasedConnection>().toHaveProperty('refreshToken').toEqualTypeOf<string>();
  });

  it('sends the refresh token opened by the write that took the lease, and opens it nowhere else', async () => {
    const now = Date.now();
    await f.store.saveAuthorization(
      key,
      { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: now + 10_000 },
      { now, renewal: renewalFor(now) },
    );
    for (let round = 0; round < 2; round++) {
      const item = await f.rawItem(key, 'oauth');
      f.reset();
      const fetched = await f.store.getOAuth(key);
      if (fetched === undefined) throw new Error('not stored');
      expect(f.cipher.opened).toEqual([item?.accessToken]);

      const { connection, refreshed } = await refresher.ensureFresh(fetched, {
        minValidSeconds: 0,
        force: true,
      });

      expect(refreshed).toBe(true);
      expect(connection.accessToken).toBe(`at-${rotation}`);
      // The rotated token of the previous round, not a stale copy: the provider got the current one.
      expect(calls.map((call) => new URLSearchParams(call.body).get('refresh_token'))).toEqual([
        round === 0 ? 'rt-0' : `rt-${rotation - 1}`,
      ]);
      const lease = f.timeline.indexOf('request:Update');
      const refreshOpens = f.timeline.flatMap((entry, index) =>
        entry === `open:${item?.refreshToken}` ? [index] : [],
      );
      expect(refreshOpens).toHaveLength(1);
      expect(refreshOpens[0]).toBeGreaterThan(lease);
      expect(lease).toBeGreaterThan(-1);
      calls = [];
    }
  });
});

describe('Refresher when the client credentials cannot be read', () => {
  it('releases the lease at once and answers provider_unavailable, without calling the provider', async () => {
    const failing = { provider: 'lightspeed-x', account: 'no-secret' } as const;
    let secretStoreDown = true;
    const refresherWithFlakySecret = fixtureRefresher(f, {
      http,
      credentials: async () => {
        if (secretStoreDown) throw new Error('secret store unreachable');
        return { clientId: 'client-id', clientSecret: 'client-secret' };
      },
    });
    const now = Date.now();
    await f.store.saveAuthorization(
      failing,
      { accessToken: 'at-a', refreshToken: 'rt-a', expiresAt: now + 10_000 },
      { now, renewal: renewalFor(now) },
    );
    const stored = await f.store.getOAuth(failing);
    if (stored === undefined) throw new Error('not stored');

    await expect(
      refresherWithFlakySecret.ensureFresh(stored, { minValidSeconds: 0, force: true }),
    ).rejects.toThrow(ProviderUnavailableError);
    expect(calls).toEqual([]);
    const after = await f.store.getOAuth(failing);
    expect(after).toMatchObject({ status: 'active', lastError: 'client_credentials_unavailable' });
    expect(after?.leaseUntil).toBeUndefined();

    // Once the secret can be read, the next refresh goes ahead at once and is not taken for a crash.
    secretStoreDown = false;
    const { refreshed, connection } = await refresherWithFlakySecret.ensureFresh(after!, {
      minValidSeconds: 0,
      force: true,
    });
    expect(refreshed).toBe(true);
    expect(connection.status).toBe('active');
    expect(calls).toHaveLength(1);
  });
});

describe('Refresher.ensureFreshByKey (the sweep)', () => {
  it('reads a due connection once before taking the lease, and not at all to refresh it', async () => {
    const due = { provider: 'lightspeed-x', account: 'swept' } as const;
    const now = Date.now();
    await f.store.saveAuthorization(
      due,
      { accessToken: 'at-s', refreshToken: 'rt-s', expiresAt: now + 60_000 },
      { now, renewal: renewalFor(now) },
    );
    f.reset();

    const { refreshed } = await refresher.ensureFreshByKey(due, { minValidSeconds: 900, force: false });

    expect(refreshed).toBe(true);
    expect(f.timeline.filter((entry) => entry.startsWith('request:'))).toEqual([
      'request:Get',
      'request:Update',
      'request:Update',
    ]);
  });

  it('leaves a connection that is fresh enough alone, after that one read', async () => {
    const fresh = { provider: 'lightspeed-x', account: 'fresh' } as const;
    const now = Date.now();
    await f.store.saveAuthorization(
      fresh,
      { accessToken: 'at-f', refreshToken: 'rt-f', expiresAt: now + 3_600_000 },
      { now, renewal: renewalFor(now) },
    );
    f.reset();

    const { refreshed } = await refresher.ensureFreshByKey(fresh, { minValidSeconds: 900, force: false });

    expect(refreshed).toBe(false);
    expect(calls).toEqual([]);
    expect(f.timeline.filter((entry) => entry.startsWith('request:'))).toEqual(['request:Get']);
  });
});
