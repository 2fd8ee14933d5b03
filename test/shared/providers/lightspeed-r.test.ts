import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { UnusableTokenAnswerError } from '../../../shared/domain/errors';
import { createProviders } from '../../../shared/providers';
import {
  DEFAULT_LIGHTSPEED_R_SCOPES,
  lightspeedR,
  parseLightspeedRAccount,
  parseLightspeedRTokenResponse,
} from '../../../shared/providers/lightspeed-r';
import { failureOf, formFields, oauthOf, RECEIVED_AT, response, STATE } from './support';

const CLIENT_ID = 'lsr-client-0123';
const CLIENT_SECRET = 'lsr-secret-abcdef';
const REDIRECT_URI = 'https://broker.example.com/oauth/lightspeed-r/callback';

describe('parseLightspeedRTokenResponse', () => {
  it('reads an RFC 6749 answer with expires_in from receipt', () => {
    // Act
    const tokens = parseLightspeedRTokenResponse(
      response(200, {
        access_token: 'lsr-access-1',
        expires_in: 3600,
        token_type: 'Bearer',
        scope: 'employee:register employee:inventory',
        refresh_token: 'lsr-refresh-1',
      }),
    );

    // Assess
    expect(tokens).toEqual({
      accessToken: 'lsr-access-1',
      refreshToken: 'lsr-refresh-1',
      expiresAt: RECEIVED_AT + 3_600_000,
      refreshExpiresAt: undefined,
      scope: 'employee:register employee:inventory',
    });
  });

  it('keeps the stored refresh token when the answer has none', () => {
    expect(
      parseLightspeedRTokenResponse(response(200, { access_token: 'a', expires_in: 3600 })).refreshToken,
    ).toBeUndefined();
  });

  it('refuses an answer without expires_in, keeping its rotated refresh token', () => {
    // Act
    const error = failureOf(() =>
      parseLightspeedRTokenResponse(response(200, { access_token: 'a', refresh_token: 'lsr-rotated' })),
    );

    // Assess
    expect(error).toBeInstanceOf(UnusableTokenAnswerError);
    expect((error as UnusableTokenAnswerError).salvagedRefreshToken()).toBe('lsr-rotated');
  });

  it('classifies 400 invalid_grant as a dead grant and 503 as transient', () => {
    // Act
    const grant = failureOf(() =>
      parseLightspeedRTokenResponse(response(400, { error: 'invalid_grant', error_description: 'used' })),
    );
    const down = failureOf(() => parseLightspeedRTokenResponse(response(503, '')));

    // Assess
    expect(grant.kind).toBe('invalid_grant');
    expect(down.kind).toBe('transient');
  });
});

describe('parseLightspeedRAccount', () => {
  it('reads the accountID of the Account answer', () => {
    // Act
    const account = parseLightspeedRAccount(
      response(200, { '@attributes': { count: '1' }, Account: { accountID: '123456', name: 'Demo' } }),
    );

    // Assess
    expect(account).toBe('123456');
  });

  it('reads a numeric accountID and a one-element list', () => {
    expect(parseLightspeedRAccount(response(200, { Account: { accountID: 42 } }))).toBe('42');
    expect(parseLightspeedRAccount(response(200, { Account: [{ accountID: '77' }] }))).toBe('77');
  });

  it('refuses an answer listing several accounts', () => {
    // Act
    const error = failureOf(() =>
      parseLightspeedRAccount(response(200, { Account: [{ accountID: '1' }, { accountID: '2' }] })),
    );

    // Assess
    expect(error.kind).toBe('invalid_client');
    expect(error.message).toBe(
      'the Account endpoint lists 2 accounts; the broker cannot tell which one was authorized',
    );
  });

  it.each([
    ['no Account', {}],
    ['an accountID that is not numeric', { Account: { accountID: '12ab' } }],
    ['an accountID over 12 digits', { Account: { accountID: '1234567890123' } }],
    ['a fractional accountID', { Account: { accountID: 1.5 } }],
  ])('refuses an answer with %s as unconfirmed (retried by the lookup)', (_, body) => {
    expect(failureOf(() => parseLightspeedRAccount(response(200, body))).kind).toBe('unconfirmed');
  });

  it('refuses an HTML 200 as unconfirmed', () => {
    expect(failureOf(() => parseLightspeedRAccount(response(200, '<html>'))).kind).toBe('unconfirmed');
  });

  it('classifies 429 with Retry-After and 5xx as transient, 401 as a refused token', () => {
    // Act
    const limited = failureOf(() => parseLightspeedRAccount(response(429, '', { 'retry-after': '2' })));
    const down = failureOf(() => parseLightspeedRAccount(response(502, '')));
    const refused = failureOf(() => parseLightspeedRAccount(response(401, { message: 'Token has expired' })));

    // Assess
    expect(limited.kind).toBe('transient');
    expect(limited.details.retryAfterSeconds).toBe(2);
    expect(down.kind).toBe('transient');
    expect(refused.kind).toBe('invalid_grant');
    expect(refused.message).toBe('the Account endpoint refused the new access token (401)');
  });
});

describe('lightspeedRProvider', () => {
  it('is registered with an account lookup, no callback account and no personal tokens', () => {
    // Act
    const provider = createProviders(loadConfig({}))['lightspeed-r'];

    // Assess
    expect(provider.displayName).toBe('Lightspeed Retail R-Series');
    expect(provider.oauth?.callbackAccount).toBeUndefined();
    expect(provider.oauth?.accountLookup?.parse).toBe(parseLightspeedRAccount);
    expect(provider.verifyRequest).toBeUndefined();
    expect(provider.apiBaseUrl('123456')).toBe('https://api.lightspeedapp.com/API/V3/Account/123456');
  });

  it('takes numeric account ids of 1 to 12 digits', () => {
    expect(lightspeedR.account.pattern.test('123456')).toBe(true);
    expect(lightspeedR.account.pattern.test('abc')).toBe(false);
    expect(lightspeedR.account.pattern.test('1234567890123')).toBe(false);
  });

  it('looks the account up on Account.json with the new token as Bearer', () => {
    // Act
    const request = oauthOf(lightspeedR).accountLookup!.request('lsr-access-1');

    // Assess
    expect(request).toEqual({
      url: 'https://api.lightspeedapp.com/API/V3/Account.json',
      method: 'GET',
      headers: { authorization: 'Bearer lsr-access-1', accept: 'application/json' },
    });
  });

  it('authorizes with response_type=code, space-separated scopes and state, without redirect_uri', () => {
    // Act
    const url = new URL(
      oauthOf(lightspeedR).buildAuthorizationUrl({
        clientId: CLIENT_ID,
        redirectUri: REDIRECT_URI,
        state: STATE,
      }),
    );

    // Assess
    expect(`${url.origin}${url.pathname}`).toBe('https://cloud.lightspeedapp.com/auth/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: CLIENT_ID,
      scope: DEFAULT_LIGHTSPEED_R_SCOPES.join(' '),
      state: STATE,
    });
  });

  it('posts the code exchange form-encoded, nothing in the query', () => {
    // Act
    const request = oauthOf(lightspeedR).buildCodeExchange({
      account: undefined,
      code: 'lsr-code',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
    });

    // Assess
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://cloud.lightspeedapp.com/auth/oauth/token');
    expect(new URL(request.url).search).toBe('');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(formFields(request.body)).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code: 'lsr-code',
      grant_type: 'authorization_code',
    });
  });

  it('posts the refresh form-encoded without scope, nothing in the query', () => {
    // Act
    const request = oauthOf(lightspeedR).buildRefresh({
      account: '123456',
      refreshToken: 'lsr-refresh-old',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(request.url).toBe('https://cloud.lightspeedapp.com/auth/oauth/token');
    expect(new URL(request.url).search).toBe('');
    expect(formFields(request.body)).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      refresh_token: 'lsr-refresh-old',
      grant_type: 'refresh_token',
    });
  });

  it('uses configured URLs (the simulator)', () => {
    // Prepare
    const oauth = oauthOf(lightspeedR, {
      LIGHTSPEED_R_TOKEN_URL: 'http://127.0.0.1:9400/_sim/lightspeed-r/auth/oauth/token',
      LIGHTSPEED_R_ACCOUNT_URL: 'http://127.0.0.1:9400/_sim/lightspeed-r/API/V3/Account.json',
    });

    // Act
    const refresh = oauth.buildRefresh({
      account: '1',
      refreshToken: 'rt',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(refresh.url).toBe('http://127.0.0.1:9400/_sim/lightspeed-r/auth/oauth/token');
    expect(oauth.accountLookup!.request('t').url).toBe(
      'http://127.0.0.1:9400/_sim/lightspeed-r/API/V3/Account.json',
    );
  });
});
