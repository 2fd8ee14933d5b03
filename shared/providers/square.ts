/**
 * Square, provider id `square`. Facts in docs/providers.md ("Shopify, Square, Clover, Lightspeed
 * R-Series"): one host for authorize, token and API (production `https://connect.squareup.com`,
 * sandbox `https://connect.squareupsandbox.com`); JSON token requests; the answer names the seller
 * (`merchant_id`) and states an absolute `expires_at`; access tokens last 30 days and the code-flow
 * refresh token never expires, comes back unchanged and must be used at least every 7 days.
 */
import { ProviderError } from '../domain/errors';
import type { TokenSet } from '../domain/model';
import type { OAuthBehaviour, ProviderBehaviour, ProviderResponse, RenewalCadence } from '../domain/ports';
import { defineProvider, type ProviderConfig } from './definition';
import { authorizationUrl, jsonObject, jsonPost, parseTokenBody, tokenEndpointFailure } from './oauth2';

/** The broker's read-only default scopes (`SQUARE_SCOPES` replaces them). */
export const DEFAULT_SQUARE_SCOPES = [
  'MERCHANT_PROFILE_READ',
  'ITEMS_READ',
  'INVENTORY_READ',
  'ORDERS_READ',
  'PAYMENTS_READ',
  'CUSTOMERS_READ',
] as const;

/**
 * Square advises renewing every 7 days or less (docs: refresh-revoke-limit-scope); its code-flow
 * refresh token states no expiry, so this cadence always applies.
 */
const SQUARE_RENEWAL: RenewalCadence = Object.freeze({
  everySeconds: 7 * 86_400,
  basis: 'Square advises refreshing every 7 days or less (docs)',
});

/**
 * Square does not document its limits ("we don't document the limits", Square staff); 429s appear
 * to count per application. A weekly refresh per seller needs little: 2 a second covers 1.2 million
 * sellers a week. Inference.
 */
const SQUARE_PACING = Object.freeze({
  concurrency: 2,
  perSecond: 2,
  basis: 'limits undocumented, counted per application; weekly refresh per seller (inference)',
});

/**
 * Error codes that describe the grant and nothing else: no wrong client id or secret can produce
 * them. Square documents none for /oauth2/token; these are the RFC 6749 code and the v2 codes for a
 * revoked or expired authorization (inference).
 */
const DEAD_GRANT_CODES = new Set(['invalid_grant', 'ACCESS_TOKEN_REVOKED', 'ACCESS_TOKEN_EXPIRED']);

type SquareSetting = 'authorizeUrl' | 'tokenUrl' | 'apiBaseUrl';

/**
 * Classifies a non-2xx token-endpoint answer. Square answers in the legacy shape
 * `{"message","type"}` (401 `service.not_authorized`, 400 `bad_request…`) or the v2 shape
 * `{"errors":[{"code"}]}`. A 401 `service.not_authorized` is what a wrong client secret gets, and
 * Square does not document what a dead refresh token gets: taking these for a dead grant would
 * mark every connection `reauthorization_required` after one bad secret rotation, and the retailers
 * would all have to connect again. So only a code naming the grant counts as one; any other 4xx is
 * `invalid_client`, which keeps the connection and alerts the operator. The price: a seller's own
 * revocation shows as a failing refresh (`invalid_client`), not as `reauthorization_required`.
 */
export function squareTokenFailure(response: ProviderResponse): ProviderError {
  const { status } = response;
  if (status === 429 || status >= 500) return tokenEndpointFailure(response);
  const body = jsonObject(response.body);
  const errors = Array.isArray(body?.errors) ? (body.errors as unknown[]) : [];
  const codes = [
    body?.error,
    body?.type,
    ...errors.map((entry) =>
      typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).code : undefined,
    ),
  ].filter((code): code is string => typeof code === 'string' && /^[\w. -]{1,64}$/.test(code));
  const dead = codes.find((code) => DEAD_GRANT_CODES.has(code));
  if (dead !== undefined) {
    return new ProviderError('invalid_grant', `the provider refused the grant (${dead})`, {
      status,
      providerError: dead,
    });
  }
  const providerError = codes[0];
  return new ProviderError(
    'invalid_client',
    `token endpoint refused the broker's request with ${status}${providerError ? ` (${providerError})` : ''}`,
    { status, providerError },
  );
}

/** Epoch ms of an ISO 8601 date-time with a zone (`2006-01-02T15:04:05Z`), else undefined. */
function isoInstant(value: unknown): number | undefined {
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/.test(value)
  ) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Turns a token-endpoint response into tokens; throws a classified ProviderError otherwise. The
 * answer names the seller (`merchant_id`): on an exchange that is the account, on a refresh it must
 * be the account asked for.
 */
export function parseSquareTokenResponse(
  response: ProviderResponse,
  account: string | undefined,
): TokenSet & { account?: string } {
  if (response.status < 200 || response.status > 299) throw squareTokenFailure(response);
  return parseTokenBody(
    response,
    { field: 'merchant_id', expected: account },
    (body) => {
      const expiresAt = isoInstant(body.expires_at);
      return expiresAt === undefined ? undefined : (expiresAt - response.receivedAt) / 1000;
    },
    // Documented only for PKCE refresh tokens, which the broker does not use (unconfirmed field):
    // read when present, since a stated expiry only brings renewal earlier.
    (body) => isoInstant(body.refresh_token_expires_at),
  );
}

/** The `square` provider for a configuration (URLs and scopes are configurable for the sandbox, tests and demo). */
export function squareProvider({ settings, app }: ProviderConfig<SquareSetting>): ProviderBehaviour {
  const config = { ...settings, scopes: app?.scopes ?? DEFAULT_SQUARE_SCOPES };
  // No `Square-Version` header: it is optional and the app's version then applies (docs); a
  // hard-coded date would age, and the OAuth endpoints' fields have not changed across versions.
  const oauth: OAuthBehaviour = {
    // The code flow with the client secret, not PKCE: with PKCE Square treats the app as a public
    // client (no secret sent) and makes the refresh token single-use, so one lost answer would end
    // the connection. The code flow's refresh token survives a lost answer (it comes back unchanged).
    // The broker keeps its secret server-side; state, the browser binding and reference_changed
    // cover the code-interception risk PKCE addresses.
    pkce: false,
    renewal: SQUARE_RENEWAL,
    pacing: SQUARE_PACING,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, redirectUri, state }) {
      // `session=false` makes the seller log in, so the connection is made by the account they choose.
      return authorizationUrl(config.authorizeUrl, {
        client_id: clientId,
        scope: config.scopes.join(' '),
        session: 'false',
        state,
        redirect_uri: redirectUri,
      });
    },
    buildCodeExchange({ code, clientId, clientSecret, redirectUri }) {
      return jsonPost(config.tokenUrl, {
        client_id: clientId,
        client_secret: clientSecret,
        code,
        grant_type: 'authorization_code',
        redirect_uri: redirectUri,
      });
    },
    buildRefresh({ refreshToken, clientId, clientSecret }) {
      return jsonPost(config.tokenUrl, {
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
    },
    parseTokenResponse: parseSquareTokenResponse,
  };
  return {
    oauth,
    // One API host for every seller: the token decides whose data it is.
    apiBaseUrl: () => config.apiBaseUrl,
    // Personal access tokens exist (the Developer Dashboard's). RetrieveMerchant on the account
    // itself, not /oauth2/token/status or merchants/me: those accept any seller's token, while this
    // answers 404 for a seller the token does not know (inference: 403 is possible too, and the
    // domain takes 403 as valid). Personal tokens carry every permission, MERCHANT_PROFILE_READ too.
    verifyRequest: (account, token) => ({
      url: `${config.apiBaseUrl}/merchants/${encodeURIComponent(account)}`,
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    }),
  };
}

/** Square: OAuth code flow on one host; the seller is named by the token answer; personal tokens too. */
export const square = defineProvider({
  id: 'square',
  displayName: 'Square',
  account: {
    // Inference: the SDK allows 8–191 characters; every documented id is upper-case alphanumerics.
    pattern: /^[A-Z0-9]{8,32}$/,
    syntax: 'a Square merchant id (8 to 32 upper-case letters and digits)',
    description: 'Square merchant id',
    example: 'ML2PMZQ8XJ9Y3',
  },
  // Sandbox: https://connect.squareupsandbox.com in place of https://connect.squareup.com, in all three.
  settings: {
    authorizeUrl: { env: 'SQUARE_AUTHORIZE_URL', default: 'https://connect.squareup.com/oauth2/authorize' },
    tokenUrl: { env: 'SQUARE_TOKEN_URL', default: 'https://connect.squareup.com/oauth2/token' },
    apiBaseUrl: { env: 'SQUARE_API_BASE_URL', default: 'https://connect.squareup.com/v2' },
  },
  oauth: {
    portalName: 'Square Developer Dashboard',
    env: {
      clientId: 'SQUARE_CLIENT_ID',
      clientSecret: 'SQUARE_CLIENT_SECRET',
      clientSecretArn: 'SQUARE_CLIENT_SECRET_ARN',
      scopes: 'SQUARE_SCOPES',
    },
    context: 'square',
    scopes: {
      default: DEFAULT_SQUARE_SCOPES,
      pattern: /^[A-Z]+(?:_[A-Z]+)+$/,
      example: 'ITEMS_READ',
    },
  },
  personalTokens: true,
  create: squareProvider,
});
