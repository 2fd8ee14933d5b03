/**
 * The retailer's browser routes and the health check when DynamoDB throttles or is down, through the
 * fault proxy in front of dynalite (dynamo-proxy.ts): the browser always gets an HTML page with the
 * pages' headers, never JSON; a token write that fails after the code exchange is retried, and a
 * code is still presented only once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TOKEN_WRITE_ATTEMPTS } from '../../shared/domain/connect';
import { createSession, openCallback, openConnectLink, type TestBroker } from '../helpers/broker';
import type { DynamoFaultProxy } from './dynamo-proxy';
import { type ProxiedBroker, startProxiedBroker } from './helpers';

let env: ProxiedBroker;
let proxy: DynamoFaultProxy;
let t: TestBroker;

beforeAll(async () => {
  env = await startProxiedBroker();
  ({ proxy, t } = env);
});
afterAll(() => env?.close());
beforeEach(() => env.reset());

/** What every retailer page carries (functions/http/responses.ts). */
async function expectErrorPage(response: Response, status: number): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('cache-control')).toBe('no-store');
  const html = await response.text();
  expect(html.startsWith('<!doctype html>')).toBe(true);
  expect(html).not.toMatch(/internal_error|\n\s*at |\.ts:\d+|node_modules/);
  return html;
}

describe('browser routes with DynamoDB down', () => {
  it('shows the HTML error page, not JSON, on the connect link', async () => {
    const session = await createSession(t);
    proxy.fail({ kind: 'internal-500', count: 1_000 });
    const response = await fetch(session.connect_url, { redirect: 'manual' });
    const html = await expectErrorPage(response, 500);
    expect(html).toContain('The connection service has a problem');
    proxy.clear();
    // Nothing was used up: the link works once the store is back.
    expect((await fetch(session.connect_url, { redirect: 'manual' })).status).toBe(302);
  });

  it('shows the HTML error page, not JSON, on the callback, and never calls the provider', async () => {
    const auth = await openConnectLink((await createSession(t)).connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'down-store' });
    proxy.fail({ kind: 'internal-500', count: 1_000 });
    await expectErrorPage(await openCallback(callback, auth.cookie), 500);
    expect(t.simulator.stats().tokenCalls).toBe(0);
    proxy.clear();
    // The state was never consumed: the same browser finishes once the store is back.
    expect((await openCallback(callback, auth.cookie)).status).toBe(200);
  });
});

describe('the token write after a successful code exchange', () => {
  it('is retried when it fails beyond the SDK retries, and the store is connected', async () => {
    const auth = await openConnectLink((await createSession(t)).connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'retried-write' });
    // One try of the write is 4 SDK attempts (dynamo-proxy.ts): fail the whole first try and one more.
    proxy.fail({ kind: 'internal-500', count: 5, operations: ['UpdateItem'] });
    const response = await openCallback(callback, auth.cookie);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Your store is connected');
    expect(proxy.stats().faulted.UpdateItem).toBe(5);
    expect(t.simulator.stats().tokenCalls).toBe(1);
    const token = await t.json('/tokens/lightspeed-x/retried-write?force_refresh=true');
    expect(token.status).toBe(200);
  });

  it('ends in the HTML error page, not JSON, when the write fails for good, with the code presented once', async () => {
    const auth = await openConnectLink((await createSession(t)).connect_url);
    const callback = t.simulator.consent(auth.location, { domainPrefix: 'lost-write' });
    proxy.fail({ kind: 'internal-500', count: 1_000, operations: ['UpdateItem'] });
    const html = await expectErrorPage(await openCallback(callback, auth.cookie), 500);
    expect(html).toContain('your store was not connected');
    expect(proxy.stats().faulted.UpdateItem).toBe(4 * TOKEN_WRITE_ATTEMPTS);
    expect(t.simulator.stats().tokenCalls).toBe(1);
    proxy.clear();
    expect((await t.json('/connections/lightspeed-x/lost-write')).status).toBe(404);
  });
});

describe('GET /health', () => {
  it('answers 200 {"status":"ok"} when the store answers', async () => {
    const response = await fetch(`${t.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers 503 when the store cannot be reached', async () => {
    proxy.fail({ kind: 'internal-500', count: 1_000 });
    const response = await fetch(`${t.url}/health`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toMatchObject({ status: 'unavailable' });
    proxy.clear();
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});
