/**
 * Clover, provider id `clover` (v2 OAuth, expiring tokens). Facts in docs/providers.md ("Shopify,
 * Square, Clover, Lightspeed R-Series"): authorization on the `www.` host, token and refresh on the
 * `api.` host of a region; JSON bodies; the callback names the merchant (`merchant_id`); answers
 * state both expiries as epoch seconds and nothing else; refresh tokens are single-use and the
 * refresh call carries no client secret.
 *
 * Regions (docs): NA `www.clover.com` / `api.clover.com` (the defaults), EU `www.eu.clover.com` /
 * `api.eu.clover.com`, LA `www.la.clover.com` / `api.la.clover.com`, sandbox `sandbox.dev.clover.com`
 * / `apisandbox.dev.clover.com`. Docs badge Asia Pacific without a host (unconfirmed).
 */
import { ProviderError } from '../domain/errors';
import type { TokenSet } from '../domain/model';
import type { OAuthBehaviour, ProviderBehaviour, ProviderResponse } from '../domain/ports';
import { UNSTATED_RENEWAL } from '../domain/renewal';
import { defineProvider, type ProviderConfig } from './definition';
import { authorizationUrl, expiresInField, jsonPost, parseTokenBody, tokenEndpointFailure } from './oauth2';

/**
 * Docs: 50 requests/s and 10 concurrent per app (16/s and 5 concurrent per token). The token
 * endpoints are called without a token, so they count against the app, which the services using
 * the tokens share: the sweep takes half the concurrency and a fifth of the rate.
 */
const CLOVER_PACING = Object.freeze({
  concurrency: 5,
  perSecond: 10,
  basis: 'docs: 50 requests/s and 10 concurrent per app, shared with API calls',
});

type CloverSetting = 'authorizeUrl' | 'tokenUrl' | 'refreshUrl' | 'apiBaseUrl';

const fillMerchant = (template: string, account: string): string =>
  template.replaceAll('{merchant_id}', account);

/** Epoch ms of an epoch-seconds field (a number or a string of digits), else undefined. */
function epochSeconds(value: unknown): number | undefined {
  const seconds = expiresInField(value);
  return seconds === undefined ? undefined : seconds * 1000;
}

/**
 * Turns a token or refresh response into tokens; throws a classified ProviderError otherwise. The
 * answer names no merchant. Error bodies are undocumented (unconfirmed). The refresh endpoint takes
 * no secret, only the client id and the refresh token, and its refresh tokens are single use: a
 * 400 or 401 there refuses the refresh token (`invalid_grant`, after the protocol's re-read), since
 * no client secret is at stake; on the exchange any 4xx but an explicit `invalid_grant` is
 * `invalid_client`, so a wrong secret reads as what it is. Inference.
 */
export function parseCloverTokenResponse(
  response: ProviderResponse,
  _account?: string | undefined,
  grant: 'authorization_code' | 'refresh_token' = 'authorization_code',
): TokenSet {
  const { status } = response;
  if (grant === 'refresh_token' && (status === 400 || status === 401)) {
    return refusedRefresh(response);
  }
  if (status < 200 || status > 299) throw tokenEndpointFailure(response);
  return parseTokenBody(
    response,
    undefined,
    (body) => {
      const expiresAt = epochSeconds(body.access_token_expiration);
      return expiresAt === undefined ? undefined : (expiresAt - response.receivedAt) / 1000;
    },
    (body) => epochSeconds(body.refresh_token_expiration),
  );
}

function refusedRefresh(response: ProviderResponse): never {
  const failure = tokenEndpointFailure(response);
  throw new ProviderError('invalid_grant', `the provider refused the refresh token (${response.status})`, {
    ...failure.details,
  });
}

/** The `clover` provider for a configuration (URLs are configurable for the regions, sandbox, tests and demo). */
export function cloverProvider({ settings, app }: ProviderConfig<CloverSetting>): ProviderBehaviour {
  const config = { ...settings, scopes: app?.scopes ?? [] };
  const oauth: OAuthBehaviour = {
    callbackAccount: { parameter: 'merchant_id' },
    // A high-trust app (it has a secret) sends the secret; PKCE is Clover's flow for low-trust apps,
    // which send the verifier instead of the secret (docs). Both at once is not documented.
    pkce: false,
    // Answers state the refresh-token expiry; the cadence only covers one that does not (inference).
    renewal: UNSTATED_RENEWAL,
    pacing: CLOVER_PACING,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, redirectUri, state }) {
      // Clover's example carries client_id and redirect_uri only; `response_type=code` is RFC 6749's
      // and costs nothing. Whether Clover echoes `state` is unconfirmed, and the broker's callback
      // cannot complete without it.
      return authorizationUrl(config.authorizeUrl, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
      });
    },
    buildCodeExchange({ code, clientId, clientSecret }) {
      return jsonPost(config.tokenUrl, { client_id: clientId, client_secret: clientSecret, code });
    },
    // Clover's refresh takes no client secret (docs).
    buildRefresh({ refreshToken, clientId }) {
      return jsonPost(config.refreshUrl, { client_id: clientId, refresh_token: refreshToken });
    },
    parseTokenResponse: parseCloverTokenResponse,
  };
  return {
    oauth,
    apiBaseUrl: (account) => fillMerchant(config.apiBaseUrl, account),
    // Merchants can create API tokens in their dashboard. The merchant itself: a token of another
    // merchant is refused there (401/403 assumed: inference).
    verifyRequest: (account, token) => ({
      url: fillMerchant(config.apiBaseUrl, account),
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    }),
  };
}

/** Clover: v2 OAuth with expiring tokens per region; the callback names the merchant; API tokens too. */
export const clover = defineProvider({
  id: 'clover',
  displayName: 'Clover',
  account: {
    // Inference: every documented merchant id is 13 upper-case letters and digits.
    pattern: /^[A-Z0-9]{13}$/,
    syntax: 'a Clover merchant id (13 upper-case letters and digits)',
    description: 'Clover merchant id',
    example: '4GVWQ4FRDSHB1',
  },
  settings: {
    authorizeUrl: { env: 'CLOVER_AUTHORIZE_URL', default: 'https://www.clover.com/oauth/v2/authorize' },
    tokenUrl: { env: 'CLOVER_TOKEN_URL', default: 'https://api.clover.com/oauth/v2/token' },
    refreshUrl: { env: 'CLOVER_REFRESH_URL', default: 'https://api.clover.com/oauth/v2/refresh' },
    // A template with `{merchant_id}`.
    apiBaseUrl: { env: 'CLOVER_API_BASE_URL', default: 'https://api.clover.com/v3/merchants/{merchant_id}' },
  },
  oauth: {
    portalName: 'Clover Developer Dashboard',
    env: {
      clientId: 'CLOVER_CLIENT_ID',
      clientSecret: 'CLOVER_CLIENT_SECRET',
      clientSecretArn: 'CLOVER_CLIENT_SECRET_ARN',
      scopes: 'CLOVER_SCOPES',
    },
    context: 'clover',
    // Clover's permissions are set on the app in the Developer Dashboard, not asked for in the
    // authorization: none by default, and the broker sends none (the variable only documents them).
    scopes: {
      default: [],
      pattern: /^[A-Z]+(?:_[A-Z]+)*$/,
      example: 'INVENTORY_R',
    },
  },
  personalTokens: true,
  create: cloverProvider,
});
