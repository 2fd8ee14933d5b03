/**
 * Square. One host per environment (production and sandbox are told apart by the simulator's root:
 * `square` and `square-sandbox`); JSON bodies only; PKCE supported; the callback names no merchant
 * (`merchant_id` is in the token answer); access tokens live 30 days and are stated as `expires_at`
 * (ISO 8601), not `expires_in`; a code-flow refresh returns the same refresh token, a PKCE-flow
 * refresh a new single-use one valid 90 days (developer.squareup.com, OAuth API).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, sendJson } from '../http';
import { grantTypeOf, type SimulatorProfile, type TokenError } from '../profile';
import { randomToken, stableId } from '../random';

const ACCESS_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const PKCE_REFRESH_TOKEN_TTL_SECONDS = 90 * 24 * 3600;
const DEFAULT_SCOPE = 'MERCHANT_PROFILE_READ PAYMENTS_READ SETTLEMENTS_READ BANK_ACCOUNTS_READ';
const MERCHANT_ID = /^[A-Z0-9]{8,32}$/;

export interface SquareProfileOptions {
  /** Serve the sandbox (root `square-sandbox`) instead of production (`square`). Default false. */
  sandbox?: boolean;
  /**
   * The token endpoint's error shape. Square's OAuth endpoints have answered both the legacy
   * `{message, type}` and the v2 `{errors: [{category, code, detail}]}`; default `errors`.
   */
  errorShape?: 'errors' | 'legacy';
}

/** ISO 8601 without milliseconds, as Square writes instants. */
function squareInstant(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A Square-shaped error answer for a refused token call (status and codes are inference where the docs are silent). */
function squareError(error: TokenError, shape: 'errors' | 'legacy'): { status: number; body: unknown } {
  const auth = error.error === 'invalid_client' || error.error === 'invalid_grant';
  const status = auth ? 401 : 400;
  if (shape === 'legacy') {
    return {
      status,
      body: { message: error.description, type: auth ? 'service.not_authorized' : 'bad_request' },
    };
  }
  const category = auth ? 'AUTHENTICATION_ERROR' : 'INVALID_REQUEST_ERROR';
  // A refused refresh token of the code flow (it never expires) means the seller revoked the
  // authorization: the v2 code for that, distinct from a wrong client secret (inference).
  const code =
    error.error === 'invalid_grant' ? 'ACCESS_TOKEN_REVOKED' : auth ? 'UNAUTHORIZED' : 'BAD_REQUEST';
  return { status, body: { errors: [{ category, code, detail: error.description }] } };
}

export function squareProfile(options: SquareProfileOptions = {}): SimulatorProfile {
  const shape = options.errorShape ?? 'errors';
  return {
    id: options.sandbox === true ? 'square-sandbox' : 'square',
    copy: {
      productName: options.sandbox === true ? 'Square (sandbox)' : 'Square',
      title: 'Allow access to your Square account',
      field: { name: 'merchant_id', label: 'Square merchant id' },
    },
    accountSource: 'typed',
    account: {
      pattern: MERCHANT_ID,
      normalize: (typed) => typed.trim().toUpperCase(),
      invalidMessage: 'the merchant id must be 8-32 upper-case letters and digits',
      suggestion: 'MLDEMOSTORE01',
    },
    authorize: {
      requireResponseType: false,
      redirectUriOptional: true,
      scope: { mode: 'default', value: DEFAULT_SCOPE },
    },
    defaultAccessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    newToken: (kind) =>
      kind === 'code'
        ? `sq0cgp-${randomToken(22)}`
        : `${kind === 'access' ? 'EAAA' : 'EQAA'}${randomToken(60)}`,
    route(segments) {
      const path = segments.join('/');
      if (path === 'oauth2/authorize') return { kind: 'authorize', partition: '' };
      if (path === 'oauth2/token') return { kind: 'token', endpoint: 'token', partition: '' };
      // RetrieveMerchant: `me`, or the seller's own id (another seller's is not found for this token).
      const merchant = /^v2\/merchants\/(me|[A-Z0-9]{8,32})$/.exec(path);
      if (merchant?.[1] !== undefined)
        return { kind: 'api', partition: '', resource: ['merchants', merchant[1]] };
      return undefined;
    },
    urls: (base) => ({
      authorizeUrl: `${base}/oauth2/authorize`,
      tokenUrl: `${base}/oauth2/token`,
      apiBaseUrl: `${base}/v2`,
      verifyUrl: `${base}/v2/merchants/me`,
    }),
    callback: ({ code, request }) => ({ code, response_type: 'code', state: request.state }),
    denial: (request) => ({ error: 'access_denied', error_description: 'user_denied', state: request.state }),
    token: {
      encoding: 'json',
      wrongEncoding: 'refuse',
      grantOf: (_endpoint, params) => grantTypeOf(params),
      clientAuth: () => 'secret-unless-pkce',
      exchangeRedirectUri: 'if-sent',
      refreshPolicy: (record) => (record.pkce ? 'rotate' : { unchanged: 'echo' }),
      refreshTokenTtlSeconds: (pkce) => (pkce ? PKCE_REFRESH_TOKEN_TTL_SECONDS : undefined),
      answer(answer) {
        const body: Record<string, unknown> = {
          access_token: answer.accessToken,
          token_type: 'bearer',
          expires_at: squareInstant(answer.issuedAt + (answer.accessTokenTtlSeconds ?? 0) * 1000),
          merchant_id: answer.account,
        };
        if (answer.refreshToken !== undefined) body.refresh_token = answer.refreshToken;
        body.short_lived = false;
        if (answer.refreshTokenExpiresAt !== undefined) {
          body.refresh_token_expires_at = squareInstant(answer.refreshTokenExpiresAt);
        }
        return body;
      },
      nameAccount(body, account) {
        body.merchant_id = account;
        return true;
      },
      error: (error) => squareError(error, shape),
    },
    api(req: IncomingMessage, res: ServerResponse, route, context): void {
      const check = context.checkAccessToken(bearerToken(req), '');
      if (!check.ok) {
        const code =
          check.reason === 'expired'
            ? 'ACCESS_TOKEN_EXPIRED'
            : check.reason === 'revoked'
              ? 'ACCESS_TOKEN_REVOKED'
              : 'UNAUTHORIZED';
        sendJson(res, 401, {
          errors: [
            { category: 'AUTHENTICATION_ERROR', code, detail: 'This request could not be authorized.' },
          ],
        });
        return;
      }
      const id = check.account;
      const asked = route.resource[1];
      if (asked !== 'me' && asked !== id) {
        sendJson(res, 404, {
          errors: [{ category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail: 'Merchant not found.' }],
        });
        return;
      }
      sendJson(res, 200, {
        merchant: {
          id,
          business_name: `Demo merchant ${id}`,
          country: 'US',
          language_code: 'en-US',
          currency: 'USD',
          status: 'ACTIVE',
          main_location_id: stableId(id, 'location').replace(/-/g, '').slice(0, 13).toUpperCase(),
          created_at: '2024-01-15T10:00:00.000Z',
        },
      });
    },
  };
}
