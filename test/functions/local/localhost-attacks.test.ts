/**
 * The local runtime on localhost against a hostile web page in the developer's browser: DNS
 * rebinding (the page's own name resolving to 127.0.0.1, so its requests carry its Host) and
 * cross-site requests to the demo simulator's control endpoints.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startTestBroker, TEST_API_KEY, type TestBroker } from '../../helpers/broker';

let t: TestBroker;
let port: number;

beforeAll(async () => {
  t = await startTestBroker();
  port = Number(new URL(t.url).port);
});
afterAll(() => t.close());

/** A request to the broker's socket with any Host header (fetch would not let us choose it). */
function send(
  path: string,
  host: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host, ...init.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const auth = { authorization: `Bearer ${TEST_API_KEY}` };

describe('DNS rebinding', () => {
  it('refuses every request whose Host is not one of the broker’s names, local routes and simulator included', async () => {
    const tokenCallsBefore = t.simulator.stats().tokenCalls;
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      `localhost.evil.example:${port}`,
      `127.0.0.2:${port}`,
    ]) {
      for (const [method, path, headers] of [
        ['GET', '/health', {}],
        ['GET', '/tokens/lightspeed-x/demo-store', auth],
        ['POST', '/_local/sweep', auth],
        ['GET', '/_sim/lightspeed-x/demo-store/api/2.0/outlets', {}],
        ['POST', '/_sim/lightspeed-x/_control/revoke-account', auth],
      ] as const) {
        const response = await send(path, host, { method, headers });
        expect(response.status, `${method} ${path} with Host ${host}`).toBe(400);
        expect(JSON.parse(response.text)).toMatchObject({ error: 'invalid_request' });
        expect(response.text).toContain('Host header');
      }
    }
    expect(t.simulator.stats().tokenCalls).toBe(tokenCallsBefore);
  });

  it('answers the loopback names with its port, in any letter case', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
      expect((await send('/health', host)).status, host).toBe(200);
    }
    expect((await send('/health', 'localhost')).status).toBe(400);
    expect((await send('/health', `localhost:${port + 1}`)).status).toBe(400);
  });

  it('answers the host of BROKER_PUBLIC_URL', async () => {
    const proxied = await startTestBroker({ BROKER_PUBLIC_URL: 'https://broker.example.test' });
    try {
      const target = new URL(`http://127.0.0.1:${proxied.broker.config.port}`);
      const get = (host: string) =>
        new Promise<number>((resolve, reject) => {
          request({ host: target.hostname, port: target.port, path: '/health', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
      expect(await get('broker.example.test')).toBe(200);
      expect(await get(`localhost:${proxied.broker.config.port}`)).toBe(200);
      expect(await get('other.example.test')).toBe(400);
    } finally {
      await proxied.close();
    }
  });
});

describe('the demo simulator’s control endpoints', () => {
  it('ignore a cross-site POST: revoking the demo store needs the API key', async () => {
    await connect(t, 'csrf-store');
    const form = {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: '{"domainPrefix":"csrf-store"}',
    };
    const forged = await fetch(`${t.url}/_sim/lightspeed-x/_control/revoke-account`, form);
    expect(forged.status).toBe(401);
    expect((await t.json('/tokens/lightspeed-x/csrf-store?force_refresh=true')).status).toBe(200);

    const allowed = await fetch(`${t.url}/_sim/lightspeed-x/_control/revoke-account`, {
      ...form,
      headers: { ...form.headers, ...auth },
    });
    expect(allowed.status).toBe(200);
    expect((await t.json('/tokens/lightspeed-x/csrf-store?force_refresh=true')).status).toBe(409);
  });
});
