import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore, SecretFileError } from '../../../../shared/adapters/secrets/file-store';
import { secretStoreContract } from './secret-store.contract';

let root: string;
let counter = 0;
/** Puts each of two processes makes at once (the issue lost 16 of 40 across two brokers). */
const PER_PROCESS = 40;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'file-secret-store-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A path for a store file no other test uses, in a directory that does not exist yet. */
const freshPath = (): string => join(root, `case-${++counter}`, 'secrets.json');

secretStoreContract('FileSecretStore', () => new FileSecretStore(freshPath()));

describe('FileSecretStore', () => {
  it('creates the data directory and a file only its owner can read and write', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);

    // Act
    await store.put('token-broker/personal/xentral/acme42', 'pat_0123456789');

    // Assess
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps the file at 0600 when it replaces it', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    await store.put('a', 'first-value');

    // Act
    await store.put('a', 'second-value');

    // Assess
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('replaces the file by renaming a complete new one over it, leaving no temporary file', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    await store.put('a', 'first-value');
    const before = await stat(path);

    // Act
    await store.put('a', 'second-value');

    // Assess
    const after = await stat(path);
    expect(after.ino).not.toBe(before.ino);
    expect(await readdir(join(path, '..'))).toEqual(['secrets.json']);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      a: { value: 'second-value', version: (await store.get('a'))?.version },
    });
  });

  it('never lets a reader see the secret missing while it is being replaced', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    const reader = new FileSecretStore(path);
    await store.put('a', 'value-0');
    const written = Array.from({ length: 20 }, (_, i) => `value-${i + 1}`);

    // Act
    const seen: (string | undefined)[] = [];
    let writing = true;
    const reading = (async () => {
      while (writing) seen.push((await reader.get('a'))?.value);
    })();
    await Promise.all(written.map((value) => store.put('a', value)));
    writing = false;
    await reading;

    // Assess
    expect(seen.length).toBeGreaterThan(0);
    for (const value of seen) expect(['value-0', ...written]).toContain(value);
  });

  it('lands every one of many concurrent puts', async () => {
    // Prepare
    const store = new FileSecretStore(freshPath());
    const names = Array.from({ length: 25 }, (_, i) => `token-broker/personal/xentral/shop-${i}`);

    // Act
    const versions = await Promise.all(names.map((name, i) => store.put(name, `token-value-${i}`)));

    // Assess
    const secrets = await Promise.all(names.map((name) => store.get(name)));
    expect(secrets).toEqual(
      names.map((_, i) => ({ value: `token-value-${i}`, version: versions[i]?.version })),
    );
    expect(new Set(versions.map((v) => v.version)).size).toBe(names.length);
  });

  it('lands concurrent puts made through two store objects on one file', async () => {
    // Prepare
    const path = freshPath();
    const stores = [new FileSecretStore(path), new FileSecretStore(path)];
    const names = Array.from({ length: 20 }, (_, i) => `token-broker/personal/xentral/twin-${i}`);

    // Act
    await Promise.all(names.map((name, i) => stores[i % 2]!.put(name, `twin-value-${i}`)));

    // Assess
    const secrets = await Promise.all(names.map((name) => stores[0]!.get(name)));
    expect(secrets.map((secret) => secret?.value)).toEqual(names.map((_, i) => `twin-value-${i}`));
  });

  it('loses none of the puts two processes make on one file at once', async () => {
    // Prepare
    const path = freshPath();
    await new FileSecretStore(path).put('before', 'kept');
    const writer = (prefix: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/helpers/put-secrets.ts', path, prefix, String(PER_PROCESS)],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('error', reject);
        child.once('exit', (code) =>
          code === 0 ? resolve(output) : reject(new Error(`${code}: ${output}`)),
        );
      });

    // Act
    const outputs = await Promise.all([writer('a'), writer('b')]);

    // Assess
    expect(outputs).toEqual(['done\n', 'done\n']);
    const contents = JSON.parse(await readFile(path, 'utf8')) as Record<string, { value: string }>;
    const expected = ['a', 'b'].flatMap((p) => Array.from({ length: PER_PROCESS }, (_, i) => `${p}-${i}`));
    expect(Object.keys(contents).sort()).toEqual(['before', ...expected].sort());
    for (const name of expected) expect(contents[name]?.value).toBe(`value-${name}`);
    // The lock and the temporary files are gone.
    expect((await readdir(dirname(path))).sort()).toEqual(['secrets.json']);
  }, 30_000);

  it('takes over a lock left behind by a process that was killed holding it', async () => {
    // Prepare: the lock of a process gone for a minute (proper-lockfile's lock is a directory).
    const path = freshPath();
    await new FileSecretStore(path).put('before', 'kept');
    const lockDir = `${path}.lock`;
    await mkdir(lockDir);
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockDir, minuteAgo, minuteAgo);

    // Act
    await new FileSecretStore(path).put('after', 'written');

    // Assess
    const store = new FileSecretStore(path);
    expect((await store.get('before'))?.value).toBe('kept');
    expect((await store.get('after'))?.value).toBe('written');
    expect(await readdir(dirname(path))).toEqual(['secrets.json']);
  });

  it('keeps its secrets for a new instance on the same file', async () => {
    // Prepare
    const path = freshPath();
    const { version } = await new FileSecretStore(path).put(
      'token-broker/client/lightspeed-x',
      's3cret-value',
    );

    // Act
    const secret = await new FileSecretStore(path).get('token-broker/client/lightspeed-x');

    // Assess
    expect(secret).toEqual({ value: 's3cret-value', version });
  });

  it('reports a corrupted file instead of treating it as empty', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    await store.put('a', 'first-value');
    await writeFile(path, '{"a":', { mode: 0o600 });

    // Act and assess
    await expect(store.get('a')).rejects.toThrow(SecretFileError);
    await expect(store.get('a')).rejects.toThrow(/is not valid JSON/);
  });

  it.each([
    ['an array', '[]'],
    ['a string entry', '{"a":"plain"}'],
    ['an entry without a version', '{"a":{"value":"v"}}'],
    ['a number as the value', '{"a":{"value":7,"version":"1"}}'],
  ])('refuses a file holding %s, naming the problem', async (_, text) => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    await store.put('a', 'first-value');
    await writeFile(path, text, { mode: 0o600 });

    // Act and assess
    await expect(store.get('a')).rejects.toThrow(SecretFileError);
    await expect(store.get('a')).rejects.toThrow(path);
  });

  it('never rewrites a file it cannot read, so the other secrets are not lost', async () => {
    // Prepare
    const path = freshPath();
    const store = new FileSecretStore(path);
    await store.put('a', 'first-value');
    const damaged = '{"a":{"value":"first-value","version":"1"},"b":"hand-edited"}';
    await writeFile(path, damaged, { mode: 0o600 });

    // Act
    const write = store.put('c', 'third-value');

    // Assess
    await expect(write).rejects.toThrow(SecretFileError);
    expect(await readFile(path, 'utf8')).toBe(damaged);
  });
});
