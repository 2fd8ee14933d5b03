/**
 * The behaviour every SecretStore must have, run against each adapter: call it inside a test file
 * with a factory that returns a fresh, empty store per test.
 */
import { describe, expect, it } from 'vitest';
import type { SecretStore } from '../../../../shared/domain/ports';

/** Declares the SecretStore contract tests for the store that `makeStore` builds. */
export function secretStoreContract(
  label: string,
  makeStore: () => SecretStore | Promise<SecretStore>,
): void {
  describe(`${label} (SecretStore contract)`, () => {
    it('answers undefined for a name never written', async () => {
      // Prepare
      const store = await makeStore();

      // Act
      const secret = await store.get('token-broker/personal/xentral/never-written');

      // Assess
      expect(secret).toBeUndefined();
    });

    it('gets the value and version a put wrote', async () => {
      // Prepare
      const store = await makeStore();

      // Act
      const { version } = await store.put('token-broker/personal/xentral/acme42', 'pat_0123456789');
      const secret = await store.get('token-broker/personal/xentral/acme42');

      // Assess
      expect(version).toEqual(expect.any(String));
      expect(version).not.toBe('');
      expect(secret).toEqual({ value: 'pat_0123456789', version });
    });

    it('replaces the value on a second put and returns a new version', async () => {
      // Prepare
      const store = await makeStore();
      const first = await store.put('token-broker/personal/lightspeed-x/demo-store', 'old-token-0001');

      // Act
      const second = await store.put('token-broker/personal/lightspeed-x/demo-store', 'new-token-0002');
      const secret = await store.get('token-broker/personal/lightspeed-x/demo-store');

      // Assess
      expect(second.version).not.toBe(first.version);
      expect(secret).toEqual({ value: 'new-token-0002', version: second.version });
    });

    it('answers the current version to a caller that knows it', async () => {
      // Prepare
      const store = await makeStore();
      await store.put('token-broker/personal/xentral/acme42', 'first-value-01');
      const { version } = await store.put('token-broker/personal/xentral/acme42', 'second-value-02');

      // Act
      const secret = await store.get('token-broker/personal/xentral/acme42', version);

      // Assess
      expect(secret).toEqual({ value: 'second-value-02', version });
    });

    it('answers undefined after a delete', async () => {
      // Prepare
      const store = await makeStore();
      await store.put('token-broker/personal/xentral/acme42', 'pat_0123456789');

      // Act
      await store.delete('token-broker/personal/xentral/acme42');
      const secret = await store.get('token-broker/personal/xentral/acme42');

      // Assess
      expect(secret).toBeUndefined();
    });

    it('deletes a name that does not exist without complaint', async () => {
      // Prepare
      const store = await makeStore();

      // Act
      const deleting = store.delete('token-broker/personal/xentral/never-written');

      // Assess
      await expect(deleting).resolves.toBeUndefined();
    });

    it('keeps other names when one is deleted', async () => {
      // Prepare
      const store = await makeStore();
      await store.put('token-broker/personal/xentral/one', 'value-one-1');
      const two = await store.put('token-broker/personal/xentral/two', 'value-two-2');

      // Act
      await store.delete('token-broker/personal/xentral/one');

      // Assess
      expect(await store.get('token-broker/personal/xentral/two')).toEqual({
        value: 'value-two-2',
        version: two.version,
      });
    });

    it('writes a name again after it was deleted', async () => {
      // Prepare
      const store = await makeStore();
      await store.put('token-broker/personal/xentral/acme42', 'before-delete');
      await store.delete('token-broker/personal/xentral/acme42');

      // Act
      const { version } = await store.put('token-broker/personal/xentral/acme42', 'after-delete');

      // Assess
      expect(await store.get('token-broker/personal/xentral/acme42')).toEqual({
        value: 'after-delete',
        version,
      });
    });

    it('keeps values byte for byte', async () => {
      // Prepare
      const store = await makeStore();
      const value = '{"token":"ä€𝄞","quote":"\\"","newline":"a\\nb"}\n';

      // Act
      await store.put('token-broker/client/lightspeed-x', value);

      // Assess
      expect((await store.get('token-broker/client/lightspeed-x'))?.value).toBe(value);
    });

    it('lets concurrent first puts of one name all succeed, one of them winning', async () => {
      // Prepare
      const store = await makeStore();
      const values = ['racer-value-a', 'racer-value-b', 'racer-value-c'];

      // Act
      const results = await Promise.allSettled(
        values.map((value) => store.put('token-broker/personal/xentral/raced', value)),
      );
      const secret = await store.get('token-broker/personal/xentral/raced');

      // Assess
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(values).toContain(secret?.value);
    });
  });
}
