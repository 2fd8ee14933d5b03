/** The Xentral simulator. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XentralSimulator } from '../../../../functions/local/simulator';
import { START } from './harness';

describe('Xentral simulator', () => {
  let xentral: XentralSimulator;
  let xentralOrigin: string;
  let xentralClock = START;

  beforeEach(async () => {
    xentralClock = START;
    xentral = new XentralSimulator({ now: () => xentralClock });
    xentralOrigin = await xentral.listen();
  });

  afterEach(async () => {
    await xentral.close();
  });

  const usersUrl = (instance: string) =>
    `${xentral.urls(xentralOrigin).apiBaseUrl.replace('{account}', instance)}/v1/users?page[size]=1`;

  it('serves a registered personal access token', async () => {
    const token = xentral.createToken('acme');
    expect(token).toMatch(/^[A-Za-z0-9]{40,}$/);
    const response = await fetch(usersUrl('acme'), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: unknown[] };
    expect(body.data.length).toBeGreaterThan(0);
    expect(xentral.createToken('acme', 'chosen-token-123')).toBe('chosen-token-123');
  });

  it('answers invalid tokens with a 401 HTML body that is not JSON', async () => {
    const token = xentral.createToken('acme');
    const attempts = [
      await fetch(usersUrl('acme'), { headers: { authorization: 'Bearer not-a-token' } }),
      await fetch(usersUrl('other'), { headers: { authorization: `Bearer ${token}` } }),
      await fetch(usersUrl('acme')),
    ];
    for (const response of attempts) {
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const text = await response.text();
      expect(text).toContain('Unauthorized');
      expect(() => JSON.parse(text)).toThrow();
    }
    xentral.revokeToken('acme', token);
    expect((await fetch(usersUrl('acme'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      401,
    );
    expect(xentral.stats()).toEqual({ apiCalls: 4, unauthorized: 4 });
  });

  it('rate-limits 100 calls per minute per instance with Retry-After in seconds', async () => {
    const token = xentral.createToken('acme');
    const headers = { authorization: `Bearer ${token}` };
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => fetch(usersUrl('acme'), { headers })),
    );
    for (const response of responses) await response.arrayBuffer();
    expect(responses.every((response) => response.status === 200)).toBe(true);

    xentralClock += 15_000;
    const limited = await fetch(usersUrl('acme'), { headers });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('45');
    expect(limited.headers.get('x-ratelimit-reset')).toBe(String((START + 60_000) / 1000));
    await limited.arrayBuffer();

    const otherToken = xentral.createToken('globex');
    expect(
      (await fetch(usersUrl('globex'), { headers: { authorization: `Bearer ${otherToken}` } })).status,
    ).toBe(200);
    xentralClock = START + 60_000;
    expect((await fetch(usersUrl('acme'), { headers })).status).toBe(200);
  });

  it('builds an API base URL that keeps the {account} template', () => {
    expect(xentral.urls(xentralOrigin)).toEqual({
      apiBaseUrl: `${xentralOrigin}/_sim/xentral/{account}/api`,
    });
  });
});
