/**
 * Secret store failures in the local runtime (the 0600 JSON file in BROKER_DATA_DIR): a torn or
 * unreadable file makes personal-token fetches fail with a clean JSON 500 while OAuth fetches, which
 * never read it, keep working; a write meanwhile changes nothing; once the file is back every token
 * is served again.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import { connectAll, expectCleanError, expectNothingLost } from './helpers';

const PERSONAL = 'pat_secret_store_0123456789';
const OAUTH = ['secret-oauth-a', 'secret-oauth-b'];

let t: TestBroker;
let secretsFile: string;
let intact: string;

beforeAll(async () => {
  t = await startTestBroker();
  secretsFile = join(t.dataDir, 'secrets.json');
  await connectAll(t, OAUTH);
  const stored = await t.json('/personal-tokens/xentral/secret-acme', {
    method: 'PUT',
    body: JSON.stringify({ token: PERSONAL, name: 'ERP sync' }),
  });
  expect(stored.status).toBe(200);
  intact = await readFile(secretsFile, 'utf8');
});
afterAll(() => t?.close());
beforeEach(() => t.simulator.resetStats());

/** Puts the original file back, whatever stands in its place. */
async function restore(): Promise<void> {
  await rm(secretsFile, { recursive: true, force: true });
  await writeFile(secretsFile, intact, { mode: 0o600 });
}

const personal = () => t.json<TokenBody>('/tokens/xentral/secret-acme');

describe('secret store failures', () => {
  it.each<[string, () => Promise<void>]>([
    // A crash mid-write of a naive writer would leave this (the store itself renames atomically).
    ['torn', () => writeFile(secretsFile, intact.slice(0, Math.floor(intact.length / 2)))],
    // A directory in its place: unreadable even for root, who ignores file modes.
    [
      'unreadable',
      async () => {
        await rm(secretsFile, { force: true });
        await mkdir(secretsFile);
      },
    ],
  ])(
    'fails personal-token fetches cleanly while the file is %s, serves OAuth meanwhile, and recovers',
    async (_, breakIt) => {
      await breakIt();
      try {
        const response = await t.api('/tokens/xentral/secret-acme');
        expect(response.status).toBe(500);
        const text = await response.text();
        expect(text).not.toContain(PERSONAL);
        expectCleanError(JSON.parse(text), 'internal_error');

        // Metadata never reads a secret.
        const metadata = await t.json('/connections/xentral/secret-acme');
        expect(metadata.status).toBe(200);
        expect(metadata.body).toMatchObject({ source: 'personal', name: 'ERP sync' });

        // OAuth fetches never touch the secret store.
        for (const account of OAUTH) {
          expect((await t.json<TokenBody>(`/tokens/lightspeed-x/${account}`)).status).toBe(200);
        }

        // A write now fails without replacing the file: the other tokens in it survive.
        const before = await readFile(secretsFile, 'utf8').catch(() => 'unreadable');
        const write = await t.api('/personal-tokens/xentral/secret-other', {
          method: 'PUT',
          body: JSON.stringify({ token: 'pat_other_0123456789' }),
        });
        expect(write.status).toBe(500);
        expectCleanError(await write.json(), 'internal_error');
        expect(await readFile(secretsFile, 'utf8').catch(() => 'unreadable')).toBe(before);
        expect((await t.json('/connections/xentral/secret-other')).status).toBe(404);
      } finally {
        await restore();
      }
      const recovered = await personal();
      expect(recovered.status).toBe(200);
      expect(recovered.body).toMatchObject({ access_token: PERSONAL, source: 'personal' });
      await expectNothingLost(t, OAUTH);
    },
  );

  // Regression: the parsed file used to be cast, not checked, and answered 200 without a token.
  it('refuses a secrets file of the wrong shape instead of answering 200 without a token', async () => {
    const wrongShape = Object.fromEntries(Object.keys(JSON.parse(intact)).map((name) => [name, 'a string']));
    await writeFile(secretsFile, JSON.stringify(wrongShape));
    try {
      const response = await personal();
      expect(response.status).toBe(500);
      expectCleanError(response.body, 'internal_error');
    } finally {
      await restore();
    }
  });
});
