/** How the package hands out the client and the CLI: `token-broker/client` and the `token-broker` bin. */
import { readFile } from 'node:fs/promises';
import * as client from 'token-broker/client';
import { describe, expect, it } from 'vitest';

describe('package entry points', () => {
  it('exports the client, its errors and its types as token-broker/client', () => {
    expect(typeof client.TokenBrokerClient).toBe('function');
    for (const error of [
      client.ReauthorizationRequiredError,
      client.TokenExpiredError,
      client.ProviderUnavailableError,
      client.NotFoundError,
      client.BrokerRequestError,
    ]) {
      expect(error.prototype).toBeInstanceOf(client.TokenBrokerError);
    }
    expect(client.PROVIDERS).toEqual([
      'lightspeed-x',
      'shopify',
      'square',
      'clover',
      'lightspeed-r',
      'xentral',
    ]);
  });

  it('declares the token-broker bin as a JS file with a node shebang', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      bin?: Record<string, string>;
    };
    expect(pkg.bin?.['token-broker']).toBe('client/bin.mjs');
    const bin = await readFile(new URL('../../client/bin.mjs', import.meta.url), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
