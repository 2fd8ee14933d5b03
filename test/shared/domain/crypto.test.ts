import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalKeyring } from '../../../shared/adapters/crypto/local-keyring';
import { DecryptionError, EnvelopeCipher } from '../../../shared/domain/crypto';

const STORE = { provider: 'lightspeed-x', account: 'demo-store' } as const;
const OTHER = { provider: 'lightspeed-x', account: 'other-store' } as const;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crypto-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const keyring = async (name: string) => LocalKeyring.open(join(dir, `${name}.json`));

describe('EnvelopeCipher', () => {
  it('opens what it sealed, and the sealed form holds no trace of the token', async () => {
    const cipher = new EnvelopeCipher(await keyring('roundtrip'));
    const sealed = await cipher.seal('refresh-token-value-1234567890', STORE);
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(sealed).not.toContain('refresh-token-value');
    expect(await cipher.open(sealed, STORE)).toBe('refresh-token-value-1234567890');
  });

  it('refuses a ciphertext moved to another row', async () => {
    const cipher = new EnvelopeCipher(await keyring('moved'));
    const sealed = await cipher.seal('access-token-value', STORE);
    await expect(cipher.open(sealed, OTHER)).rejects.toBeInstanceOf(DecryptionError);
  });

  it('refuses a tampered ciphertext', async () => {
    const cipher = new EnvelopeCipher(await keyring('tampered'));
    const sealed = await cipher.seal('access-token-value', STORE);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString('base64url');
    await expect(cipher.open(parts.join('.'), STORE)).rejects.toBeInstanceOf(DecryptionError);
    await expect(cipher.open('plain-token', STORE)).rejects.toBeInstanceOf(DecryptionError);
  });

  it('reuses one data key for many seals within the cache time, then takes a new one', async () => {
    let now = 0;
    const keys = await keyring('cache');
    const generate = vi.spyOn(keys, 'generateDataKey');
    const cipher = new EnvelopeCipher(keys, { cacheMs: 1000, now: () => now });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cipher.seal(`token-${i}`, STORE)));
    expect(generate).toHaveBeenCalledTimes(1);
    now = 1500;
    await cipher.seal('token-later', STORE);
    expect(generate).toHaveBeenCalledTimes(2);
  });

  it('unwraps each data key once while cached, so reads do not call the key provider each time', async () => {
    const keys = await keyring('unwrap');
    const writer = new EnvelopeCipher(keys);
    const sealed = await writer.seal('token', STORE);
    const unwrap = vi.spyOn(keys, 'unwrap');
    const reader = new EnvelopeCipher(keys);
    for (let i = 0; i < 10; i++) expect(await reader.open(sealed, STORE)).toBe('token');
    expect(unwrap).toHaveBeenCalledTimes(1);
  });
});

describe('EnvelopeCipher data keys', () => {
  it('unwraps a data key once when both tokens of a row open at the same time', async () => {
    const keys = await keyring('concurrent');
    const writer = new EnvelopeCipher(keys);
    const access = await writer.seal('access', STORE);
    const refresh = await writer.seal('refresh', STORE);
    const unwrap = vi.spyOn(keys, 'unwrap');
    const reader = new EnvelopeCipher(keys);

    const opened = await Promise.all([reader.open(access, STORE), reader.open(refresh, STORE)]);

    expect(opened).toEqual(['access', 'refresh']);
    expect(unwrap).toHaveBeenCalledTimes(1);
  });

  it('wipes the clear data keys it gets from the key provider once imported', async () => {
    const keys = await keyring('wipe');
    const given: Buffer[] = [];
    const recording = {
      generateDataKey: async () => {
        const key = await keys.generateDataKey();
        given.push(key.plaintext);
        return key;
      },
      unwrap: async (wrapped: string, keyId: string) => {
        const key = await keys.unwrap(wrapped, keyId);
        given.push(key);
        return key;
      },
    };
    const sealed = await new EnvelopeCipher(recording).seal('token', STORE);
    expect(await new EnvelopeCipher(recording).open(sealed, STORE)).toBe('token');
    expect(given).toHaveLength(2);
    for (const buffer of given) expect(buffer.equals(Buffer.alloc(32))).toBe(true);
  });

  it('still refuses a value whose data key cannot be unwrapped, and tries again on the next open', async () => {
    const keys = await keyring('flaky');
    const sealed = await new EnvelopeCipher(keys).seal('token', STORE);
    const unwrap = vi.spyOn(keys, 'unwrap').mockRejectedValueOnce(new Error('KMS throttled'));
    const reader = new EnvelopeCipher(keys);
    await expect(reader.open(sealed, STORE)).rejects.toThrow(/could not be unwrapped/);
    expect(await reader.open(sealed, STORE)).toBe('token');
    expect(unwrap).toHaveBeenCalledTimes(2);
  });
});

describe('LocalKeyring', () => {
  it('keeps old rows readable after rotation while new writes use the new key', async () => {
    const keys = await keyring('rotation');
    const before = await new EnvelopeCipher(keys).seal('old-row-token', STORE);
    const oldKey = keys.currentKeyId;
    const newKey = await keys.rotate();
    expect(newKey).not.toBe(oldKey);
    const reopened = await keyring('rotation');
    const cipher = new EnvelopeCipher(reopened);
    expect(await cipher.open(before, STORE)).toBe('old-row-token');
    const after = await cipher.seal('new-row-token', STORE);
    expect(decodeURIComponent(after.split('.')[1] ?? '')).toBe(newKey);
  });

  it('writes the keyring with 0600 permissions, and processes opening it together agree on one key', async () => {
    const [a, b, c] = await Promise.all([keyring('shared'), keyring('shared'), keyring('shared')]);
    expect(new Set([a.currentKeyId, b.currentKeyId, c.currentKeyId]).size).toBe(1);
    expect((await stat(join(dir, 'shared.json'))).mode & 0o777).toBe(0o600);
  });

  it('fails clearly when a row names a master key the keyring does not have', async () => {
    const sealed = await new EnvelopeCipher(await keyring('first')).seal('token', STORE);
    const stranger = new EnvelopeCipher(await keyring('second'));
    await expect(stranger.open(sealed, STORE)).rejects.toThrow(/could not be unwrapped/);
  });
});
