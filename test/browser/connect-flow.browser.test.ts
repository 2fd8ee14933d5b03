/**
 * The connect flow in a real browser: a retailer opens a connect link, consents at the (simulated)
 * provider and lands on the broker's page, or back in the SaaS app. Checks what a person sees and
 * what the browser does: headings, landmarks, contrast, phone width, headers, no request leaving
 * loopback, no console errors. Screenshots go to test-results/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDemoProvider } from '../../functions/local/demo';
import { startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { PROVIDER_DEFINITIONS } from '../../shared/providers';
import { DynamoFaultProxy } from '../faults/dynamo-proxy';
import { createSession, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import {
  browserInstalled,
  browserRequired,
  DESKTOP,
  launchBrowser,
  measureContrast,
  overflowsHorizontally,
  PHONE,
  type Recorder,
  record,
  runBrowserTests,
  SCREENSHOT_DIR,
  SKIP_MESSAGE,
} from './support';

if (!browserInstalled && !browserRequired) console.warn(SKIP_MESSAGE);

const CALLBACK = /\/oauth\/lightspeed-x\/callback\?/;

/**
 * The OAuth providers the demo simulates, chosen as the runtime chooses them (a test below checks
 * they are exactly `broker.simulators`): a provider added to the registry and the demo is covered.
 */
const SIMULATED_PROVIDERS = PROVIDER_DEFINITIONS.filter(
  (definition) => definition.oauth !== undefined && isDemoProvider(definition.id),
).map((definition) => definition.id);

/** The SaaS app's page that `return_to` points at: a tiny loopback server recording what arrives. */
interface ReturnApp {
  readonly origin: string;
  readonly arrivals: { url: URL; referer: string | undefined }[];
  close(): Promise<void>;
}

async function startReturnApp(): Promise<ReturnApp> {
  const arrivals: ReturnApp['arrivals'] = [];
  const server: Server = createServer((req, res) => {
    arrivals.push({ url: new URL(req.url ?? '/', 'http://127.0.0.1'), referer: req.headers.referer });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html lang="en"><title>Back in the app</title><h1>Back in the app</h1></html>');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    arrivals,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

describe.runIf(runBrowserTests)('connect flow in a browser', () => {
  let broker: TestBroker;
  let app: ReturnApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let recorder: Recorder;

  beforeAll(async () => {
    browser = await launchBrowser();
    app = await startReturnApp();
    broker = await startTestBroker({ BROKER_RETURN_TO_ORIGINS: app.origin });
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await app?.close();
  });

  /** A fresh browser profile (no cookies) with one tab. */
  async function openBrowser(options: { phone?: boolean } = {}) {
    context = await browser.newContext(
      options.phone
        ? { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }
        : { viewport: DESKTOP },
    );
    recorder = record(context);
    page = await context.newPage();
  }

  afterEach(async () => {
    await context?.close();
    broker.simulator.clearFaults();
  });

  /** Opens a connect link and expects the simulator's consent page. */
  async function openConsent(connectUrl: string): Promise<void> {
    const response = await page.goto(connectUrl);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/_sim/lightspeed-x/connect');
    await expect
      .poll(() => page.getByRole('heading', { level: 1 }).textContent())
      .toBe('Connect to Lightspeed Retail');
  }

  /** Clicks a consent button and resolves the broker's callback response. */
  async function decide(button: 'Allow' | 'Deny', domainPrefix?: string): Promise<Response> {
    if (domainPrefix !== undefined) await page.getByLabel('Store domain prefix').fill(domainPrefix);
    const [callback] = await Promise.all([
      page.waitForResponse((response) => CALLBACK.test(response.url())),
      page.getByRole('button', { name: button, exact: true }).click(),
    ]);
    await page.waitForLoadState('load');
    return callback;
  }

  /** Everything a retailer page must be, in the light and the dark colour scheme. */
  async function expectRetailerPage(response: Response | null, status: number, heading: string) {
    expect(response?.status()).toBe(status);
    const headers = response?.headers() ?? {};
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['content-security-policy']).toContain("default-src 'none'");
    expect(headers['content-type']).toBe('text/html; charset=utf-8');

    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.title()).toBe(heading);
    const h1 = page.getByRole('heading', { level: 1 });
    expect(await h1.count()).toBe(1);
    expect(await h1.textContent()).toBe(heading);
    expect(await page.getByRole('heading', { level: 2, name: 'What to do next' }).count()).toBe(1);
    for (const landmark of ['banner', 'main', 'contentinfo'] as const) {
      expect(await page.getByRole(landmark).count(), landmark).toBe(1);
    }
    expect(await page.locator('script, link, img, iframe').count()).toBe(0);
    expect(await overflowsHorizontally(page)).toBe(false);

    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const texts = await measureContrast(page);
      expect(texts.length).toBeGreaterThan(3);
      expect(
        texts.filter((text) => text.ratio < 4.5),
        colorScheme,
      ).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }

  function expectNothingLeftLoopback() {
    expect(recorder.requests.length).toBeGreaterThan(0);
    expect(recorder.offLoopback()).toEqual([]);
  }

  const screenshot = (name: string, options: { fullPage?: boolean } = {}) =>
    page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: options.fullPage ?? true });

  it('connects a store: consent, Allow, the connected page, then the token is fetchable', async () => {
    // Prepare
    await openBrowser();
    const session = await createSession(broker);
    await openConsent(session.connect_url);

    // Act
    const callback = await decide('Allow', 'browser-store');

    // Assess
    await expectRetailerPage(callback, 200, 'Your store is connected');
    await expect
      .poll(() => page.getByRole('main').textContent())
      .toContain('Lightspeed Retail X-Series store "browser-store" is now connected.');
    await screenshot('connected-desktop');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot('connected-desktop-dark');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors).toEqual([]);
    const token = await broker.json<TokenBody>('/tokens/lightspeed-x/browser-store');
    expect(token.status).toBe(200);
    expect(token.body.account).toBe('browser-store');
    expect(token.body.access_token).toMatch(/^[A-Za-z0-9]{20,}$/);
  });

  it('shows the connected page fitted to a phone screen', async () => {
    // Prepare
    await openBrowser({ phone: true });
    const session = await createSession(broker);
    await openConsent(session.connect_url);

    // Act
    const callback = await decide('Allow', 'phone-store');

    // Assess
    await expectRetailerPage(callback, 200, 'Your store is connected');
    const main = await page.getByRole('main').boundingBox();
    expect(main?.width).toBeLessThanOrEqual(PHONE.width);
    await screenshot('connected-mobile');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors).toEqual([]);
  });

  it('shows the declined page when the retailer clicks Deny, and stores nothing', async () => {
    // Prepare
    await openBrowser();
    const session = await createSession(broker);
    await openConsent(session.connect_url);

    // Act
    const callback = await decide('Deny');

    // Assess
    await expectRetailerPage(callback, 200, 'You declined the connection');
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    await screenshot('declined-desktop');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors).toEqual([]);
    expect((await broker.json('/connections/lightspeed-x/demo-store')).status).toBe(404);
  });

  it('shows the expired page (410) when a connect link is opened again after it completed', async () => {
    // Prepare
    await openBrowser();
    const session = await createSession(broker);
    await openConsent(session.connect_url);
    expect((await decide('Allow', 'completed-store')).status()).toBe(200);

    // Act
    const second = await page.goto(session.connect_url);

    // Assess
    await expectRetailerPage(second, 410, 'This link has expired or was already used');
    await screenshot('expired-desktop');
    expectNothingLeftLoopback();
    // Chromium reports a document's error status on the console; nothing else may appear there.
    expect(recorder.consoleErrors.filter((text) => !/status of 410/.test(text))).toEqual([]);
  });

  it('connects when a link-preview bot opened the link before the retailer', async () => {
    // Prepare: the scanner is a browser of its own (no shared cookies) that loads the link and leaves.
    await openBrowser();
    const session = await createSession(broker);
    const scanner = await browser.newContext({ viewport: DESKTOP });
    const preview = await (await scanner.newPage()).goto(session.connect_url);
    expect(preview?.status()).toBe(200);
    await scanner.close();

    // Act
    await openConsent(session.connect_url);
    const callback = await decide('Allow', 'previewed-store');

    // Assess
    await expectRetailerPage(callback, 200, 'Your store is connected');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors).toEqual([]);
    expect((await broker.json<TokenBody>('/tokens/lightspeed-x/previewed-store')).status).toBe(200);
  });

  it('leaves a state usable for its retailer when another browser sends a denial with it', async () => {
    // Prepare: the retailer is on the consent page; an attacker has learnt the state.
    await openBrowser();
    const session = await createSession(broker, {
      provider: 'lightspeed-x',
      return_to: `${app.origin}/integrations/done`,
      reference: 'tenant-7',
    });
    await openConsent(session.connect_url);
    const state = new URL(page.url()).searchParams.get('state') ?? '';
    const attacker = await browser.newContext({ viewport: DESKTOP });
    const attackerPage = await attacker.newPage();

    // Act
    const forged = await attackerPage.goto(
      `${broker.url}/oauth/lightspeed-x/callback?error=access_denied&state=${state}`,
    );
    const attackerLanded = attackerPage.url();
    await attacker.close();
    const callback = await decide('Allow', 'defended-store');

    // Assess: the attacker learnt nothing (no redirect to return_to), the retailer connected.
    expect(forged?.status()).toBe(400);
    expect(new URL(attackerLanded).origin).toBe(new URL(broker.url).origin);
    expect(callback.status()).toBe(303);
    await page.waitForURL(`${app.origin}/integrations/done?**`);
    expect(new URL(page.url()).searchParams.get('status')).toBe('connected');
    expect(new URL(page.url()).searchParams.get('reference')).toBe('tenant-7');
    expect(recorder.consoleErrors).toEqual([]);
  });

  it('shows the invalid page (400) for a callback this browser did not start', async () => {
    // Prepare
    await openBrowser();

    // Act
    const response = await page.goto(
      `${broker.url}/oauth/lightspeed-x/callback?code=abc&domain_prefix=demo-store&state=not-a-known-state`,
    );

    // Assess
    await expectRetailerPage(response, 400, 'This connection request is no longer valid');
    await screenshot('invalid-desktop');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors.filter((text) => !/status of 400/.test(text))).toEqual([]);
  });

  it('shows the failed page (502) when the provider refuses the code exchange', async () => {
    // Prepare
    await openBrowser();
    const session = await createSession(broker);
    await openConsent(session.connect_url);
    broker.simulator.injectFault({ kind: 'invalid_grant', grant: 'authorization_code' });

    // Act
    const callback = await decide('Allow', 'failing-store');

    // Assess
    await expectRetailerPage(callback, 502, 'The connection did not finish');
    await screenshot('failed-desktop');
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors.filter((text) => !/status of 502/.test(text))).toEqual([]);
    expect((await broker.json('/connections/lightspeed-x/failing-store')).status).toBe(404);
  });

  it('shows the error page (500), not JSON, when the broker cannot reach its store', async () => {
    // Prepare: a broker of its own behind the DynamoDB fault proxy.
    const dynamodb = await startEmbeddedDynamoDb(undefined);
    const proxy = await DynamoFaultProxy.start(dynamodb.endpoint);
    const down = await startTestBroker({ DYNAMODB_ENDPOINT: proxy.endpoint });
    try {
      await openBrowser();
      const session = await createSession(down);
      proxy.fail({ kind: 'internal-500', count: 10_000 });

      // Act
      const response = await page.goto(session.connect_url);

      // Assess
      await expectRetailerPage(response, 500, 'The connection service has a problem');
      await screenshot('unavailable-desktop');
      expectNothingLeftLoopback();
      expect(recorder.consoleErrors.filter((text) => !/status of 500/.test(text))).toEqual([]);
    } finally {
      await down.close();
      await proxy.close();
      await dynamodb.close();
    }
  });

  it('sends the browser back to return_to with the outcome after Allow', async () => {
    // Prepare
    await openBrowser();
    const session = await createSession(broker, {
      provider: 'lightspeed-x',
      return_to: `${app.origin}/integrations/done?tab=pos`,
      reference: 'tenant-42',
    });
    await openConsent(session.connect_url);

    // Act
    const callback = await decide('Allow', 'returning-store');

    // Assess
    expect(callback.status()).toBe(303);
    expect(callback.headers()['referrer-policy']).toBe('no-referrer');
    await page.waitForURL(`${app.origin}/integrations/done?**`);
    const landed = new URL(page.url());
    expect(Object.fromEntries(landed.searchParams)).toEqual({
      tab: 'pos',
      status: 'connected',
      provider: 'lightspeed-x',
      account: 'returning-store',
      reference: 'tenant-42',
    });
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Back in the app');
    // The app learns the outcome from the query only: no referrer carries the callback's code or state.
    const arrival = app.arrivals.find(({ url }) => url.pathname === '/integrations/done');
    expect(arrival).toBeDefined();
    expect(arrival?.referer).toBeUndefined();
    expectNothingLeftLoopback();
    expect(recorder.consoleErrors).toEqual([]);
    expect((await broker.json<TokenBody>('/tokens/lightspeed-x/returning-store')).status).toBe(200);
  });

  describe('every simulated OAuth provider', () => {
    // A broker of its own: connecting each demo account must not touch the stores the tests above expect.
    let demo: TestBroker;

    beforeAll(async () => {
      demo = await startTestBroker();
    });

    afterAll(async () => {
      await demo?.close();
    });

    it('plays exactly the providers these tests walk through', () => {
      expect(Object.keys(demo.broker.simulators).sort()).toEqual([...SIMULATED_PROVIDERS].sort());
      expect(SIMULATED_PROVIDERS.length).toBeGreaterThanOrEqual(5);
    });

    it.each(SIMULATED_PROVIDERS)(
      'lets a person connect a %s demo store: consent page, Allow, the connected page, then the token',
      async (id) => {
        // Prepare
        const simulator = demo.broker.simulators[id];
        if (simulator === undefined) throw new Error(`the demo plays no ${id} simulator`);
        const { copy, account: accountRule } = simulator.profile;
        const account = accountRule.suggestion;
        const provider = demo.broker.services.providers[id];
        const session = await createSession(demo, {
          provider: id,
          ...(provider.oauth?.accountBeforeAuthorization === true ? { account } : {}),
        });
        await openBrowser();

        // Act: the connect link leads to the provider's consent page.
        const consent = await page.goto(session.connect_url);

        // Assess: the simulator's page, its account field prefilled with the demo account.
        expect(consent?.status()).toBe(200);
        expect(new URL(page.url()).pathname.startsWith(`/_sim/${id}/`)).toBe(true);
        const h1 = page.getByRole('heading', { level: 1 });
        expect(await h1.count()).toBe(1);
        expect(await h1.textContent()).toBe(copy.title);
        expect(await page.locator(`input[name="${copy.field.name}"]`).inputValue()).toBe(account);
        if (copy.field.fixed === true) {
          expect(await page.getByRole('main').textContent()).toContain(`${copy.field.label}: ${account}`);
        } else {
          expect(await page.getByLabel(copy.field.label, { exact: true }).inputValue()).toBe(account);
        }

        // Act: the person clicks Allow without typing anything.
        const callbackPath = new RegExp(`/oauth/${id}/callback\\?`);
        const [callback] = await Promise.all([
          page.waitForResponse((response) => callbackPath.test(response.url())),
          page.getByRole('button', { name: 'Allow', exact: true }).click(),
        ]);
        await page.waitForLoadState('load');

        // Assess: the broker's connected page, and the token through the API.
        await expectRetailerPage(callback, 200, 'Your store is connected');
        await expect
          .poll(() => page.getByRole('main').textContent())
          .toContain(`${provider.displayName} store "${account}" is now connected.`);
        await screenshot(`connected-${id}-desktop`);
        expectNothingLeftLoopback();
        expect(recorder.consoleErrors).toEqual([]);
        const token = await demo.json<TokenBody>(`/tokens/${id}/${account}`);
        expect(token.status).toBe(200);
        expect(token.body).toMatchObject({ provider: id, account, source: 'oauth' });
        expect(token.body.access_token.length).toBeGreaterThanOrEqual(16);
      },
    );
  });
});
