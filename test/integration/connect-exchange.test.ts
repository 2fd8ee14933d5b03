/**
 * The code exchange at the end of the connect flow, over HTTP through the local runtime and the
 * simulator: a code is presented at most once, a slow answer is waited for, an answer for another
 * account is refused, a connected account never moves to another reference silently, and PKCE
 * (for providers that take it) defeats an injected code; an account read by an API call after the
 * exchange (Lightspeed R-Series) is retried when the provider falters and never guessed.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectService } from '../../shared/domain/connect';
import { AuthorizationNotStoredError } from '../../shared/domain/errors';
import type { OAuthAdapter, ProviderRegistry } from '../../shared/domain/ports';
import {
  connect,
  createSession,
  openCallback,
  openConnectLink,
  recorder,
  startTestBroker,
  type TestBroker,
} from '../helpers/broker';

const APP = 'https://app.example.com';
let t: TestBroker;
let seen: ReturnType<typeof recorder>;

beforeAll(async () => {
  seen = recorder();
  t = await startTestBroker({ BROKER_RETURN_TO_ORIGINS: APP }, { logger: seen.logger, events: seen.sink });
});
afterAll(() => t.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.resetStats();
  seen.lines.length = 0;
  seen.events.length = 0;
});

describe('the code exchange', () => {
  it('presents a code at most once: a 503 from the token endpoint is not retried', async () => {
    t.simulator.injectFault({ kind: 'status', status: 503, times: 5, grant: 'authorization_code' });
    const response = await connect(t, 'once-only');
    expect(response.status).toBe(502);
    expect(t.simulator.stats().tokenCalls).toBe(1);
    expect((await t.json('/connections/lightspeed-x/once-only')).status).toBe(404);
  });

  it('waits for an exchange answer that arrives 8 s after the provider issued the tokens, and stores them', async () => {
    t.simulator.injectFault({ kind: 'hang', ms: 8_000, afterProcessing: true, grant: 'authorization_code' });
    const response = await connect(t, 'slow-answer');
    expect(response.status).toBe(200);
    expect(t.simulator.stats().tokenCalls).toBe(1);
    expect(t.simulator.stats().invalidGrants).toBe(0);
    const token = await t.json('/tokens/lightspeed-x/slow-answer?force_refresh=true');
    expect(token.status).toBe(200);
  }, 20_000);

  it('refuses a token answer whose domain_prefix names another store: 502 page, nothing stored under either account', async () => {
    t.simulator.injectFault({
      kind: 'foreign_account',
      domainPrefix: 'other-store',
      grant: 'authorization_code',
    });
    const response = await connect(t, 'asked-store');
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect((await t.json('/connections/lightspeed-x/asked-store')).status).toBe(404);
    expect((await t.json('/connections/lightspeed-x/other-store')).status).toBe(404);
    const refused = seen.lines.find((line) => line.message.includes('another account'));
    expect(refused).toMatchObject({
      level: 'error',
      attributes: { provider: 'lightspeed-x', account: 'asked-store', answeredAccount: 'other-store' },
    });
    expect(seen.events.filter((event) => event.type === 'connection.connected')).toEqual([]);
  });
});

describe('the token write after the exchange', () => {
  it('gives up at the callback deadline when the write hangs, so the browser gets a page before the gateway cuts it off', async () => {
    // biome-ignore lint/complexity/useLiteralKeys: the private deps wire the same store, HTTP client and simulator
    const deps = t.broker.services.connect['deps'];
    const hanging = Object.create(deps.store, { saveAuthorization: { value: () => new Promise(() => {}) } });
    const service = new ConnectService({ ...deps, store: hanging, callbackDeadlineMs: 300 });
    const started = await service.startAuthorization((await createSession(t)).id);
    const callback = new URL(t.simulator.consent(started!.location, { domainPrefix: 'hanging-write' }));

    const outcome = service.completeCallback({
      provider: 'lightspeed-x',
      query: Object.fromEntries(callback.searchParams),
      cookies: { [started!.cookie.name]: started!.cookie.value },
    });

    await expect(outcome).rejects.toBeInstanceOf(AuthorizationNotStoredError);
    expect(t.simulator.stats().tokenCalls).toBe(1);
    expect(seen.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'the tokens of a finished code exchange could not be stored',
      }),
    );
  });
});

describe('a connected account moved to another reference', () => {
  it('emits connection.reference_changed and a warning when a callback reconnects the account under another reference', async () => {
    await connect(t, 'moved-store', { provider: 'lightspeed-x', reference: 'tenant-a' });
    expect(seen.events.map((event) => event.type)).toEqual(['connection.connected']);

    await connect(t, 'moved-store', { provider: 'lightspeed-x', reference: 'tenant-b' });

    // The contract keeps the newest connection, with its reference.
    expect((await t.json('/connections/lightspeed-x/moved-store')).body).toMatchObject({
      reference: 'tenant-b',
    });
    const changed = seen.events.filter((event) => event.type === 'connection.reference_changed');
    expect(changed).toEqual([
      expect.objectContaining({
        provider: 'lightspeed-x',
        account: 'moved-store',
        detail: { previous_reference: 'tenant-a', reference: 'tenant-b' },
      }),
    ]);
    expect(seen.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'a callback moved a connected account to another reference',
        attributes: expect.objectContaining({ previousReference: 'tenant-a', reference: 'tenant-b' }),
      }),
    );
  });

  it('emits nothing extra when the account is reconnected under the same reference', async () => {
    await connect(t, 'same-ref', { provider: 'lightspeed-x', reference: 'tenant-c' });
    await connect(t, 'same-ref', { provider: 'lightspeed-x', reference: 'tenant-c' });
    expect(seen.events.map((event) => event.type)).toEqual(['connection.connected', 'connection.connected']);
  });
});

/** A test-only adapter: Lightspeed's flow with PKCE (S256) switched on, as a provider that takes it. */
function withPkce(oauth: OAuthAdapter): OAuthAdapter {
  return {
    ...oauth,
    pkce: true,
    buildAuthorizationUrl: ({ codeChallenge, ...rest }) => {
      const url = new URL(oauth.buildAuthorizationUrl(rest));
      if (codeChallenge !== undefined) {
        url.searchParams.set('code_challenge', codeChallenge);
        url.searchParams.set('code_challenge_method', 'S256');
      }
      return url.toString();
    },
    buildCodeExchange: ({ codeVerifier, ...rest }) => {
      const request = oauth.buildCodeExchange(rest);
      const body = new URLSearchParams(request.body);
      if (codeVerifier !== undefined) body.set('code_verifier', codeVerifier);
      return { ...request, body: body.toString() };
    },
  };
}

describe('PKCE, for providers that take it', () => {
  /** The broker's connect service with lightspeed-x's adapter swapped for the PKCE one. */
  function pkceConnect(): ConnectService {
    // biome-ignore lint/complexity/useLiteralKeys: the private deps wire the same store, HTTP client and simulator
    const deps = t.broker.services.connect['deps'];
    const lightspeed = deps.providers['lightspeed-x'];
    const providers: ProviderRegistry = {
      ...deps.providers,
      'lightspeed-x': { ...lightspeed, oauth: withPkce(lightspeed.oauth!) },
    };
    return new ConnectService({ ...deps, providers });
  }

  const cookiesOf = (cookie: { name: string; value: string }) => ({ [cookie.name]: cookie.value });

  it('sends an S256 challenge on the authorization and its verifier on the exchange', async () => {
    const service = pkceConnect();
    const session = await createSession(t);
    const started = await service.startAuthorization(session.id);
    const url = new URL(started!.location);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const callback = new URL(t.simulator.consent(started!.location, { domainPrefix: 'pkce-store' }));
    const outcome = await service.completeCallback({
      provider: 'lightspeed-x',
      query: Object.fromEntries(callback.searchParams),
      cookies: cookiesOf(started!.cookie),
    });
    // The simulator checks the verifier against the challenge it was given.
    expect(outcome).toMatchObject({ kind: 'connected', key: { account: 'pkce-store' } });
  });

  it('refuses an injected code: a code from another authorization fails the verifier check and nothing is stored', async () => {
    const service = pkceConnect();
    // The victim's authorization yields a code that leaks; the attacker runs their own connect session.
    const victim = await service.startAuthorization((await createSession(t)).id);
    const leaked = new URL(t.simulator.consent(victim!.location, { domainPrefix: 'victim-store' }));
    const attacker = await service.startAuthorization((await createSession(t)).id);
    const attackerState = new URL(attacker!.location).searchParams.get('state') ?? '';

    const outcome = await service.completeCallback({
      provider: 'lightspeed-x',
      query: {
        code: leaked.searchParams.get('code') ?? '',
        domain_prefix: 'victim-store',
        state: attackerState,
      },
      cookies: cookiesOf(attacker!.cookie),
    });

    expect(outcome.kind).toBe('failed');
    expect(t.simulator.stats().invalidGrants).toBe(1);
    expect((await t.json('/connections/lightspeed-x/victim-store')).status).toBe(404);
  });

  it('sends no PKCE parameters to Lightspeed X-Series, which does not support PKCE', async () => {
    expect(t.broker.services.providers['lightspeed-x'].oauth?.pkce).toBe(false);
    const auth = await openConnectLink((await createSession(t)).connect_url);
    const url = new URL(auth.location);
    expect(url.searchParams.has('code_challenge')).toBe(false);
    expect(url.searchParams.has('code_challenge_method')).toBe(false);
    expect(
      (await openCallback(t.simulator.consent(auth.location, { domainPrefix: 'no-pkce' }), auth.cookie))
        .status,
    ).toBe(200);
  });
});

describe('the account lookup after an exchange (Lightspeed R-Series)', () => {
  /** The broker's ConnectService, its HTTP client answering the Account call with `answer` first. */
  function lookupFailing(answer: { status: number; times: number }) {
    // biome-ignore lint/complexity/useLiteralKeys: the private deps wire the same store, HTTP client and simulator
    const deps = t.broker.services.connect['deps'];
    let failures = 0;
    let lookups = 0;
    const http: typeof deps.http = async (request, timeoutMs) => {
      if (!request.url.endsWith('/Account.json')) return deps.http(request, timeoutMs);
      lookups += 1;
      if (failures >= answer.times) return deps.http(request, timeoutMs);
      failures += 1;
      return { status: answer.status, headers: new Headers(), body: '{}', receivedAt: Date.now() };
    };
    return { service: new ConnectService({ ...deps, http }), lookups: () => lookups };
  }

  async function completeWith(service: ConnectService, account: string) {
    const simulator = t.broker.simulators['lightspeed-r']!;
    const started = await service.startAuthorization(
      (await createSession(t, { provider: 'lightspeed-r' })).id,
    );
    const callback = new URL(simulator.consent(started!.location, { account }));
    return service.completeCallback({
      provider: 'lightspeed-r',
      query: Object.fromEntries(callback.searchParams),
      cookies: { [started!.cookie.name]: started!.cookie.value },
    });
  }

  it('retries a 503 from the Account call and stores the tokens under the account it names', async () => {
    const { service, lookups } = lookupFailing({ status: 503, times: 1 });
    const outcome = await completeWith(service, '700001');
    expect(outcome).toMatchObject({
      kind: 'connected',
      key: { provider: 'lightspeed-r', account: '700001' },
    });
    expect(lookups()).toBe(2);
    expect((await t.json('/tokens/lightspeed-r/700001')).status).toBe(200);
  });

  it('stores nothing when the Account call refuses the new token, and shows the failed page', async () => {
    const { service, lookups } = lookupFailing({ status: 401, times: 5 });
    const outcome = await completeWith(service, '700002');
    expect(outcome.kind).toBe('failed');
    expect(lookups()).toBe(1);
    expect((await t.json('/connections/lightspeed-r/700002')).status).toBe(404);
    expect(seen.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'code exchange failed' }),
    );
  });
});
