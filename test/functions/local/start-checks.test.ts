/**
 * What the local runtime refuses at start, and how: damaged local secrets stop the start with a
 * message naming the file and what to do, never quoting it, and never replaced behind the
 * operator's back.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStoreDamagedError, EmbeddedStoreError } from '../../../functions/local/dynamodb';
import { startLocalBroker } from '../../../functions/local/runtime';
import { KeyringFileError } from '../../../shared/adapters/crypto/local-keyring';
import { ConfigError } from '../../../shared/config';
import { connect, startTestBroker } from '../../helpers/broker';

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

describe('a damaged embedded store', () => {
  const STORES = 24;

  /** A data folder with STORES connected stores; resolves the LevelDB log that holds them. */
  async function connectedFolder(): Promise<{ dir: string; log: string }> {
    const dir = await dataDir();
    const t = await startTestBroker({}, { dataDir: dir });
    for (let i = 0; i < STORES; i++) await connect(t, `damaged-${i}`);
    await t.close({ keepData: true });
    const names = (await readdir(join(dir, 'dynamodb'))).filter((name) => name.endsWith('.log'));
    const sizes = await Promise.all(
      names.map(async (name) => (await stat(join(dir, 'dynamodb', name))).size),
    );
    const log = join(dir, 'dynamodb', names[sizes.indexOf(Math.max(...sizes))] ?? '');
    return { dir, log };
  }

  async function flipByte(file: string): Promise<Buffer> {
    const bytes = await readFile(file);
    // Inside the first of the log's 32 KiB blocks: LevelDB would drop the rest of that block.
    const at = Math.min(Math.floor(bytes.length / 3), 20_000);
    bytes[at] = (bytes[at] as number) ^ 0x5a;
    await writeFile(file, bytes);
    return bytes;
  }

  it('refuses to start on flipped bytes in the LevelDB log instead of dropping connections', async () => {
    const { dir, log } = await connectedFolder();
    expect((await stat(log)).size).toBeGreaterThan(32_768);
    const damaged = await flipByte(log);

    const error = await start(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedStoreDamagedError);
    const message = (error as Error).message;
    expect(message).toContain(`${log} is damaged (checksum mismatch at byte`);
    expect(message).toContain(`Restore ${join(dir, 'dynamodb')} from a backup`);
    expect(message).toContain('BROKER_SALVAGE_DAMAGED_STORE=1');
    // Nothing was opened or changed: the damaged log is still there, byte for byte.
    expect((await readFile(log)).equals(damaged)).toBe(true);
  });

  it('opens a damaged store only when told to, after copying it aside', async () => {
    const { dir, log } = await connectedFolder();
    const damaged = await flipByte(log);
    const t = await startTestBroker({ BROKER_SALVAGE_DAMAGED_STORE: '1' }, { dataDir: dir });
    try {
      const copies = (await readdir(dir)).filter((name) => name.startsWith('dynamodb.damaged-'));
      expect(copies).toHaveLength(1);
      const copied = join(dir, copies[0] ?? '', log.slice(join(dir, 'dynamodb').length + 1));
      expect((await readFile(copied)).equals(damaged)).toBe(true);
      // What the copy is for: LevelDB dropped the stores recorded after the damage in its block.
      const { body } = await t.json<{ connections: unknown[] }>('/connections?limit=100');
      expect(body.connections.length).toBeLessThan(STORES);
    } finally {
      await t.close({ keepData: true });
    }
  });

  it('starts on an undamaged store and keeps every connection', async () => {
    const { dir } = await connectedFolder();
    const t = await startTestBroker({}, { dataDir: dir });
    try {
      const { body } = await t.json<{ connections: unknown[] }>('/connections?limit=100');
      expect(body.connections).toHaveLength(STORES);
    } finally {
      await t.close({ keepData: true });
    }
  });
});

describe('two brokers on one data folder with the embedded store', () => {
  it('refuses the second with a message saying how to share, instead of crashing on its first request', async () => {
    const dir = await dataDir();
    const first = await start(dir);
    try {
      const error = await start(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddedStoreError);
      expect((error as Error).message).toContain(
        `${join(dir, 'dynamodb')} is in use by another broker process`,
      );
      expect((error as Error).message).toContain('DYNAMODB_ENDPOINT');
      // The first goes on serving.
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      await first.close();
    }
  });
});

describe('a malformed SIMULATOR_TOKEN_TTL_SECONDS', () => {
  it.each(['abc', '0', '-5', '1.5'])(
    'refuses %s before anything starts, naming the variable',
    async (raw) => {
      const dir = await dataDir();
      const error = await start(dir, { SIMULATOR_TOKEN_TTL_SECONDS: raw }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(
        `SIMULATOR_TOKEN_TTL_SECONDS must be a whole number of seconds from 1, got "${raw}"`,
      );
      // Nothing was left listening or holding the store: the same folder starts right after.
      const broker = await start(dir, { SIMULATOR_TOKEN_TTL_SECONDS: '600' });
      expect(broker.simulators.shopify?.settings.accessTokenTtlSeconds).toBe(600);
      await broker.close();
    },
  );
});
