/**
 * DynamoDbStore against dynalite: what each read costs (requests, opened tokens), that only the
 * lease hands out a refresh token (the listing: connection-queries.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DecryptionError } from '../../../../shared/domain/crypto';
import { ConcurrentUpdateError } from '../../../../shared/domain/errors';
import type { ConnectionKey } from '../../../../shared/domain/model';
import {
  authorizeIn,
  personalConnection,
  renewalFor,
  type StoreFixture,
  startStoreFixture,
} from '../../../helpers/store';

let f: StoreFixture;
beforeAll(async () => {
  f = await startStoreFixture();
});
afterAll(() => f?.close());
beforeEach(() => f.reset());

const HOUR = 3_600_000;
const lightspeed = (account: string): ConnectionKey => ({ provider: 'lightspeed-x', account });

const authorize = (key: ConnectionKey, suffix = '') => authorizeIn(f.store, key, suffix);
const personal = personalConnection;

describe('DynamoDbStore reads for a token fetch', () => {
  it('reads an OAuth connection with one consistent GetItem and opens only its access token', async () => {
    const key = lightspeed('get-oauth');
    await authorize(key);
    await f.store.putPersonal(personal(key));
    const item = await f.rawItem(key, 'oauth');
    f.reset();

    const connection = await f.store.getOAuth(key);

    expect(connection).toMatchObject({
      ...key,
      source: 'oauth',
      status: 'active',
      accessToken: 'at-get-oauth',
    });
    expect(connection).not.toHaveProperty('refreshToken');
    expect(f.requests).toEqual([
      {
        command: 'Get',
        input: expect.objectContaining({
          Key: { pk: 'conn#lightspeed-x#get-oauth', sk: 'oauth' },
          ConsistentRead: true,
        }),
      },
    ]);
    expect(f.cipher.opened).toEqual([item?.accessToken]);
  });

  it('reads a personal token with one consistent GetItem and opens nothing', async () => {
    const key: ConnectionKey = { provider: 'xentral', account: 'get-personal' };
    await f.store.putPersonal(personal(key, Date.now() + 30 * 24 * HOUR));
    f.reset();

    const found = await f.store.getPersonal(key);

    expect(found).toMatchObject({ ...key, source: 'personal', secretVersion: 'v1' });
    expect(f.requests).toEqual([
      {
        command: 'Get',
        input: expect.objectContaining({
          Key: { pk: 'conn#xentral#get-personal', sk: 'personal' },
          ConsistentRead: true,
        }),
      },
    ]);
    expect(f.cipher.opened).toEqual([]);
  });

  it("reads an OAuth connection's metadata for the metadata routes without opening any token", async () => {
    const key = lightspeed('get-record');
    await authorize(key);
    f.reset();

    const record = await f.store.getOAuthRecord(key);

    expect(record).toMatchObject({ ...key, source: 'oauth', status: 'active' });
    expect(record).not.toHaveProperty('accessToken');
    expect(record).not.toHaveProperty('refreshToken');
    expect(f.requests.map((request) => request.command)).toEqual(['Get']);
    expect(f.cipher.opened).toEqual([]);
  });

  it('counts the active OAuth connections of a provider on the keys-only sweep index', async () => {
    const before = await f.store.countOAuthConnections('lightspeed-x');
    const live = lightspeed('count-live');
    const dead = lightspeed('count-dead');
    await authorize(live);
    await authorize(dead);
    const deadRecord = await f.store.getOAuthRecord(dead);
    await f.store.markReauthorizationRequired(dead, {
      version: deadRecord?.version ?? 0,
      error: 'invalid_grant',
      now: Date.now(),
    });
    await f.store.putPersonal(personal(lightspeed('count-personal'), Date.now() + 2 * HOUR));
    f.reset();

    expect(await f.store.countOAuthConnections('lightspeed-x')).toBe(before + 1);
    expect(await f.store.countOAuthConnections('xentral')).toBe(0);
    expect(new Set(f.requests.map((request) => request.input.IndexName))).toEqual(new Set(['sweep']));
    expect(f.cipher.opened).toEqual([]);
  });

  it('answers undefined for credentials that do not exist', async () => {
    expect(await f.store.getOAuth(lightspeed('nobody'))).toBeUndefined();
    expect(await f.store.getPersonal(lightspeed('nobody'))).toBeUndefined();
    expect(f.cipher.opened).toEqual([]);
  });
});

describe('DynamoDbStore access-token cache', () => {
  it('opens an unchanged access token once, and a rotated one again', async () => {
    const key = lightspeed('kept');
    await authorize(key);
    const first = await f.rawItem(key, 'oauth');
    f.reset();
    for (let i = 0; i < 3; i++) expect((await f.store.getOAuth(key))?.accessToken).toBe('at-kept');
    expect(f.cipher.opened).toEqual([first?.accessToken]);

    await authorize(key, '-2');
    const second = await f.rawItem(key, 'oauth');
    expect((await f.store.getOAuth(key))?.accessToken).toBe('at-kept-2');
    expect((await f.store.getOAuth(key))?.accessToken).toBe('at-kept-2');
    expect(f.cipher.opened).toEqual([first?.accessToken, second?.accessToken]);
  });

  it('opens the access token again once the cache time has passed, and on every read when it is off', async () => {
    let now = 1_000_000;
    const store = f.storeWith({ accessTokenCacheMs: 60_000, now: () => now });
    const uncached = f.storeWith({ accessTokenCacheMs: 0 });
    const key = lightspeed('kept-briefly');
    await authorize(key);
    f.reset();
    await store.getOAuth(key);
    now += 59_999;
    await store.getOAuth(key);
    expect(f.cipher.opened).toHaveLength(1);
    now += 1;
    await store.getOAuth(key);
    expect(f.cipher.opened).toHaveLength(2);
    await uncached.getOAuth(key);
    await uncached.getOAuth(key);
    expect(f.cipher.opened).toHaveLength(4);
  });

  it('checks a changed ciphertext afresh instead of answering the kept token', async () => {
    const key = lightspeed('swapped');
    const other = lightspeed('swapped-other');
    await authorize(key);
    await authorize(other);
    expect((await f.store.getOAuth(key))?.accessToken).toBe('at-swapped');
    const item = await f.rawItem(key, 'oauth');
    const foreign = await f.rawItem(other, 'oauth');
    // Another row's ciphertext pasted in: it does not open under this row's key.
    await f.putRawItem({ ...item, accessToken: foreign?.accessToken });
    await expect(f.store.getOAuth(key)).rejects.toBeInstanceOf(DecryptionError);
  });

  it('does not open an item copied whole to another row', async () => {
    const source = lightspeed('copied-from');
    await authorize(source);
    const item = await f.rawItem(source, 'oauth');
    const target = lightspeed('copied-to');
    await f.putRawItem({ ...item, pk: 'conn#lightspeed-x#copied-to' });
    await expect(f.store.getOAuth(target)).rejects.toBeInstanceOf(DecryptionError);
  });
});

describe('DynamoDbStore refresh lease', () => {
  it('hands out the refresh token of the leased version, opened after the write that took the lease', async () => {
    const key = lightspeed('lease');
    await authorize(key);
    const before = await f.store.getOAuth(key);
    if (before === undefined) throw new Error('not stored');
    const item = await f.rawItem(key, 'oauth');
    f.reset();

    const now = Date.now();
    const leased = await f.store.acquireLease(key, {
      version: before.version,
      owner: 'test',
      until: now + 60_000,
    });

    expect(leased).toMatchObject({
      version: before.version,
      leaseOwner: 'test',
      accessToken: 'at-lease',
      refreshToken: 'rt-lease',
    });
    // The access token is the one the fetch already opened; only the refresh token is opened.
    expect(f.timeline).toEqual(['request:Update', `open:${item?.refreshToken}`]);
  });

  it('leases the rotated refresh token after a refresh, and returns the new access token without opening it', async () => {
    const key = lightspeed('rotated');
    await authorize(key);
    const first = await f.store.getOAuth(key);
    if (first === undefined) throw new Error('not stored');
    let now = Date.now();
    await f.store.acquireLease(key, { version: first.version, owner: 'a', until: now + 60_000 });
    f.reset();
    const refreshed = await f.store.completeRefresh(key, {
      version: first.version,
      tokens: { accessToken: 'at-new', refreshToken: 'rt-new', expiresAt: now + 2 * HOUR },
      renewal: renewalFor(now),
      now,
    });
    expect(refreshed).toMatchObject({ accessToken: 'at-new', version: first.version + 1 });
    expect(refreshed).not.toHaveProperty('refreshToken');
    expect(f.cipher.opened).toEqual([]);

    now = Date.now();
    const leased = await f.store.acquireLease(key, {
      version: refreshed.version,
      owner: 'b',
      until: now + 60_000,
    });
    expect(leased.refreshToken).toBe('rt-new');
  });

  it('takes over only the exact lease the refresher judged abandoned, comparing no clock', async () => {
    const key = lightspeed('takeover');
    await authorize(key);
    const first = await f.store.getOAuth(key);
    if (first === undefined) throw new Error('not stored');
    // A lease whose end lies far in the future by this host's clock (a skewed holder).
    const held = await f.store.acquireLease(key, {
      version: first.version,
      owner: 'a',
      until: Date.now() + 3_600_000,
    });
    // Taking a lease while one is held fails, whatever the clocks say…
    await expect(
      f.store.acquireLease(key, { version: first.version, owner: 'b', until: Date.now() + 60_000 }),
    ).rejects.toBeInstanceOf(ConcurrentUpdateError);
    // …and so does replacing a lease other than the one that is held.
    await expect(
      f.store.acquireLease(key, {
        version: first.version,
        owner: 'b',
        until: Date.now() + 60_000,
        replacing: { owner: 'a', until: (held.leaseUntil ?? 0) - 1 },
      }),
    ).rejects.toBeInstanceOf(ConcurrentUpdateError);
    const taken = await f.store.acquireLease(key, {
      version: first.version,
      owner: 'b',
      until: Date.now() + 60_000,
      replacing: { owner: 'a', until: held.leaseUntil },
    });
    expect(taken.leaseOwner).toBe('b');
    expect(taken.refreshToken).toBe('rt-takeover');
  });

  it('stores a rotated refresh token in the write that records a failure, moving the version on', async () => {
    const key = lightspeed('salvage');
    await authorize(key);
    const first = await f.store.getOAuth(key);
    if (first === undefined) throw new Error('not stored');
    const leased = await f.store.acquireLease(key, {
      version: first.version,
      owner: 'a',
      until: Date.now() + 60_000,
    });
    await f.store.recordRefreshFailure(key, {
      owner: 'a',
      error: 'unusable_token_answer',
      rotated: { version: leased.version, refreshToken: 'rt-salvaged' },
      now: Date.now(),
    });
    const after = await f.store.getOAuth(key);
    expect(after).toMatchObject({
      version: first.version + 1,
      accessToken: 'at-salvage',
      lastError: 'unusable_token_answer',
      leaseOwner: undefined,
      unconfirmedAt: undefined,
    });
    const next = await f.store.acquireLease(key, {
      version: first.version + 1,
      owner: 'b',
      until: Date.now() + 60_000,
    });
    expect(next.refreshToken).toBe('rt-salvaged');
    const raw = await f.rawItem(key, 'oauth');
    expect(JSON.stringify(raw)).not.toContain('rt-salvaged');
  });

  it('remembers an unconfirmed attempt through later failures until tokens are written again', async () => {
    const key = lightspeed('unconfirmed');
    await authorize(key);
    const first = await f.store.getOAuth(key);
    if (first === undefined) throw new Error('not stored');
    const lease = () =>
      f.store.acquireLease(key, { version: first.version, owner: 'a', until: Date.now() + 60_000 });
    await lease();
    await f.store.recordRefreshFailure(key, {
      owner: 'a',
      error: 'refresh_unconfirmed',
      unconfirmed: true,
      now: 1_000,
    });
    await lease();
    await f.store.recordRefreshFailure(key, { owner: 'a', error: 'http_503', now: 2_000 });
    expect(await f.store.getOAuthRecord(key)).toMatchObject({ unconfirmedAt: 1_000, lastError: 'http_503' });
    await lease();
    await f.store.completeRefresh(key, {
      version: first.version,
      tokens: { accessToken: 'at-2', expiresAt: Date.now() + HOUR },
      renewal: renewalFor(Date.now()),
      now: Date.now(),
    });
    expect((await f.store.getOAuthRecord(key))?.unconfirmedAt).toBeUndefined();
  });

  it('returns metadata without tokens when marking a connection dead or deleting it', async () => {
    const key = lightspeed('dead');
    await authorize(key);
    const connection = await f.store.getOAuth(key);
    if (connection === undefined) throw new Error('not stored');
    f.reset();
    const marked = await f.store.markReauthorizationRequired(key, {
      version: connection.version,
      error: 'invalid_grant',
      now: Date.now(),
    });
    expect(marked).toMatchObject({ status: 'reauthorization_required', lastError: 'invalid_grant' });
    const removed = await f.store.deleteAll(key);
    for (const record of [marked, removed.oauth]) {
      expect(record).not.toHaveProperty('accessToken');
      expect(record).not.toHaveProperty('refreshToken');
    }
    expect(f.cipher.opened).toEqual([]);
  });
});
