import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { ProviderError, UnusableTokenAnswerError } from '../../../shared/domain/errors';
import type { ProviderResponse } from '../../../shared/domain/ports';
import { createProviders } from '../../../shared/providers';
import {
  DEFAULT_LIGHTSPEED_SCOPES,
  lightspeedX,
  parseLightspeedTokenResponse,
} from '../../../shared/providers/lightspeed-x';
import { EXPIRES_IN_RANGE } from '../../../shared/providers/oauth2';
import { behaviourOf, failureOf, formFields, oauthOf, RECEIVED_AT, response, STATE } from './support';

const CLIENT_ID = 'client-id-0123';
const CLIENT_SECRET = 'client-secret-abcdef';
const REDIRECT_URI = 'https://broker.example.com/oauth/lightspeed-x/callback';

/** Parses an answer to a request for the account `demo-store`. */
const parse = (answer: ProviderResponse) => parseLightspeedTokenResponse(answer, 'demo-store');

describe('parseLightspeedTokenResponse', () => {
  describe('documented examples (seed 001)', () => {
    it('computes expiry from expires_in at receipt, not from the absolute expires, on a code exchange', () => {
      // Prepare
      const seedExample = {
        access_token: 'fMYgxHEYtcyT8cvtvgi1Za5DRs4vArSyvydlnd9f',
        token_type: 'Bearer',
        expires: 1387145621,
        expires_in: 86400,
        refresh_token: 'J3F62YPIQdfJjJia1xJuaHp7NoQYtm9y0WadNBTh',
      };

      // Act
      const tokens = parse(response(200, seedExample));

      // Assess
      expect(tokens).toEqual({
        accessToken: 'fMYgxHEYtcyT8cvtvgi1Za5DRs4vArSyvydlnd9f',
        refreshToken: 'J3F62YPIQdfJjJia1xJuaHp7NoQYtm9y0WadNBTh',
        expiresAt: RECEIVED_AT + 86_400_000,
        scope: undefined,
      });
      expect(tokens.expiresAt).not.toBe(1387145621 * 1000);
    });

    it('leaves the refresh token undefined when the refresh response has none', () => {
      // Prepare
      const seedExample = {
        access_token: 'KD7gspXvfAmOsspC65YDqqJQ6FcAYbRROc4zPIMZ',
        token_type: 'Bearer',
        expires: 1387145621,
        expires_in: 604800,
      };

      // Act
      const tokens = parse(response(200, seedExample));

      // Assess
      expect(tokens.accessToken).toBe('KD7gspXvfAmOsspC65YDqqJQ6FcAYbRROc4zPIMZ');
      expect(tokens.refreshToken).toBeUndefined();
      expect(tokens.expiresAt).toBe(RECEIVED_AT + 604_800_000);
    });
  });

  it('returns the rotated refresh token and the scope of a 2025-style refresh response', () => {
    // Prepare
    const rotated = {
      access_token: 'lsxs_at_new_4f1c2e',
      token_type: 'Bearer',
      expires: Math.floor(RECEIVED_AT / 1000) + 86_400,
      expires_in: 86_400,
      refresh_token: 'lsxs_rt_rotated_9a8b7c',
      domain_prefix: 'demo-store',
      scope: 'outlets:read products:read sales:read',
    };

    // Act
    const tokens = parse(response(200, rotated));

    // Assess
    expect(tokens).toEqual({
      account: 'demo-store',
      accessToken: 'lsxs_at_new_4f1c2e',
      refreshToken: 'lsxs_rt_rotated_9a8b7c',
      expiresAt: RECEIVED_AT + 86_400_000,
      scope: 'outlets:read products:read sales:read',
    });
  });

  it('treats an empty refresh_token as absent, so the stored one is kept', () => {
    // Act
    const tokens = parse(
      response(200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 60, refresh_token: '' }),
    );

    // Assess
    expect(tokens.refreshToken).toBeUndefined();
  });

  it('reads expires_in given as a numeric string', () => {
    // Act
    const tokens = parse(response(200, { access_token: 'at-1', token_type: 'Bearer', expires_in: '86400' }));

    // Assess
    expect(tokens.expiresAt).toBe(RECEIVED_AT + 86_400_000);
  });

  it('accepts a lower-case bearer token_type and a missing token_type', () => {
    // Act
    const lower = parse(response(200, { access_token: 'at-1', token_type: 'bearer', expires_in: 60 }));
    const absent = parse(response(200, { access_token: 'at-2', expires_in: 60 }));

    // Assess
    expect(lower.accessToken).toBe('at-1');
    expect(absent.accessToken).toBe('at-2');
  });

  it('falls back to a future absolute expires when expires_in is missing', () => {
    // Prepare
    const expires = Math.floor(RECEIVED_AT / 1000) + 3_600;

    // Act
    const tokens = parse(response(200, { access_token: 'at-1', token_type: 'Bearer', expires }));

    // Assess
    expect(tokens.expiresAt).toBe(expires * 1000);
  });

  it('refuses a response whose only expiry is an absolute expires in the past', () => {
    // Act
    const error = failureOf(() =>
      parse(response(200, { access_token: 'at-1', token_type: 'Bearer', expires: 1387145621 })),
    );

    // Assess
    expect(error.kind).toBe('unconfirmed');
    expect(error.message).toBe('unusable token response: no usable expires_in');
  });

  it('refuses a response with neither expires_in nor expires', () => {
    // Act
    const error = failureOf(() => parse(response(200, { access_token: 'at-1', token_type: 'Bearer' })));

    // Assess
    expect(error.kind).toBe('unconfirmed');
    expect(error.details.status).toBe(200);
  });

  it('refuses a token_type other than Bearer', () => {
    // Act
    const error = failureOf(() =>
      parse(response(200, { access_token: 'at-1', token_type: 'mac', expires_in: 86_400 })),
    );

    // Assess
    expect(error.kind).toBe('unconfirmed');
    expect(error.message).toBe('unusable token response: token_type is not Bearer');
  });

  it('refuses a 200 without an access_token', () => {
    // Act
    const error = failureOf(() => parse(response(200, { token_type: 'Bearer', expires_in: 86_400 })));

    // Assess
    expect(error.kind).toBe('unconfirmed');
    expect(error.message).toBe('unusable token response: no access_token');
  });

  it('classifies a non-JSON 200 as unconfirmed (the provider may have rotated), not to be retried', () => {
    // Act
    const error = failureOf(() => parse(response(200, '<html>gateway</html>')));

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.kind).toBe('unconfirmed');
    expect(error.message).toBe('unreadable token response: not a JSON object');
    expect(error.details).toEqual({ status: 200 });
  });

  it('classifies a JSON array 200 as unconfirmed', () => {
    // Act
    const error = failureOf(() => parse(response(200, '[{"access_token":"at"}]')));

    // Assess
    expect(error.kind).toBe('unconfirmed');
  });

  it('classifies 400 invalid_grant as invalid_grant, keeping the code but not the description', () => {
    // Prepare
    const body = { error: 'invalid_grant', error_description: 'refresh token rt-secret-123 was revoked' };

    // Act
    const error = failureOf(() => parse(response(400, body)));

    // Assess
    expect(error.kind).toBe('invalid_grant');
    expect(error.details).toEqual({
      status: 400,
      providerError: 'invalid_grant',
      retryAfterSeconds: undefined,
    });
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain('rt-secret-123');
  });

  it('classifies 401 invalid_client as invalid_client', () => {
    // Act
    const error = failureOf(() => parse(response(401, { error: 'invalid_client' })));

    // Assess
    expect(error.kind).toBe('invalid_client');
    expect(error.details.status).toBe(401);
    expect(error.details.providerError).toBe('invalid_client');
    expect(error.message).toBe("token endpoint refused the broker's request with 401 (invalid_client)");
  });

  it('does not keep a provider error code that is not a plain identifier', () => {
    // Act
    const error = failureOf(() => parse(response(400, { error: '<script>alert(1)</script>' })));

    // Assess
    expect(error.kind).toBe('invalid_client');
    expect(error.details.providerError).toBeUndefined();
    expect(error.message).not.toContain('<script>');
  });

  it('classifies 429 as transient with Retry-After (an HTTP date) resolved from receipt', () => {
    // Prepare
    const retryAt = new Date(RECEIVED_AT + 120_000).toUTCString();
    const body = { error: 'Too Many Requests', message: 'Rate limiting enforced' };

    // Act
    const error = failureOf(() =>
      parse(response(429, body, { 'Retry-After': retryAt, 'X-RateLimit-Remaining': '0' })),
    );

    // Assess
    expect(error.kind).toBe('transient');
    expect(error.details.status).toBe(429);
    expect(error.details.retryAfterSeconds).toBe(120);
  });

  it('classifies a 500 with an HTML body as transient without ever carrying the raw body', () => {
    // Prepare
    const html =
      '<!doctype html><html><body><h1>Internal Server Error</h1><pre>trace-7f3a lsxs_at_leaked</pre></body></html>';

    // Act
    const error = failureOf(() => parse(response(500, html)));

    // Assess
    expect(error.kind).toBe('transient');
    expect(error.message).toBe('token endpoint answered 500');
    expect(error.details).toEqual({ status: 500, providerError: undefined, retryAfterSeconds: undefined });
    const everything = [error.message, String(error), error.stack ?? '', JSON.stringify(error)].join('\n');
    for (const fragment of ['<html', 'Internal Server Error', 'trace-7f3a', 'lsxs_at_leaked']) {
      expect(everything).not.toContain(fragment);
    }
  });

  it('classifies a 503 with Retry-After in seconds as transient', () => {
    // Act
    const error = failureOf(() => parse(response(503, '', { 'retry-after': '7' })));

    // Assess
    expect(error.kind).toBe('transient');
    expect(error.details.retryAfterSeconds).toBe(7);
  });
});

describe('unusable answers and bounds (a rotated refresh token is never lost)', () => {
  const ROTATED = 'lsxs_rt_rotated_after_processing';
  const base = {
    token_type: 'Bearer',
    expires_in: 86_400,
    refresh_token: ROTATED,
    domain_prefix: 'demo-store',
  };

  function salvaged(body: Record<string, unknown>): {
    error: UnusableTokenAnswerError;
    refreshToken?: string;
  } {
    const error = failureOf(() => parse(response(200, { ...base, ...body })));
    expect(error).toBeInstanceOf(UnusableTokenAnswerError);
    expect(error.kind).toBe('unconfirmed');
    return {
      error: error as UnusableTokenAnswerError,
      refreshToken: (error as UnusableTokenAnswerError).salvagedRefreshToken(),
    };
  }

  it.each([
    ['token_type mac', { access_token: 'at-1', token_type: 'mac' }],
    ['no access_token', {}],
    ['an access_token with CR/LF', { access_token: 'at-1\r\nX-Injected: 1' }],
    ['an access_token with a control character', { access_token: 'at\u0000-1' }],
    ['an access_token that is a number', { access_token: 12345 }],
    ['an access_token over 4096 characters', { access_token: 'a'.repeat(4097) }],
    ['expires_in of zero', { access_token: 'at-1', expires_in: 0 }],
    ['expires_in negative', { access_token: 'at-1', expires_in: -5 }],
    ['expires_in not a number', { access_token: 'at-1', expires_in: 'soon', expires: undefined }],
  ])('keeps the rotated refresh token of a 200 with %s', (_, body) => {
    const { error, refreshToken } = salvaged(body);
    expect(refreshToken).toBe(ROTATED);
    // The token is carried privately: nothing that logs or serializes the error sees it.
    const everything = [
      error.message,
      String(error),
      error.stack ?? '',
      JSON.stringify(error),
      JSON.stringify(error.details),
    ];
    expect(everything.join('\n')).not.toContain(ROTATED);
    expect(Object.keys(error)).not.toContain('refreshToken');
  });

  it.each([
    ['1e13', 1e13],
    ['1e308', 1e308],
    ['a year', 366 * 86_400],
  ])(
    'clamps an expires_in of %s to 31 days, so the expiry is a real date a write can store',
    (_, expiresIn) => {
      const tokens = parse(response(200, { ...base, access_token: 'at-1', expires_in: expiresIn }));
      expect(tokens.expiresAt).toBe(RECEIVED_AT + EXPIRES_IN_RANGE.maxSeconds * 1000);
      expect(() => new Date(tokens.expiresAt).toISOString()).not.toThrow();
      expect(tokens.refreshToken).toBe(ROTATED);
    },
  );

  it('accepts access tokens made of every b64token character (RFC 6750)', () => {
    const token = 'AZaz09-._~+/abc==';
    expect(parse(response(200, { ...base, access_token: token })).accessToken).toBe(token);
  });

  it('salvages nothing when the rotated refresh token itself is unusable', () => {
    const error = failureOf(() =>
      parse(response(200, { ...base, access_token: 'at-1', refresh_token: 'rt\n2' })),
    );
    expect(error.kind).toBe('unconfirmed');
    expect((error as UnusableTokenAnswerError).salvagedRefreshToken()).toBeUndefined();
  });

  it('drops a scope with control characters instead of storing it', () => {
    const tokens = parse(response(200, { ...base, access_token: 'at-1', scope: 'a\u0007b' }));
    expect(tokens.scope).toBeUndefined();
  });

  it('refuses a token answer for another domain_prefix, keeping none of it', () => {
    const error = failureOf(() =>
      parse(response(200, { ...base, access_token: 'at-1', domain_prefix: 'other-store' })),
    );
    expect(error.kind).toBe('account_mismatch');
    expect(error).not.toBeInstanceOf(UnusableTokenAnswerError);
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(ROTATED);
  });

  it('refuses an unusable answer for another domain_prefix without salvaging its refresh token', () => {
    const error = failureOf(() => parse(response(200, { ...base, domain_prefix: 'other-store' })));
    expect(error.kind).toBe('account_mismatch');
  });
});

describe('lightspeedProvider', () => {
  it('is the lightspeed-x provider with OAuth, accounts named by domain_prefix', () => {
    // Act
    const provider = createProviders(loadConfig({}))['lightspeed-x'];

    // Assess
    expect(provider.id).toBe('lightspeed-x');
    expect(provider.displayName).toBe('Lightspeed Retail X-Series');
    expect(provider.oauth?.callbackAccount?.parameter).toBe('domain_prefix');
    expect(provider.oauth?.parseTokenResponse).toBe(parseLightspeedTokenResponse);
    expect(provider.personalTokenMaxDays).toBeUndefined();
  });

  describe('authorization URL', () => {
    it('carries response_type=code, client_id, the exact redirect_uri, state and space-separated scopes', () => {
      // Prepare
      const oauth = oauthOf(lightspeedX);

      // Act
      const url = new URL(
        oauth.buildAuthorizationUrl({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, state: STATE }),
      );

      // Assess
      expect(`${url.origin}${url.pathname}`).toBe('https://secure.retail.lightspeed.app/connect');
      expect(Object.fromEntries(url.searchParams)).toEqual({
        response_type: 'code',
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT_URI,
        state: STATE,
        scope: DEFAULT_LIGHTSPEED_SCOPES.join(' '),
      });
      expect(url.searchParams.getAll('redirect_uri')).toEqual([REDIRECT_URI]);
      expect(url.toString()).not.toContain(CLIENT_SECRET);
    });

    it('sends the configured scopes', () => {
      // Prepare
      const oauth = oauthOf(lightspeedX, { LIGHTSPEED_X_SCOPES: 'products:read  sales:read' });

      // Act
      const url = new URL(
        oauth.buildAuthorizationUrl({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, state: STATE }),
      );

      // Assess
      expect(url.searchParams.get('scope')).toBe('products:read sales:read');
      expect(oauth.scopes).toEqual(['products:read', 'sales:read']);
    });

    it('keeps a redirect_uri with its own query exactly as given', () => {
      // Prepare
      const redirectUri = 'http://localhost:8787/oauth/lightspeed-x/callback?a=1&b=2';

      // Act
      const url = new URL(
        oauthOf(lightspeedX).buildAuthorizationUrl({ clientId: CLIENT_ID, redirectUri, state: STATE }),
      );

      // Assess
      expect(url.searchParams.get('redirect_uri')).toBe(redirectUri);
    });
  });

  describe('token requests', () => {
    it('posts the code exchange form-encoded to the store host, with nothing in the query', () => {
      // Act
      const request = oauthOf(lightspeedX).buildCodeExchange({
        account: 'demo-store',
        code: 'code-abc123',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUri: REDIRECT_URI,
      });

      // Assess
      expect(request.method).toBe('POST');
      expect(request.url).toBe('https://demo-store.retail.lightspeed.app/api/1.0/token');
      expect(new URL(request.url).search).toBe('');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(formFields(request.body)).toEqual({
        code: 'code-abc123',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_type: 'authorization_code',
        redirect_uri: REDIRECT_URI,
      });
    });

    it('posts the refresh form-encoded to the store host, with nothing in the query', () => {
      // Act
      const request = oauthOf(lightspeedX).buildRefresh({
        account: 'shop42',
        refreshToken: 'rt-old-xyz',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
      });

      // Assess
      expect(request.method).toBe('POST');
      expect(request.url).toBe('https://shop42.retail.lightspeed.app/api/1.0/token');
      expect(new URL(request.url).search).toBe('');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(formFields(request.body)).toEqual({
        refresh_token: 'rt-old-xyz',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_type: 'refresh_token',
      });
    });

    it('encodes reserved characters in form values', () => {
      // Act
      const request = oauthOf(lightspeedX).buildRefresh({
        account: 'demo-store',
        refreshToken: 'a+b/c=d&e',
        clientId: CLIENT_ID,
        clientSecret: 'se cret&x=1',
      });

      // Assess
      expect(formFields(request.body)).toMatchObject({
        refresh_token: 'a+b/c=d&e',
        client_secret: 'se cret&x=1',
      });
      expect(request.body).not.toContain('&x=1');
    });

    it('fills the prefix into a configured token URL template', () => {
      // Prepare
      const oauth = oauthOf(lightspeedX, {
        LIGHTSPEED_X_TOKEN_URL: 'http://127.0.0.1:9400/{domain_prefix}/api/1.0/token',
      });

      // Act
      const request = oauth.buildRefresh({
        account: 'demo-store',
        refreshToken: 'rt',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
      });

      // Assess
      expect(request.url).toBe('http://127.0.0.1:9400/demo-store/api/1.0/token');
    });
  });

  it('returns the store API base URL for an account', () => {
    // Prepare
    const provider = behaviourOf(lightspeedX);

    // Act
    const base = provider.apiBaseUrl('demo-store');

    // Assess
    expect(base).toBe('https://demo-store.retail.lightspeed.app/api');
  });
});
