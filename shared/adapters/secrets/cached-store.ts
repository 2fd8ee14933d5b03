/**
 * An in-memory cache in front of a SecretStore: values are kept per name and version, so a Lambda
 * container does not fetch a personal token on every request, yet never serves a replaced one
 * (the connection record names the current version). Without a known version, entries live `ttlMs`.
 */
import type { SecretStore } from '../../domain/ports';

interface Entry {
  readonly value: string;
  readonly version: string;
  readonly fetchedAt: number;
}

/** Wraps `inner` with a per-version cache. */
export class CachedSecretStore implements SecretStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly inner: SecretStore,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string, knownVersion?: string) {
    const entry = this.entries.get(name);
    if (entry !== undefined) {
      const current =
        knownVersion === undefined
          ? this.now() - entry.fetchedAt < this.ttlMs
          : entry.version === knownVersion;
      if (current) return { value: entry.value, version: entry.version };
    }
    const fresh = await this.inner.get(name);
    if (fresh === undefined) this.entries.delete(name);
    else this.entries.set(name, { ...fresh, fetchedAt: this.now() });
    return fresh;
  }

  async put(name: string, value: string) {
    this.entries.delete(name);
    return this.inner.put(name, value);
  }

  async delete(name: string) {
    this.entries.delete(name);
    await this.inner.delete(name);
  }
}
