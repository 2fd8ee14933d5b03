import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { UnusableTokenAnswerError } from '../../../shared/domain/errors';
import { createProviders } from '../../../shared/providers';
import { clover, parseCloverTokenResponse } from '../../../shared/providers/clover';
import { EXPIRES_IN_RANGE } from '../../../shared/providers/oauth2';
import { behaviourOf, failureOf, oauthOf, RECEIVED_AT, response, STATE } from './support';

const NOW_S = RECEIVED_AT / 1000;
const CLIENT_ID = 'CLOVERAPP0123';
const CLIENT_SECRET = 'clover-secret-abcdef';
const REDIRECT_URI = 'https://broker.example.com/oauth/clover/callback';
const MERCHANT = '4GVWQ4FRDSHB1';

/** The documented four-field answer: both expiries in epoch seconds. */
const answer = {
  access_token: 'eyJhbGciOiJIUzI1NiJ9.access.sig',
  access_token_expiration: NOW_S + 1800,
  refresh_token: 'clvr-refresh-0123',
  refresh_token_expiration: NOW_S + 1800 + 31_536_000,
};

describe('parseCloverTokenResponse', () => {
  it('reads both epoch-second expiries', () => {
    // Act
    const tokens = parseCloverTokenResponse(response(200, answer));

    // Assess
    expect(tokens).toEqual({
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: RECEIVED_AT + 1_800_000,
      refreshExpiresAt: (NOW_S + 1800 + 31_536_000) * 1000,
      scope: undefined,
    });
  });

  it('reads expiries given as strings of digits', () => {
    // Act
    const tokens = parseCloverTokenResponse(
      response(200, { ...answer, access_token_expiration: String(NOW_S + 60) }),
    );

    // Assess
    expect(tokens.expiresAt).toBe(RECEIVED_AT + 60_000);
  });

  it('clamps a far access expiry to the trusted range', () => {
    // Act
    const tokens = parseCloverTokenResponse(
      response(200, { ...answer, access_token_expiration: NOW_S + 1e9 }),
    );

    // Assess
    expect(tokens.expiresAt).toBe(RECEIVED_AT + EXPIRES_IN_RANGE.maxSeconds * 1000);
  });

  it('drops a refresh expiry in the past instead of failing', () => {
    // Act
    const tokens = parseCloverTokenResponse(
      response(200, { ...answer, refresh_token_expiration: NOW_S - 1 }),
    );

    // Assess
    expect(tokens.refreshExpiresAt).toBeUndefined();
    expect(tokens.refreshToken).toBe(answer.refresh_token);
  });

  it('keeps the stored refresh token when the answer has none', () => {
    // Act
    const tokens = parseCloverTokenResponse(
      response(200, { access_token: 'at', access_token_expiration: NOW_S + 60 }),
    );

    // Assess
    expect(tokens.refreshToken).toBeUndefined();
    expect(tokens.refreshExpiresAt).toBeUndefined();
  });

  it.each([
    ['an access expiry already past', { access_token_expiration: NOW_S - 10 }],
    [
      'expires_in instead of access_token_expiration',
      { access_token_expiration: undefined, expires_in: 3600 },
    ],
    ['an ISO access expiry', { access_token_expiration: '2026-05-01T09:00:00Z' }],
  ])('refuses an answer with %s, keeping its rotated refresh token', (_, change) => {
    // Act
    const error = failureOf(() => parseCloverTokenResponse(response(200, { ...answer, ...change })));

    // Assess
    expect(error).toBeInstanceOf(UnusableTokenAnswerError);
    expect((error as UnusableTokenAnswerError).salvagedRefreshToken()).toBe(answer.refresh_token);
  });

  it('classifies an explicit invalid_grant as a dead grant, an unexplained 401 as the client (bodies unconfirmed)', () => {
    // Act
    const grant = failureOf(() => parseCloverTokenResponse(response(400, { error: 'invalid_grant' })));
    const unexplained = failureOf(() => parseCloverTokenResponse(response(401, { message: 'Unauthorized' })));

    // Assess
    expect(grant.kind).toBe('invalid_grant');
    expect(unexplained.kind).toBe('invalid_client');
    expect(unexplained.message).not.toContain('Unauthorized');
  });

  it.each([400, 401])(
    'takes a %s from the secret-less refresh endpoint for a refused refresh token, and the exchange’s for the client',
    (status) => {
      // Act
      const refresh = failureOf(() =>
        parseCloverTokenResponse(response(status, { message: 'Unauthorized' }), MERCHANT, 'refresh_token'),
      );
      const exchange = failureOf(() =>
        parseCloverTokenResponse(
          response(status, { message: 'Unauthorized' }),
          MERCHANT,
          'authorization_code',
        ),
      );

      // Assess
      expect(refresh.kind).toBe('invalid_grant');
      expect(refresh.details.status).toBe(status);
      expect(exchange.kind).toBe('invalid_client');
    },
  );

  it('classifies 429 with retry-after as transient', () => {
    // Act
    const error = failureOf(() => parseCloverTokenResponse(response(429, '', { 'retry-after': '1' })));

    // Assess
    expect(error.kind).toBe('transient');
    expect(error.details.retryAfterSeconds).toBe(1);
  });
});

describe('cloverProvider', () => {
  it('is registered with the callback naming merchant_id', () => {
    // Act
    const provider = createProviders(loadConfig({})).clover;

    // Assess
    expect(provider.displayName).toBe('Clover');
    expect(provider.oauth?.callbackAccount).toEqual({ parameter: 'merchant_id' });
    expect(provider.oauth?.accountBeforeAuthorization).toBe(false);
    expect(provider.oauth?.pkce).toBe(false);
    expect(provider.oauth?.pacing).toMatchObject({ concurrency: 5, perSecond: 10 });
  });

  it('takes 13 upper-case letters and digits as a merchant id', () => {
    expect(clover.account.pattern.test(MERCHANT)).toBe(true);
    expect(clover.account.pattern.test('4gvwq4frdshb1')).toBe(false);
    expect(clover.account.pattern.test('4GVWQ4FRDSHB')).toBe(false);
  });

  it('authorizes on the www host with response_type, client_id, redirect_uri and state', () => {
    // Act
    const url = new URL(
      oauthOf(clover).buildAuthorizationUrl({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, state: STATE }),
    );

    // Assess
    expect(`${url.origin}${url.pathname}`).toBe('https://www.clover.com/oauth/v2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      state: STATE,
    });
  });

  it('posts the code exchange as JSON with the secret to the token URL, nothing in the query', () => {
    // Act
    const request = oauthOf(clover).buildCodeExchange({
      account: MERCHANT,
      code: 'clover-code',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
    });

    // Assess
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://api.clover.com/oauth/v2/token');
    expect(new URL(request.url).search).toBe('');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body ?? '')).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code: 'clover-code',
    });
  });

  it('posts the refresh to its own endpoint with client_id and refresh_token only', () => {
    // Act
    const request = oauthOf(clover).buildRefresh({
      account: MERCHANT,
      refreshToken: 'clvr-refresh-old',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(request.url).toBe('https://api.clover.com/oauth/v2/refresh');
    expect(new URL(request.url).search).toBe('');
    expect(JSON.parse(request.body ?? '')).toEqual({
      client_id: CLIENT_ID,
      refresh_token: 'clvr-refresh-old',
    });
    expect(request.body).not.toContain(CLIENT_SECRET);
  });

  it('uses configured regional hosts (EU)', () => {
    // Prepare
    const env = {
      CLOVER_REFRESH_URL: 'https://api.eu.clover.com/oauth/v2/refresh',
      CLOVER_API_BASE_URL: 'https://api.eu.clover.com/v3/merchants/{merchant_id}',
    };
    const provider = behaviourOf(clover, env);

    // Act
    const refresh = provider.oauth!.buildRefresh({
      account: MERCHANT,
      refreshToken: 'rt',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(refresh.url).toBe('https://api.eu.clover.com/oauth/v2/refresh');
    expect(provider.apiBaseUrl(MERCHANT)).toBe(`https://api.eu.clover.com/v3/merchants/${MERCHANT}`);
  });

  it('verifies an API token on its own merchant with Bearer', () => {
    // Act
    const request = createProviders(loadConfig({})).clover.verifyRequest!(MERCHANT, 'clover-api-token');

    // Assess
    expect(request).toEqual({
      url: `https://api.clover.com/v3/merchants/${MERCHANT}`,
      method: 'GET',
      headers: { authorization: 'Bearer clover-api-token', accept: 'application/json' },
    });
  });
});
