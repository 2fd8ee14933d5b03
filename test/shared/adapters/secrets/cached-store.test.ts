import { describe, expect, it } from 'vitest';
import { CachedSecretStore } from '../../../../shared/adapters/secrets/cached-store';
import type { SecretStore } from '../../../../shared/domain/ports';
import { secretStoreContract } from './secret-store.contract';

/** An in-memory SecretStore that counts reads; `write` changes a value behind the cache's back. */
class CountingStore implements SecretStore {
  readonly values = new Map<string, { value: string; version: string }>();
  reads = 0;
  private nextVersion = 1;

  write(name: string, value: string): string {
    const version = `v${this.nextVersion++}`;
    this.values.set(name, { value, version });
    return version;
  }

  async get(name: string) {
    this.reads++;
    const secret = this.values.get(name);
    return secret === undefined ? undefined : { ...secret };
  }

  async put(name: string, value: string) {
    return { version: this.write(name, value) };
  }

  async delete(name: string) {
    this.values.delete(name);
  }
}

const NAME = 'token-broker/personal/xentral/acme42';
const TTL_MS = 60_000;

function cached() {
  const inner = new CountingStore();
  const clock = { time: 1_000_000 };
  const store = new CachedSecretStore(inner, TTL_MS, () => clock.time);
  return { inner, clock, store };
}

secretStoreContract('CachedSecretStore', () => new CachedSecretStore(new CountingStore()));

describe('CachedSecretStore', () => {
  it('serves from memory when the known version matches', async () => {
    // Prepare
    const { inner, store } = cached();
    const version = inner.write(NAME, 'pat_first_0001');
    await store.get(NAME, version);

    // Act
    const secret = await store.get(NAME, version);

    // Assess
    expect(secret).toEqual({ value: 'pat_first_0001', version });
    expect(inner.reads).toBe(1);
  });

  it('serves a matching known version from memory even after the TTL', async () => {
    // Prepare
    const { inner, clock, store } = cached();
    const version = inner.write(NAME, 'pat_first_0001');
    await store.get(NAME, version);
    clock.time += TTL_MS * 10;

    // Act
    await store.get(NAME, version);

    // Assess
    expect(inner.reads).toBe(1);
  });

  it('fetches again when the known version differs from the cached one', async () => {
    // Prepare
    const { inner, store } = cached();
    const first = inner.write(NAME, 'pat_first_0001');
    await store.get(NAME, first);
    const second = inner.write(NAME, 'pat_second_0002');

    // Act
    const secret = await store.get(NAME, second);

    // Assess
    expect(secret).toEqual({ value: 'pat_second_0002', version: second });
    expect(inner.reads).toBe(2);
  });

  it('fetches when it holds nothing for the name, even with a known version', async () => {
    // Prepare
    const { inner, store } = cached();
    const version = inner.write(NAME, 'pat_first_0001');

    // Act
    const secret = await store.get(NAME, version);

    // Assess
    expect(secret).toEqual({ value: 'pat_first_0001', version });
    expect(inner.reads).toBe(1);
  });

  it('serves from memory within the TTL when no version is known', async () => {
    // Prepare
    const { inner, clock, store } = cached();
    const version = inner.write(NAME, 'pat_first_0001');
    await store.get(NAME);
    inner.write(NAME, 'pat_second_0002');
    clock.time += TTL_MS - 1;

    // Act
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toEqual({ value: 'pat_first_0001', version });
    expect(inner.reads).toBe(1);
  });

  it('fetches again once the TTL has passed when no version is known', async () => {
    // Prepare
    const { inner, clock, store } = cached();
    inner.write(NAME, 'pat_first_0001');
    await store.get(NAME);
    const second = inner.write(NAME, 'pat_second_0002');
    clock.time += TTL_MS;

    // Act
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toEqual({ value: 'pat_second_0002', version: second });
    expect(inner.reads).toBe(2);
  });

  it('does not remember a missing secret', async () => {
    // Prepare
    const { inner, store } = cached();
    await store.get(NAME);
    const version = inner.write(NAME, 'pat_first_0001');

    // Act
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toEqual({ value: 'pat_first_0001', version });
    expect(inner.reads).toBe(2);
  });

  it('forgets the cached value on put', async () => {
    // Prepare
    const { inner, store } = cached();
    inner.write(NAME, 'pat_first_0001');
    await store.get(NAME);

    // Act
    const { version } = await store.put(NAME, 'pat_second_0002');
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toEqual({ value: 'pat_second_0002', version });
    expect(inner.reads).toBe(2);
  });

  it('forgets the cached value on delete', async () => {
    // Prepare
    const { inner, store } = cached();
    inner.write(NAME, 'pat_first_0001');
    await store.get(NAME);

    // Act
    await store.delete(NAME);
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toBeUndefined();
    expect(inner.values.has(NAME)).toBe(false);
  });

  it('keeps names apart', async () => {
    // Prepare
    const { inner, store } = cached();
    const one = inner.write('one', 'value-one-1');
    const two = inner.write('two', 'value-two-2');

    // Act
    const secrets = [await store.get('one'), await store.get('two'), await store.get('one', one)];

    // Assess
    expect(secrets).toEqual([
      { value: 'value-one-1', version: one },
      { value: 'value-two-2', version: two },
      { value: 'value-one-1', version: one },
    ]);
  });
});
