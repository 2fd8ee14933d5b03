import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { UnusableTokenAnswerError } from '../../../shared/domain/errors';
import { createProviders } from '../../../shared/providers';
import { DEFAULT_SQUARE_SCOPES, parseSquareTokenResponse, square } from '../../../shared/providers/square';
import { behaviourOf, failureOf, oauthOf, response, STATE } from './support';

const CLIENT_ID = 'sq0idp-client0123';
const CLIENT_SECRET = 'sq0csp-secret-abcdef';
const REDIRECT_URI = 'https://broker.example.com/oauth/square/callback';
const MERCHANT = 'ML2PMZQ8XJ9Y3';

/** A documented ObtainToken answer (code flow). */
const answer = {
  access_token: 'EAAAEOuLQObrVwJvCvoio8Example',
  token_type: 'bearer',
  expires_at: '2026-05-31T08:00:00Z',
  merchant_id: MERCHANT,
  refresh_token: 'EQAAEFwTKExampleRefresh',
  short_lived: false,
};

describe('parseSquareTokenResponse', () => {
  it('names the account from merchant_id on an exchange and reads the ISO expires_at', () => {
    // Act
    const tokens = parseSquareTokenResponse(response(200, answer), undefined);

    // Assess
    expect(tokens).toEqual({
      account: MERCHANT,
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: Date.parse('2026-05-31T08:00:00Z'),
      refreshExpiresAt: undefined,
      scope: undefined,
    });
  });

  it('reads expires_at with fractional seconds and an offset', () => {
    // Act
    const tokens = parseSquareTokenResponse(
      response(200, { ...answer, expires_at: '2026-05-08T10:00:00.500+02:00' }),
      MERCHANT,
    );

    // Assess
    expect(tokens.expiresAt).toBe(Date.parse('2026-05-08T08:00:00Z'));
  });

  it('accepts the refresh answer for the same merchant, with the same refresh token', () => {
    // Act
    const tokens = parseSquareTokenResponse(response(200, answer), MERCHANT);

    // Assess
    expect(tokens.account).toBe(MERCHANT);
    expect(tokens.refreshToken).toBe(answer.refresh_token);
  });

  it('refuses a refresh answer naming another merchant, keeping none of it', () => {
    // Act
    const error = failureOf(() =>
      parseSquareTokenResponse(response(200, { ...answer, merchant_id: 'OTHER0MERCHANT' }), MERCHANT),
    );

    // Assess
    expect(error.kind).toBe('account_mismatch');
    expect(error).not.toBeInstanceOf(UnusableTokenAnswerError);
    expect(error.details.answeredAccount).toBe('OTHER0MERCHANT');
  });

  it('keeps the stored refresh token when the answer has none', () => {
    // Prepare
    const { refresh_token: _, ...withoutRefresh } = answer;

    // Act
    const tokens = parseSquareTokenResponse(response(200, withoutRefresh), MERCHANT);

    // Assess
    expect(tokens.refreshToken).toBeUndefined();
  });

  it('reads a stated refresh_token_expires_at (unconfirmed field) as the refresh expiry', () => {
    // Act
    const tokens = parseSquareTokenResponse(
      response(200, { ...answer, refresh_token_expires_at: '2026-07-30T08:00:00Z' }),
      MERCHANT,
    );

    // Assess
    expect(tokens.refreshExpiresAt).toBe(Date.parse('2026-07-30T08:00:00Z'));
  });

  it.each([
    ['expires_at missing', { expires_at: undefined }],
    ['expires_at in the past', { expires_at: '2026-04-30T08:00:00Z' }],
    ['expires_at without a zone', { expires_at: '2026-05-31T08:00:00' }],
    ['expires_at as epoch seconds', { expires_at: 1780214400 }],
    ['expires_in instead of expires_at', { expires_at: undefined, expires_in: 2_592_000 }],
  ])('refuses an answer with %s, keeping its refresh token', (_, change) => {
    // Act
    const error = failureOf(() =>
      parseSquareTokenResponse(response(200, { ...answer, ...change }), MERCHANT),
    );

    // Assess
    expect(error).toBeInstanceOf(UnusableTokenAnswerError);
    expect(error.message).toBe('unusable token response: no usable expires_in');
    expect((error as UnusableTokenAnswerError).salvagedRefreshToken()).toBe(answer.refresh_token);
  });

  describe('errors', () => {
    it('takes 401 service.not_authorized for the client, not the grant (a wrong secret must not end every connection)', () => {
      // Act
      const error = failureOf(() =>
        parseSquareTokenResponse(
          response(401, { message: 'Not Authorized', type: 'service.not_authorized' }),
          MERCHANT,
        ),
      );

      // Assess
      expect(error.kind).toBe('invalid_client');
      expect(error.details).toEqual({ status: 401, providerError: 'service.not_authorized' });
      expect(error.message).toBe(
        "token endpoint refused the broker's request with 401 (service.not_authorized)",
      );
    });

    it('takes a legacy 400 bad_request for the client too', () => {
      // Act
      const error = failureOf(() =>
        parseSquareTokenResponse(
          response(400, { message: 'Missing required parameter', type: 'bad_request.missing_parameter' }),
          MERCHANT,
        ),
      );

      // Assess
      expect(error.kind).toBe('invalid_client');
      expect(error.details.providerError).toBe('bad_request.missing_parameter');
    });

    it.each([
      ['an RFC invalid_grant', { error: 'invalid_grant' }, 'invalid_grant'],
      [
        'a v2 ACCESS_TOKEN_REVOKED',
        { errors: [{ category: 'AUTHENTICATION_ERROR', code: 'ACCESS_TOKEN_REVOKED', detail: 'x' }] },
        'ACCESS_TOKEN_REVOKED',
      ],
      [
        'a v2 ACCESS_TOKEN_EXPIRED',
        { errors: [{ category: 'AUTHENTICATION_ERROR', code: 'ACCESS_TOKEN_EXPIRED' }] },
        'ACCESS_TOKEN_EXPIRED',
      ],
    ])('takes %s for a dead grant', (_, body, code) => {
      // Act
      const error = failureOf(() => parseSquareTokenResponse(response(401, body), MERCHANT));

      // Assess
      expect(error.kind).toBe('invalid_grant');
      expect(error.details.providerError).toBe(code);
    });

    it('classifies 429 RATE_LIMITED with Retry-After, and 503, as transient', () => {
      // Act
      const limited = failureOf(() =>
        parseSquareTokenResponse(
          response(
            429,
            { errors: [{ category: 'RATE_LIMIT_ERROR', code: 'RATE_LIMITED' }] },
            { 'retry-after': '3' },
          ),
          MERCHANT,
        ),
      );
      const down = failureOf(() => parseSquareTokenResponse(response(503, '<html>down</html>'), MERCHANT));

      // Assess
      expect(limited.kind).toBe('transient');
      expect(limited.details.retryAfterSeconds).toBe(3);
      expect(down.kind).toBe('transient');
    });

    it('does not keep an error code that is not a plain identifier, nor the message', () => {
      // Act
      const error = failureOf(() =>
        parseSquareTokenResponse(
          response(400, { message: 'token EQAAE-secret', type: '<b>x</b>' }),
          MERCHANT,
        ),
      );

      // Assess
      expect(error.kind).toBe('invalid_client');
      expect(error.details.providerError).toBeUndefined();
      expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain('EQAAE-secret');
    });
  });
});

describe('squareProvider', () => {
  it('is registered without a callback account, the seller named by the answer', () => {
    // Act
    const provider = createProviders(loadConfig({})).square;

    // Assess
    expect(provider.displayName).toBe('Square');
    expect(provider.oauth?.callbackAccount).toBeUndefined();
    expect(provider.oauth?.accountBeforeAuthorization).toBe(false);
    expect(provider.oauth?.pkce).toBe(false);
    expect(provider.oauth?.renewal.everySeconds).toBe(7 * 86_400);
    expect(provider.oauth?.parseTokenResponse).toBe(parseSquareTokenResponse);
  });

  it('takes merchant ids as upper-case alphanumerics of 8 to 32 characters', () => {
    expect(square.account.pattern.test(MERCHANT)).toBe(true);
    expect(square.account.pattern.test('ml2pmzq8xj9y3')).toBe(false);
    expect(square.account.pattern.test('ABC1234')).toBe(false);
    expect(square.account.pattern.test('A'.repeat(33))).toBe(false);
  });

  it('authorizes with space-separated scopes, session=false, state and the redirect URI', () => {
    // Act
    const url = new URL(
      oauthOf(square).buildAuthorizationUrl({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, state: STATE }),
    );

    // Assess
    expect(`${url.origin}${url.pathname}`).toBe('https://connect.squareup.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: CLIENT_ID,
      scope: DEFAULT_SQUARE_SCOPES.join(' '),
      session: 'false',
      state: STATE,
      redirect_uri: REDIRECT_URI,
    });
    expect(url.search).not.toContain('code_challenge');
  });

  it('posts the code exchange as JSON with the secret, nothing in the query', () => {
    // Act
    const request = oauthOf(square).buildCodeExchange({
      account: undefined,
      code: 'sq0cgp-code',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
    });

    // Assess
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://connect.squareup.com/oauth2/token');
    expect(new URL(request.url).search).toBe('');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body ?? '')).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code: 'sq0cgp-code',
      grant_type: 'authorization_code',
      redirect_uri: REDIRECT_URI,
    });
  });

  it('posts the refresh as JSON with the secret, nothing in the query', () => {
    // Act
    const request = oauthOf(square).buildRefresh({
      account: MERCHANT,
      refreshToken: 'EQAAE-refresh',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(request.url).toBe('https://connect.squareup.com/oauth2/token');
    expect(new URL(request.url).search).toBe('');
    expect(JSON.parse(request.body ?? '')).toEqual({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'refresh_token',
      refresh_token: 'EQAAE-refresh',
    });
  });

  it('uses configured hosts (the sandbox)', () => {
    // Prepare
    const env = {
      SQUARE_TOKEN_URL: 'https://connect.squareupsandbox.com/oauth2/token',
      SQUARE_API_BASE_URL: 'https://connect.squareupsandbox.com/v2',
    };
    const provider = behaviourOf(square, env);

    // Act
    const refresh = provider.oauth!.buildRefresh({
      account: MERCHANT,
      refreshToken: 'rt',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });

    // Assess
    expect(refresh.url).toBe('https://connect.squareupsandbox.com/oauth2/token');
    expect(provider.apiBaseUrl(MERCHANT)).toBe('https://connect.squareupsandbox.com/v2');
  });

  it('verifies a personal access token by retrieving its own merchant', () => {
    // Act
    const request = createProviders(loadConfig({})).square.verifyRequest!(MERCHANT, 'EAAA-personal');

    // Assess
    expect(request).toEqual({
      url: `https://connect.squareup.com/v2/merchants/${MERCHANT}`,
      method: 'GET',
      headers: { authorization: 'Bearer EAAA-personal', accept: 'application/json' },
    });
  });
});
