/**
 * A provider is one definition: this file alone defines an OAuth provider the broker has never
 * heard of (`test-oauth`), with quirks of its own, and the local runtime serves it end to end
 * (connect, fetch, refresh with rotation) without any other file naming it.
 *
 * Its quirks differ from Lightspeed's on purpose: PKCE, the client authenticated with HTTP Basic,
 * JSON token requests, the account in a `merchant` callback parameter, and an absolute
 * `expires_at` (ISO 8601) instead of `expires_in`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalBroker, startLocalBroker } from '../../functions/local/runtime';
import { DNS_LABEL_ACCOUNT } from '../../shared/domain/model';
import type { ProviderRequest } from '../../shared/domain/ports';
import { UNSTATED_RENEWAL } from '../../shared/domain/renewal';
import { PROVIDER_DEFINITIONS, PROVIDER_IDS } from '../../shared/providers';
import { defineProvider } from '../../shared/providers/definition';
import { parseTokenBody, tokenEndpointFailure } from '../../shared/providers/oauth2';
import { FAST_RETRY, TEST_API_KEY, type TokenBody } from '../helpers/broker';

const CLIENT_ID = 'test-oauth-client';
const CLIENT_SECRET = 'test-oauth-secret-0123456789';

/** A JSON token request with the client in an HTTP Basic header (RFC 6749 §2.3.1). */
const jsonPost = (url: string, clientId: string, clientSecret: string, body: object): ProviderRequest => ({
  url,
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    'content-type': 'application/json',
    accept: 'application/json',
  },
  body: JSON.stringify(body),
});

const testOAuth = defineProvider({
  id: 'test-oauth',
  displayName: 'Test OAuth Shop',
  account: { ...DNS_LABEL_ACCOUNT, description: 'Test merchant id', example: 'm-1' },
  settings: { baseUrl: { env: 'TEST_OAUTH_BASE_URL', default: 'https://oauth.example.test' } },
  oauth: {
    portalName: 'Test OAuth Shop',
    env: {
      clientId: 'TEST_OAUTH_CLIENT_ID',
      clientSecret: 'TEST_OAUTH_CLIENT_SECRET',
      clientSecretArn: 'TEST_OAUTH_CLIENT_SECRET_ARN',
      scopes: 'TEST_OAUTH_SCOPES',
    },
    context: 'testOauth',
    scopes: { default: ['orders.read'], pattern: /^[a-z]+\.[a-z]+$/, example: 'orders.read' },
  },
  personalTokens: true,
  create: ({ settings, app }) => ({
    apiBaseUrl: (account) => `${settings.baseUrl}/api/${account}`,
    verifyRequest: (account, token) => ({
      url: `${settings.baseUrl}/api/${account}/me`,
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
    }),
    oauth: {
      callbackAccount: { parameter: 'merchant' },
      pkce: true,
      renewal: UNSTATED_RENEWAL,
      pacing: { concurrency: 2, perSecond: 5, basis: 'test' },
      scopes: app?.scopes ?? [],
      buildAuthorizationUrl: ({ clientId, redirectUri, state, codeChallenge }) =>
        `${settings.baseUrl}/authorize?${new URLSearchParams({
          client_id: clientId,
          redirect_uri: redirectUri,
          state,
          code_challenge: codeChallenge ?? '',
          code_challenge_method: 'S256',
          scope: (app?.scopes ?? []).join(' '),
        })}`,
      buildCodeExchange: ({ code, clientId, clientSecret, redirectUri, codeVerifier }) =>
        jsonPost(`${settings.baseUrl}/token`, clientId, clientSecret, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: codeVerifier,
        }),
      buildRefresh: ({ refreshToken, clientId, clientSecret }) =>
        jsonPost(`${settings.baseUrl}/token`, clientId, clientSecret, {
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
        }),
      parseTokenResponse: (response, account) => {
        if (response.status < 200 || response.status > 299) throw tokenEndpointFailure(response);
        return parseTokenBody(response, { field: 'merchant', expected: account }, (body) =>
          typeof body.expires_at === 'string'
            ? (Date.parse(body.expires_at) - response.receivedAt) / 1000
            : undefined,
        );
      },
    },
  }),
});

/** The provider's side: authorization codes bound to a PKCE challenge, rotating refresh tokens. */
class TestOAuthServer {
  readonly server: Server = createServer((req, res) => {
    void this.handle(req).then(({ status, body }) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  readonly grants: string[] = [];
  private readonly codes = new Map<string, { challenge: string; merchant: string; redirectUri: string }>();
  private readonly refreshTokens = new Map<string, string>();
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The retailer approves at the provider: the callback URL the browser is sent to. */
  consent(authorizationUrl: string, merchant: string): string {
    const query = new URL(authorizationUrl).searchParams;
    if (query.get('client_id') !== CLIENT_ID) throw new Error('unknown client');
    const code = randomBytes(16).toString('hex');
    const redirectUri = query.get('redirect_uri') ?? '';
    this.codes.set(code, { challenge: query.get('code_challenge') ?? '', merchant, redirectUri });
    return `${redirectUri}?${new URLSearchParams({ code, state: query.get('state') ?? '', merchant })}`;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: object }> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
    if (req.url !== '/token' || req.method !== 'POST') return { status: 404, body: { error: 'not_found' } };
    if (req.headers.authorization !== basic) return { status: 401, body: { error: 'invalid_client' } };
    const body = JSON.parse(text) as Record<string, string>;
    this.grants.push(body.grant_type ?? '');
    let merchant: string | undefined;
    if (body.grant_type === 'authorization_code') {
      const grant = this.codes.get(body.code ?? '');
      this.codes.delete(body.code ?? '');
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url');
      if (grant?.challenge === challenge && grant.redirectUri === body.redirect_uri)
        merchant = grant.merchant;
    } else if (body.grant_type === 'refresh_token') {
      // Single use: a refresh token works once, then only its successor does.
      merchant = this.refreshTokens.get(body.refresh_token ?? '');
      this.refreshTokens.delete(body.refresh_token ?? '');
    }
    if (merchant === undefined) return { status: 400, body: { error: 'invalid_grant' } };
    const refreshToken = `rt-${randomBytes(12).toString('hex')}`;
    this.refreshTokens.set(refreshToken, merchant);
    return {
      status: 200,
      body: {
        access_token: `at-${randomBytes(12).toString('hex')}`,
        refresh_token: refreshToken,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        token_type: 'bearer',
        merchant,
      },
    };
  }
}

describe('a provider defined in a test alone', () => {
  const provider = new TestOAuthServer();
  let broker: LocalBroker;
  let dataDir: string;

  beforeAll(async () => {
    await provider.start();
    dataDir = await mkdtemp(join(tmpdir(), 'broker-provider-'));
    broker = await startLocalBroker({
      env: {
        PORT: '0',
        BROKER_API_KEY: TEST_API_KEY,
        BROKER_DATA_DIR: dataDir,
        SWEEP_INTERVAL_SECONDS: '3600',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        TEST_OAUTH_CLIENT_ID: CLIENT_ID,
        TEST_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
        TEST_OAUTH_BASE_URL: provider.url,
      },
      providers: [...PROVIDER_DEFINITIONS, testOAuth],
      retryPolicy: FAST_RETRY,
      refreshCooldownMs: 0,
    });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => provider.server.close(done));
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = async <T>(path: string, init: RequestInit = {}) => {
    const response = await fetch(`${broker.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  it('runs connect, fetch and refresh with rotation for it through the local runtime, no other file naming it', async () => {
    // Connect: a session, the link opened by the retailer's browser, consent, the callback.
    const session = await api<{ connect_url: string }>('/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ provider: 'test-oauth' }),
    });
    expect(session.status).toBe(201);
    const link = await fetch(session.body.connect_url, { redirect: 'manual' });
    expect(link.status).toBe(302);
    const authorization = link.headers.get('location') ?? '';
    expect(authorization.startsWith(`${provider.url}/authorize?`)).toBe(true);
    expect(new URL(authorization).searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const callback = await fetch(provider.consent(authorization, 'acme-7'), { headers: { cookie } });
    expect(callback.status).toBe(200);
    expect(await callback.text()).toContain('Test OAuth Shop');

    // Fetch: the token of the exchange, with the definition's API base URL.
    const first = await api<TokenBody>('/tokens/test-oauth/acme-7');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      provider: 'test-oauth',
      account: 'acme-7',
      source: 'oauth',
      api_base_url: `${provider.url}/api/acme-7`,
    });

    // Refresh twice: the second succeeds only with the refresh token the first one rotated in.
    const second = await api<TokenBody>('/tokens/test-oauth/acme-7?force_refresh=true');
    const third = await api<TokenBody>('/tokens/test-oauth/acme-7?force_refresh=true');
    expect([second.status, third.status]).toEqual([200, 200]);
    expect(new Set([first.body.access_token, second.body.access_token, third.body.access_token]).size).toBe(
      3,
    );
    expect(provider.grants).toEqual(['authorization_code', 'refresh_token', 'refresh_token']);
    const connection = await api<{ status: string }>('/connections/test-oauth/acme-7');
    expect(connection.body.status).toBe('active');
    const listed = await api<{ connections: { provider: string; account: string }[] }>('/connections');
    expect(listed.body.connections).toContainEqual(
      expect.objectContaining({ provider: 'test-oauth', account: 'acme-7' }),
    );
  });

  it('keeps refusing providers that no definition names, with the registry in the message', async () => {
    const refused = await api<{ error: string; message: string }>('/tokens/toast/acme-7');
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      `path.provider: must be one of ${[...PROVIDER_IDS, 'test-oauth'].join(', ')}`,
    );
  });
});
