/** A simulator mounted on another server answers only under its base path. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LightspeedSimulator } from '../../../../functions/local/simulator';
import {
  authorizeUrl,
  CLIENT_ID,
  CLIENT_SECRET,
  CONTROL_KEY,
  REDIRECT_URI,
  useLightspeedSimulator,
} from './harness';

useLightspeedSimulator();

describe('Lightspeed mounted on another server', () => {
  let broker: Server;
  let brokerOrigin: string;
  let mounted: LightspeedSimulator;

  beforeEach(async () => {
    mounted = new LightspeedSimulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [REDIRECT_URI],
      basePath: '/demo/',
      controlKey: CONTROL_KEY,
    });
    broker = createServer((req, res) => {
      // Plays a remote peer: the control endpoints must not answer it.
      if (req.headers['x-test-remote'] === '1') {
        Object.defineProperty(req.socket, 'remoteAddress', { value: '203.0.113.7', configurable: true });
      }
      void mounted.handle(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('broker');
        }
      });
    });
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    brokerOrigin = `http://127.0.0.1:${(broker.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    broker.closeAllConnections();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });

  it('leaves requests outside its base path to the host server', async () => {
    for (const path of ['/health', '/_sim/lightspeed-x/connect', '/demo-other/lightspeed-x/connect']) {
      expect(await (await fetch(`${brokerOrigin}${path}`)).text()).toBe('broker');
    }
    expect(mounted.urls(brokerOrigin).authorizeUrl).toBe(`${brokerOrigin}/demo/lightspeed-x/connect`);
    const page = await fetch(
      `${brokerOrigin}/demo/lightspeed-x/connect?${new URL(authorizeUrl()).search.slice(1)}`,
    );
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('action="/demo/lightspeed-x/consent"');
  });

  it('refuses control requests from non-loopback peers', async () => {
    const response = await fetch(`${brokerOrigin}/demo/lightspeed-x/_control/stats`, {
      headers: { 'x-test-remote': '1', authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(response.status).toBe(403);
    const local = await fetch(`${brokerOrigin}/demo/lightspeed-x/_control/stats`, {
      headers: { authorization: `Bearer ${CONTROL_KEY}` },
    });
    expect(local.status).toBe(200);
  });
});
