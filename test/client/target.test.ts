/** Which broker the CLI talks to and how it authenticates, from flags and environment. */
import { describe, expect, it } from 'vitest';
import { isLoopback, resolveTarget, type TargetFlags, UsageError } from '../../client/target';

const resolve = (flags: TargetFlags, env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  resolveTarget(flags, {
    env,
    cwd: '/repo',
    readFile: async (path) => {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return content;
    },
  });

describe('resolveTarget', () => {
  it('defaults to the local runtime and the API key npm start saved in .broker/api-key', async () => {
    const target = await resolve({}, {}, { '/repo/.broker/api-key': 'tbk_saved-key-0123456789\n' });
    expect(target).toMatchObject({
      url: 'http://localhost:8787',
      auth: { apiKey: 'tbk_saved-key-0123456789' },
    });
  });

  it('reads the key file under BROKER_DATA_DIR', async () => {
    const target = await resolve(
      {},
      { BROKER_DATA_DIR: 'data' },
      { '/repo/data/api-key': 'tbk_data-dir-key-0123456789' },
    );
    expect(target.auth).toEqual({ apiKey: 'tbk_data-dir-key-0123456789' });
  });

  it('prefers --api-key over BROKER_API_KEY over the key file, and --url over BROKER_URL', async () => {
    const env = { BROKER_API_KEY: 'env-key-0123456789', BROKER_URL: 'http://127.0.0.1:9000/' };
    const files = { '/repo/.broker/api-key': 'file-key-0123456789' };
    expect(await resolve({}, env, files)).toMatchObject({
      url: 'http://127.0.0.1:9000',
      auth: { apiKey: 'env-key-0123456789' },
      authSource: 'BROKER_API_KEY',
    });
    expect(
      await resolve({ apiKey: 'flag-key-0123456789', url: 'http://localhost:1234' }, env, files),
    ).toMatchObject({
      url: 'http://localhost:1234',
      auth: { apiKey: 'flag-key-0123456789' },
    });
  });

  it('signs with SigV4 for an execute-api host, taking the region from the host', async () => {
    const target = await resolve(
      { url: 'https://abc123.execute-api.eu-central-1.amazonaws.com' },
      { AWS_REGION: 'us-east-1', BROKER_API_KEY: 'ignored-key-0123456789' },
    );
    expect(target.auth).toEqual({ sigv4: { region: 'eu-central-1' } });
  });

  it('signs with SigV4 for an https URL without an API key, with --region or AWS_REGION', async () => {
    expect((await resolve({ url: 'https://broker.example.com' }, { AWS_REGION: 'eu-west-1' })).auth).toEqual({
      sigv4: { region: 'eu-west-1' },
    });
    expect(
      (
        await resolve(
          { url: 'https://broker.example.com', region: 'eu-north-1' },
          { AWS_REGION: 'eu-west-1' },
        )
      ).auth,
    ).toEqual({ sigv4: { region: 'eu-north-1' } });
    await expect(resolve({ url: 'https://broker.example.com' })).rejects.toThrow(/--region/);
  });

  it('signs with SigV4 when --aws is given, even for a local URL', async () => {
    const target = await resolve(
      { aws: true, region: 'eu-central-1' },
      { BROKER_API_KEY: 'key-0123456789abcdef' },
    );
    expect(target.auth).toEqual({ sigv4: { region: 'eu-central-1' } });
  });

  it('explains how to give a key when a local broker has none', async () => {
    const error = await resolve({}).catch((e) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/--api-key.*BROKER_API_KEY.*\.broker\/api-key/);
  });

  it('refuses a plain-http remote URL without a key, and a URL that is not http(s)', async () => {
    await expect(resolve({ url: 'http://broker.example.com' })).rejects.toThrow(/--api-key/);
    await expect(resolve({ url: 'ftp://broker.example.com' })).rejects.toThrow(/http\(s\)/);
    await expect(resolve({ url: 'not a url' })).rejects.toThrow(/not a URL/);
  });
});

describe('isLoopback', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['app.localhost', true],
    ['example.com', false],
    ['127.0.0.1.example.com', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });
});
