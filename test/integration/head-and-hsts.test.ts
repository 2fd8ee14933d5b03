/**
 * `HEAD` on every `GET` route of the route table answers like `GET` without a body, through the
 * local runtime. (HSTS on https: test/functions/http/middleware.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../functions/routes';
import { connect, createSession, startTestBroker, TEST_API_KEY, type TestBroker } from '../helpers/broker';

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker();
  expect((await connect(t, 'head-store')).status).toBe(200);
});
afterAll(() => t.close());

/** A concrete path for each GET route; the connect link needs a fresh session per request. */
async function pathFor(template: string): Promise<string> {
  if (template === '/connect/{session_id}') return `/connect/${(await createSession(t)).id}`;
  return template
    .replace('{provider}', 'lightspeed-x')
    .replace('{account}', 'head-store')
    .replace('{session_id}', 'x');
}

const getRoutes = routes.filter((route) => route.method === 'GET');

describe('HEAD on every GET route', () => {
  it.each(getRoutes.map((route) => [route.path, route] as const))(
    'answers HEAD %s like GET, without a body',
    async (_, route) => {
      const headers: Record<string, string> =
        route.access === 'backend' ? { authorization: `Bearer ${TEST_API_KEY}` } : {};
      const get = await fetch(`${t.url}${await pathFor(route.path)}`, { headers, redirect: 'manual' });
      const head = await fetch(`${t.url}${await pathFor(route.path)}`, {
        method: 'HEAD',
        headers,
        redirect: 'manual',
      });
      expect(head.status).toBe(get.status);
      expect(head.status).not.toBe(405);
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
      expect(head.headers.get('cache-control')).toBe(get.headers.get('cache-control'));
      expect(await head.text()).toBe('');
      expect((await get.text()).length + (get.headers.get('location')?.length ?? 0)).toBeGreaterThan(0);
    },
  );

  it('still needs the API key on a backend route', async () => {
    const response = await fetch(`${t.url}/tokens/lightspeed-x/head-store`, { method: 'HEAD' });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('answers 405 for HEAD on a route that has no GET', async () => {
    const response = await fetch(`${t.url}/connect-sessions`, { method: 'HEAD' });
    expect(response.status).toBe(405);
  });

  it('sends no HSTS over http (a browser ignores it there, and localhost must stay reachable)', async () => {
    const response = await fetch(`${t.url}/health`);
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });
});
