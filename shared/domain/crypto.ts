/**
 * Envelope encryption of stored tokens. Access and refresh tokens are sealed with AES-256-GCM under
 * a data key before they reach the store; the data key itself is wrapped by a key provider (KMS on
 * AWS, a local keyring file in the local runtime). The provider and account are the GCM additional
 * authenticated data, so a ciphertext copied to another row fails to open.
 *
 * Sealed form: `v1.{wrappedKeyId}.{wrappedKey}.{iv}.{ciphertext+tag}` (base64url parts, key id
 * URI-encoded). A data key is reused for a bounded time so a write does not call KMS each time;
 * unwrapped keys are cached for the same bounded time so a read does not either. Cached keys are
 * KeyObjects: the key bytes live outside the JS heap, and GCM with a KeyObject skips the key import
 * a raw Buffer costs on every cipher (about 10 µs, most of an open).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import type { ConnectionKey } from './model';
import type { KeyProvider, TokenCipher } from './ports';

/** A sealed value could not be opened: wrong row, tampered, or its master key is gone. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  readonly code = 'decryption_failed';

  /** What an operator needs to know, for the log (our own words and the key provider's: no key or token material). */
  get operatorMessage(): string {
    return this.cause instanceof Error ? `${this.message}: ${this.cause.message}` : this.message;
  }
}

/** The clear key as a KeyObject; the buffer is wiped so the key bytes stay only in the KeyObject. */
function importKey(plaintext: Buffer): KeyObject {
  const key = createSecretKey(plaintext);
  plaintext.fill(0);
  return key;
}

const aad = (key: ConnectionKey) => Buffer.from(`token-broker:${key.provider}:${key.account}`);
const b64 = (buffer: Buffer) => buffer.toString('base64url');

interface DataKey {
  readonly key: KeyObject;
  readonly wrapped: string;
  readonly keyId: string;
  readonly createdAt: number;
  uses: number;
}

/** AES-256-GCM envelope cipher over a KeyProvider, with bounded data-key caching. */
export class EnvelopeCipher implements TokenCipher {
  private current: DataKey | undefined;
  private pending: Promise<DataKey> | undefined;
  private readonly unwrapped = new Map<string, { key: KeyObject; at: number }>();
  private readonly unwrapping = new Map<string, Promise<KeyObject>>();

  constructor(
    private readonly keys: KeyProvider,
    private readonly options: { cacheMs?: number; maxUses?: number; now?: () => number } = {},
  ) {}

  private get cacheMs() {
    return this.options.cacheMs ?? 5 * 60_000;
  }

  private now() {
    return (this.options.now ?? Date.now)();
  }

  /** The data key for new writes: reused for `cacheMs` and at most `maxUses` seals (GCM IV budget). */
  private async dataKey(): Promise<DataKey> {
    const current = this.current;
    if (
      current !== undefined &&
      this.now() - current.createdAt < this.cacheMs &&
      current.uses < (this.options.maxUses ?? 1_000_000)
    ) {
      return current;
    }
    this.pending ??= this.keys
      .generateDataKey()
      .then(({ plaintext, wrapped, keyId }) => {
        const key: DataKey = { key: importKey(plaintext), wrapped, keyId, createdAt: this.now(), uses: 0 };
        this.current = key;
        this.unwrapped.set(`${keyId}|${wrapped}`, { key: key.key, at: key.createdAt });
        return key;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  async seal(plaintext: string, key: ConnectionKey): Promise<string> {
    const dataKey = await this.dataKey();
    dataKey.uses++;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey.key, iv);
    cipher.setAAD(aad(key));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return ['v1', encodeURIComponent(dataKey.keyId), dataKey.wrapped, b64(iv), b64(body)].join('.');
  }

  async open(sealed: string, key: ConnectionKey): Promise<string> {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new DecryptionError('not a sealed token value');
    const [, keyIdPart, wrapped, ivPart, bodyPart] = parts as [string, string, string, string, string];
    const keyId = decodeURIComponent(keyIdPart);
    const id = `${keyId}|${wrapped}`;
    const dataKey = this.cachedKey(id) ?? (await this.unwrap(id, wrapped, keyId));
    const body = Buffer.from(bodyPart, 'base64url');
    if (body.length < 16) throw new DecryptionError('sealed value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(ivPart, 'base64url'));
      decipher.setAAD(aad(key));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch (error) {
      throw new DecryptionError(`the token of ${key.provider}/${key.account} does not open under its key`, {
        cause: error,
      });
    }
  }

  /** An unwrapped data key still within its cache time. */
  private cachedKey(id: string): KeyObject | undefined {
    const cached = this.unwrapped.get(id);
    return cached !== undefined && this.now() - cached.at < this.cacheMs ? cached.key : undefined;
  }

  /** Unwraps a data key once, however many opens wait for it (both tokens of a row share one). */
  private unwrap(id: string, wrapped: string, keyId: string): Promise<KeyObject> {
    let pending = this.unwrapping.get(id);
    if (pending === undefined) {
      pending = this.unwrapAndCache(id, wrapped, keyId).finally(() => this.unwrapping.delete(id));
      this.unwrapping.set(id, pending);
    }
    return pending;
  }

  private async unwrapAndCache(id: string, wrapped: string, keyId: string): Promise<KeyObject> {
    let key: KeyObject;
    try {
      key = importKey(await this.keys.unwrap(wrapped, keyId));
    } catch (error) {
      throw new DecryptionError(`the data key (master key ${keyId}) could not be unwrapped`, {
        cause: error,
      });
    }
    // Bounded: old entries go when the map grows, so many keys cannot pile up in memory.
    if (this.unwrapped.size > 1000) this.unwrapped.clear();
    this.unwrapped.set(id, { key, at: this.now() });
    return key;
  }
}
