/**
 * The local runtime's master keys: a keyring file (0600) in BROKER_DATA_DIR. Data keys are wrapped
 * with AES-256-GCM under the current master key. `rotate()` adds a new current key; older keys stay
 * to unwrap what they wrapped, so old rows stay readable while new writes use the new key.
 */

import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyProvider } from '../../domain/ports';

interface KeyringFile {
  current: string;
  keys: Record<string, string>;
}

/**
 * Thrown when the keyring file is damaged. The message names the file and what to do, and never
 * quotes the file: JSON.parse's own message would print a piece of it, i.e. key bytes.
 */
export class KeyringFileError extends Error {
  override readonly name = 'KeyringFileError';
}

const KEY_BYTES = 32;

function parseKeyring(text: string, path: string): KeyringFile {
  const damaged = (problem: string) =>
    new KeyringFileError(
      `${path} ${problem}. It holds the master keys that seal the stored tokens: restore it from a ` +
        'backup (without it the stored OAuth tokens cannot be opened; deleting it makes a new keyring, ' +
        'and every store must then be connected again)',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parse error is dropped on purpose, also as `cause`: its message quotes the file.
    throw damaged(text.trim() === '' ? 'is empty' : 'is not valid JSON (damaged or truncated)');
  }
  if (typeof parsed !== 'object' || parsed === null) throw damaged('is not a JSON object');
  const { current, keys } = parsed as Partial<KeyringFile>;
  if (typeof keys !== 'object' || keys === null) throw damaged('has no "keys" object');
  // Names are not quoted either: in a damaged file a name may run into key bytes.
  for (const key of Object.values(keys)) {
    if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== KEY_BYTES)
      throw damaged(`has a key that is not ${KEY_BYTES} bytes of base64`);
  }
  if (typeof current !== 'string' || keys[current] === undefined) throw damaged('has no current key');
  return { current, keys };
}

/** A KeyProvider over a local keyring file. */
export class LocalKeyring implements KeyProvider {
  private constructor(
    private readonly path: string,
    private ring: KeyringFile,
  ) {}

  /** Opens the keyring at `path`, creating it with one key if it does not exist. */
  static async open(path: string): Promise<LocalKeyring> {
    for (;;) {
      let text: string | undefined;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (text !== undefined) return new LocalKeyring(path, parseKeyring(text, path));
      // Create-if-absent by hard link: processes starting together agree on one keyring.
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const id = `local-${randomUUID().slice(0, 8)}`;
      const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
      await writeFile(
        temporary,
        JSON.stringify({ current: id, keys: { [id]: randomBytes(KEY_BYTES).toString('base64') } }),
        {
          mode: 0o600,
        },
      );
      try {
        await link(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await unlink(temporary);
      }
    }
  }

  /** Makes a new master key current; returns its id. */
  async rotate(): Promise<string> {
    const id = `local-${randomUUID().slice(0, 8)}`;
    const next: KeyringFile = {
      current: id,
      keys: { ...this.ring.keys, [id]: randomBytes(KEY_BYTES).toString('base64') },
    };
    const temporary = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temporary, JSON.stringify(next), { mode: 0o600 });
    await rename(temporary, this.path);
    this.ring = next;
    return id;
  }

  get currentKeyId(): string {
    return this.ring.current;
  }

  private master(id: string): Buffer {
    const key = this.ring.keys[id];
    if (key === undefined) {
      throw new Error(
        `master key ${id} is not in the keyring ${this.path}: the row was sealed by a broker with another ` +
          'keyring. Processes that share a table must share its keyring.json (the same BROKER_DATA_DIR, or a copy of the file)',
      );
    }
    return Buffer.from(key, 'base64');
  }

  async generateDataKey() {
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.master(this.ring.current), iv);
    const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { plaintext, wrapped: wrapped.toString('base64url'), keyId: this.ring.current };
  }

  async unwrap(wrapped: string, keyId: string) {
    const bytes = Buffer.from(wrapped, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.master(keyId), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  }
}
