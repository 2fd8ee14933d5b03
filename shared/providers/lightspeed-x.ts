/**
 * Lightspeed Retail X-Series (formerly Vend), provider id `lightspeed-x`. Facts in
 * ../shared/docs/providers.md: form-encoded token requests to a per-store host, scopes required on
 * authorization, refresh-token rotation since March 2025 (older answers carry no refresh_token),
 * `expires` and `expires_in` that disagree (expiry comes from `expires_in` at receipt).
 */
import { DNS_LABEL_ACCOUNT, type TokenSet } from '../domain/model';
import type { OAuthBehaviour, ProviderBehaviour, ProviderResponse } from '../domain/ports';
import { UNSTATED_RENEWAL } from '../domain/renewal';
import { defineProvider, type ProviderConfig } from './definition';
import { authorizationUrl, expiresInField, formPost, parseTokenBody, tokenEndpointFailure } from './oauth2';

/** The broker's read-only default scopes (`LIGHTSPEED_X_SCOPES` replaces them). */
export const DEFAULT_LIGHTSPEED_SCOPES = [
  'outlets:read',
  'products:read',
  'inventory:read',
  'sales:read',
  'customers:read',
] as const;

/**
 * The token endpoint's limit counts per retailer in 5-minute windows and is smaller than the API's
 * (providers.md, rate limits), and each retailer sees one refresh a day; no app-wide number is
 * published, so the concurrency is the bound: 8 at once, at most 100 a second (8.6M a day, room for
 * the 1M and 10M connections of docs/capacity.md). Inference.
 */
const LIGHTSPEED_X_PACING = Object.freeze({
  concurrency: 8,
  perSecond: 100,
  basis: 'per-retailer token-endpoint limit, one refresh a day each; no app-wide limit published (inference)',
});

type LightspeedSetting = 'authorizeUrl' | 'tokenUrl' | 'apiBaseUrl';

const fillPrefix = (template: string, account: string): string =>
  template.replaceAll('{domain_prefix}', account);

/**
 * Turns a token-endpoint response for `account` into tokens; throws a classified ProviderError
 * otherwise (bounds and salvage rules in oauth2.ts, `parseTokenBody`).
 */
export function parseLightspeedTokenResponse(
  response: ProviderResponse,
  account: string | undefined,
): TokenSet {
  if (response.status < 200 || response.status > 299) throw tokenEndpointFailure(response);
  // Refresh answers carry domain_prefix (providers.md); an exchange answer may, and then must agree.
  return parseTokenBody(response, { field: 'domain_prefix', expected: account }, (body) =>
    lightspeedLifetime(body.expires_in, body.expires, response.receivedAt),
  );
}

/**
 * Lifetime in seconds from `expires_in`. Only when it is missing, fall back to the absolute
 * `expires` if it lies in the future: a token without a known expiry would never be refreshed
 * ahead of time.
 */
function lightspeedLifetime(expiresIn: unknown, expires: unknown, receivedAt: number): number | undefined {
  const relative = expiresInField(expiresIn);
  if (relative !== undefined) return relative;
  if (typeof expires === 'number' && Number.isFinite(expires)) return (expires * 1000 - receivedAt) / 1000;
  return undefined;
}

/** The `lightspeed-x` provider for a configuration (URLs and scopes are configurable for tests and demo). */
export function lightspeedProvider({ settings, app }: ProviderConfig<LightspeedSetting>): ProviderBehaviour {
  const config = { ...settings, scopes: app?.scopes ?? DEFAULT_LIGHTSPEED_SCOPES };
  const oauth: OAuthBehaviour = {
    callbackAccount: { parameter: 'domain_prefix' },
    // X-Series does not support PKCE (providers.md); the reference_changed event covers the gap.
    pkce: false,
    renewal: UNSTATED_RENEWAL,
    pacing: LIGHTSPEED_X_PACING,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, redirectUri, state }) {
      return authorizationUrl(config.authorizeUrl, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
        scope: config.scopes.join(' '),
      });
    },
    buildCodeExchange({ account, code, clientId, clientSecret, redirectUri }) {
      if (account === undefined) throw new Error('a Lightspeed code exchange needs the domain prefix');
      return formPost(fillPrefix(config.tokenUrl, account), {
        code,
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: 'authorization_code',
        redirect_uri: redirectUri,
      });
    },
    buildRefresh({ account, refreshToken, clientId, clientSecret }) {
      return formPost(fillPrefix(config.tokenUrl, account), {
        refresh_token: refreshToken,
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: 'refresh_token',
      });
    },
    parseTokenResponse: parseLightspeedTokenResponse,
  };
  return {
    oauth,
    unapprovedAppStoreLimit: 30,
    apiBaseUrl: (account) => fillPrefix(config.apiBaseUrl, account),
    // The smallest authenticated read; personal and private-app tokens are sent like OAuth tokens.
    verifyRequest: (account, token) => ({
      url: `${fillPrefix(config.apiBaseUrl, account)}/2.0/outlets?page_size=1`,
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    }),
  };
}

/** Lightspeed Retail X-Series: OAuth with a per-store token host; personal tokens work too. */
export const lightspeedX = defineProvider({
  id: 'lightspeed-x',
  displayName: 'Lightspeed Retail X-Series',
  account: { ...DNS_LABEL_ACCOUNT, description: 'Lightspeed domain prefix', example: 'demo-store' },
  settings: {
    authorizeUrl: {
      env: 'LIGHTSPEED_X_AUTHORIZE_URL',
      default: 'https://secure.retail.lightspeed.app/connect',
    },
    // Templates with `{domain_prefix}`.
    tokenUrl: {
      env: 'LIGHTSPEED_X_TOKEN_URL',
      default: 'https://{domain_prefix}.retail.lightspeed.app/api/1.0/token',
    },
    apiBaseUrl: {
      env: 'LIGHTSPEED_X_API_BASE_URL',
      default: 'https://{domain_prefix}.retail.lightspeed.app/api',
    },
  },
  oauth: {
    portalName: 'Lightspeed Retail (X-Series)',
    env: {
      clientId: 'LIGHTSPEED_X_CLIENT_ID',
      clientSecret: 'LIGHTSPEED_X_CLIENT_SECRET',
      clientSecretArn: 'LIGHTSPEED_X_CLIENT_SECRET_ARN',
      scopes: 'LIGHTSPEED_X_SCOPES',
    },
    context: 'lightspeed',
    scopes: {
      default: DEFAULT_LIGHTSPEED_SCOPES,
      pattern: /^[a-z_]+(?::[a-z_]+)*$/,
      example: 'products:read',
      requiredBecause: 'Lightspeed refuses none',
    },
  },
  personalTokens: true,
  create: lightspeedProvider,
});
