/**
 * The connection store's listing against dynalite: pages by the cursors it issued, refuses others
 * before any query, and filters by the very connectionStatus() the metadata shows.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../../shared/domain/errors';
import {
  type ConnectionKey,
  type ConnectionStatus,
  connectionStatus,
  EXPIRING_WINDOW_MS,
} from '../../../../shared/domain/model';
import {
  authorizeIn,
  personalConnection,
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
const DAY = 24 * HOUR;
const lightspeed = (account: string): ConnectionKey => ({ provider: 'lightspeed-x', account });

const authorize = (key: ConnectionKey, suffix = '') => authorizeIn(f.store, key, suffix);
const personal = personalConnection;

describe('DynamoDbStore.list cursors', () => {
  const now = Date.now();
  const page = (cursor?: string, provider?: 'lightspeed-x' | 'xentral') =>
    f.store.list({ limit: 1, cursor, provider, now });

  beforeAll(async () => {
    await authorize(lightspeed('page-a'));
    await f.store.putPersonal(personal(lightspeed('page-b')));
    await f.store.putPersonal(personal({ provider: 'xentral', account: 'page-c' }));
  });

  it('pages through every credential of every provider with the cursors it issued', async () => {
    const all = await f.store.list({ limit: 100, now });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const result = await page(cursor);
      seen.push(...result.items.map((item) => `${item.provider}/${item.account}/${item.source}`));
      cursor = result.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(all.items.map((item) => `${item.provider}/${item.account}/${item.source}`));
    expect(seen).toEqual(expect.arrayContaining(['lightspeed-x/page-a/oauth', 'xentral/page-c/personal']));
  });

  const encode = (cursor: unknown) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

  it('refuses a cursor it did not issue with a domain error, before any query (cursor.test.ts has the cases)', async () => {
    const error = await page(encode({ p: 0, k: { pk: 'x' } })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).not.toHaveProperty('field');
    expect(f.requests.filter((request) => request.command === 'Query')).toEqual([]);
  });

  it('refuses a cursor of one provider filter under another', async () => {
    const first = await page(undefined, 'lightspeed-x');
    expect(first.nextCursor).toBeDefined();
    await expect(page(first.nextCursor, 'xentral')).rejects.toThrow(
      /does not belong to this provider filter/,
    );
    await expect(page(encode({ p: 1 }), 'xentral')).rejects.toThrow(
      /does not belong to this provider filter/,
    );
  });
});

describe('DynamoDbStore.list status filter', () => {
  it('lists under each status exactly the credentials connectionStatus() gives that status, on every page size', async () => {
    // Arrange: every status, and each edge of the expiring window, among other providers' items.
    const now = Date.now();
    await authorize(lightspeed('st-active'));
    await authorize(lightspeed('st-dead'));
    const dead = await f.store.getOAuthRecord(lightspeed('st-dead'));
    await f.store.markReauthorizationRequired(lightspeed('st-dead'), {
      version: dead?.version ?? 0,
      error: 'invalid_grant',
      now,
    });
    const xentral = (account: string): ConnectionKey => ({ provider: 'xentral', account });
    await f.store.putPersonal(personal(xentral('st-forever')));
    await f.store.putPersonal(personal(xentral('st-later'), now + EXPIRING_WINDOW_MS + DAY));
    await f.store.putPersonal(personal(xentral('st-window-edge'), now + EXPIRING_WINDOW_MS));
    await f.store.putPersonal(personal(xentral('st-soon'), now + DAY));
    await f.store.putPersonal(personal(xentral('st-now'), now));
    await f.store.putPersonal(personal(lightspeed('st-past'), now - DAY));
    const all = (await f.store.list({ limit: 100, now })).items;
    const statuses: ConnectionStatus[] = ['active', 'reauthorization_required', 'expiring', 'expired'];

    for (const status of statuses) {
      const expected = all
        .filter((item) => connectionStatus(item, now) === status)
        .map((item) => item.account);
      expect(expected.length, status).toBeGreaterThan(0);
      for (const limit of [1, 2, 100]) {
        // Act
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await f.store.list({ limit, status, cursor, now });
          expect(page.items.length).toBeLessThanOrEqual(limit);
          seen.push(...page.items.map((item) => item.account));
          cursor = page.nextCursor;
        } while (cursor !== undefined);

        // Assess
        expect(seen, `${status}, pages of ${limit}`).toEqual(expected);
      }
    }
  });
});
