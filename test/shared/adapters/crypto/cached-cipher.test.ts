/** The cache of opened access tokens in front of a cipher: what it keeps, for how long, and what it forgets. */
import { describe, expect, it } from 'vitest';
import { CachedAccessTokens } from '../../../../shared/adapters/crypto/cached-cipher';
import type { ConnectionKey } from '../../../../shared/domain/model';
import type { TokenCipher } from '../../../../shared/domain/ports';

/** A cipher whose sealed form is readable, counting every open. */
class CountingCipher implements TokenCipher {
  readonly opened: string[] = [];
  async seal(plaintext: string, key: ConnectionKey) {
    return `${key.provider}/${key.account}:${plaintext}`;
  }
  async open(sealed: string, key: ConnectionKey) {
    this.opened.push(sealed);
    const prefix = `${key.provider}/${key.account}:`;
    if (!sealed.startsWith(prefix)) throw new Error('does not open under this key');
    return sealed.slice(prefix.length);
  }
}

const key = (account: string): ConnectionKey => ({ provider: 'lightspeed-x', account });

describe('CachedAccessTokens', () => {
  it('opens an unchanged sealed value once per connection, and a changed one afresh', async () => {
    // Prepare
    const cipher = new CountingCipher();
    const cache = new CachedAccessTokens(cipher);
    const sealed = await cipher.seal('at-1', key('a'));

    // Act
    const answers = [await cache.open(sealed, key('a')), await cache.open(sealed, key('a'))];
    const rotated = await cache.open(await cipher.seal('at-2', key('a')), key('a'));

    // Assess
    expect(answers).toEqual(['at-1', 'at-1']);
    expect(rotated).toBe('at-2');
    expect(cipher.opened).toHaveLength(2);
  });

  it('never answers one connection with the token kept for another', async () => {
    // Prepare
    const cipher = new CountingCipher();
    const cache = new CachedAccessTokens(cipher);
    const sealed = await cipher.seal('at-1', key('a'));
    await cache.open(sealed, key('a'));

    // Act + Assess: the same ciphertext asked for under another row goes to the cipher, which refuses it.
    await expect(cache.open(sealed, key('b'))).rejects.toThrow('does not open under this key');
  });

  it('opens again after the cache time, after forget, and on every read when the time is 0', async () => {
    // Prepare
    let now = 0;
    const cipher = new CountingCipher();
    const cache = new CachedAccessTokens(cipher, { accessTokenCacheMs: 1_000, now: () => now });
    const off = new CachedAccessTokens(cipher, { accessTokenCacheMs: 0 });
    const sealed = await cipher.seal('at-1', key('a'));

    // Act
    await cache.open(sealed, key('a'));
    now = 999;
    await cache.open(sealed, key('a'));
    const kept = cipher.opened.length;
    now = 1_000;
    await cache.open(sealed, key('a'));
    cache.forget(key('a'));
    await cache.open(sealed, key('a'));
    await off.open(sealed, key('a'));
    await off.open(sealed, key('a'));

    // Assess
    expect(kept).toBe(1);
    expect(cipher.opened).toHaveLength(5);
  });

  it('keeps at most 1000 connections, letting the oldest go first', async () => {
    // Prepare
    const cipher = new CountingCipher();
    const cache = new CachedAccessTokens(cipher);
    for (let i = 0; i <= 1000; i++) await cache.open(await cipher.seal('at', key(`s${i}`)), key(`s${i}`));
    cipher.opened.length = 0;

    // Act
    await cache.open(await cipher.seal('at', key('s1000')), key('s1000'));
    await cache.open(await cipher.seal('at', key('s0')), key('s0'));

    // Assess: the newest was still kept, the oldest had gone.
    expect(cipher.opened).toEqual(['lightspeed-x/s0:at']);
  });
});
