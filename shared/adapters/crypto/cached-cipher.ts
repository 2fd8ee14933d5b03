/**
 * The last access token opened per connection, in front of a TokenCipher, as CachedSecretStore
 * keeps personal tokens in front of the secret store.
 *
 * A warm process answers the same connection's fetches again and again: AES-GCM costs tens of µs
 * of cold CPU per open, more than the rest of a fetch's own work. An entry serves only the exact
 * sealed value it was opened from, under that connection's key, so a rotated, tampered or moved
 * ciphertext is opened and checked afresh; entries expire with the data-key cache, so a disabled
 * master key stops working within the same bound. Only access tokens go through it: refresh tokens
 * are never kept.
 */

import type { ConnectionKey } from '../../domain/model';
import type { TokenCipher } from '../../domain/ports';

export interface AccessTokenCacheOptions {
  /**
   * How long an opened access token is reused for the same sealed value, in ms (default 5 minutes,
   * the cipher's data-key cache time); 0 opens it on every read.
   */
  readonly accessTokenCacheMs?: number;
  /** Clock for that cache (tests). */
  readonly now?: () => number;
}

/** Connections whose opened access token is kept at most (the oldest goes first). */
const ACCESS_TOKEN_CACHE_ENTRIES = 1000;

const entryKey = (key: ConnectionKey): string => `${key.provider}#${key.account}`;

/** Opens access tokens through `cipher`, reusing the last one per connection. */
export class CachedAccessTokens {
  private readonly entries = new Map<string, { sealed: string; value: string; at: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly cipher: TokenCipher,
    options: AccessTokenCacheOptions = {},
  ) {
    this.ttlMs = options.accessTokenCacheMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * The connection's access token opened from `sealed`. The requested key, not the item's own
   * attributes, is the AAD: an item copied whole to another row does not open there.
   */
  async open(sealed: string, key: ConnectionKey): Promise<string> {
    const id = entryKey(key);
    const kept = this.entries.get(id);
    if (kept !== undefined && kept.sealed === sealed && this.now() - kept.at < this.ttlMs) return kept.value;
    const value = await this.cipher.open(sealed, key);
    if (this.ttlMs > 0) {
      this.entries.delete(id);
      if (this.entries.size >= ACCESS_TOKEN_CACHE_ENTRIES) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
      this.entries.set(id, { sealed, value, at: this.now() });
    }
    return value;
  }

  /** Drops what is kept for a connection (it was deleted). */
  forget(key: ConnectionKey): void {
    this.entries.delete(entryKey(key));
  }
}
