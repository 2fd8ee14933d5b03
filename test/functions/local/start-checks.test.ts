/**
 * What the local runtime refuses at start, and how: damaged local secrets stop the start with a
 * message naming the file and what to do, never quoting it, and never replaced behind the
 * operator's back.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalBroker } from '../../../functions/local/runtime';
import { KeyringFileError } from '../../../shared/adapters/crypto/local-keyring';
import { ConfigError } from '../../../shared/config';

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-start-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const start = (dir: string, env: Record<string, string> = {}) =>
  startLocalBroker({
    env: {
      PORT: '0',
      BROKER_DATA_DIR: dir,
      SWEEP_INTERVAL_SECONDS: '3600',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      ...env,
    },
  });

/** Starts once to lay down the data folder (keyring, api key, store), then stops. */
async function initialised(): Promise<string> {
  const dir = await dataDir();
  const broker = await start(dir);
  await broker.close();
  return dir;
}

describe('a damaged keyring.json', () => {
  it('stops the start without printing key bytes, naming the file and what to do', async () => {
    const dir = await initialised();
    const path = join(dir, 'keyring.json');
    const ring = JSON.parse(await readFile(path, 'utf8')) as {
      current: string;
      keys: Record<string, string>;
    };
    const key = ring.keys[ring.current] ?? '';
    // One byte gone: the opening quote of the key, so that the JSON parser's message would quote it.
    await writeFile(path, JSON.stringify(ring).replace(`"${key}"`, `${key}"`));

    const error = await start(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyringFileError);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toMatch(/restore it from a backup/);
    for (let i = 0; i + 6 <= key.length; i++) expect(message).not.toContain(key.slice(i, i + 6));
    expect(String((error as Error).stack)).not.toContain(key.slice(0, 6));
    expect((error as Error).cause).toBeUndefined();
    // Nothing was replaced: the damaged file is still there to be restored.
    expect(await readFile(path, 'utf8')).toContain(key);
  });

  it('refuses a keyring whose current key is missing or not 32 bytes', async () => {
    const dir = await initialised();
    const path = join(dir, 'keyring.json');
    await writeFile(path, JSON.stringify({ current: 'local-x', keys: { 'local-x': 'c2hvcnQ=' } }));
    await expect(start(dir)).rejects.toThrow(/not 32 bytes of base64/);
    await writeFile(path, JSON.stringify({ current: 'local-y', keys: {} }));
    await expect(start(dir)).rejects.toThrow(/has no current key/);
  });
});

describe('a damaged api-key file', () => {
  it('refuses an empty api-key file instead of generating a new key', async () => {
    const dir = await initialised();
    const path = join(dir, 'api-key');
    await writeFile(path, '');
    const error = await start(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`${path} is empty`);
    expect((error as Error).message).toContain('BROKER_API_KEY');
    expect(await readFile(path, 'utf8')).toBe('');
  });

  it('refuses a truncated api-key file without quoting what is left of the key', async () => {
    const dir = await initialised();
    const path = join(dir, 'api-key');
    const original = (await readFile(path, 'utf8')).trim();
    const truncated = original.slice(0, 10);
    await writeFile(path, truncated);
    const error = await start(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`${path} is damaged`);
    expect((error as Error).message).not.toContain(truncated);
    expect(await readFile(path, 'utf8')).toBe(truncated);
  });

  it('keeps using a saved key, and BROKER_API_KEY still overrides a damaged file', async () => {
    const dir = await initialised();
    const path = join(dir, 'api-key');
    const saved = (await readFile(path, 'utf8')).trim();
    const again = await start(dir);
    expect(again.apiKey).toBe(saved);
    expect(again.apiKeySource).toBe('file');
    await again.close();
    await writeFile(path, '');
    const fromEnv = await start(dir, { BROKER_API_KEY: 'an-explicit-key-0123456789' });
    expect(fromEnv.apiKeySource).toBe('environment');
    await fromEnv.close();
  });
});
