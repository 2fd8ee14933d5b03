/**
 * Lightspeed Retail X-Series (formerly Vend), provider id `lightspeed-x`. Facts in
 * ../shared/docs/providers.md: form-encoded token requests to a per-store host, scopes required on
 * authorization, refresh-token rotation since March 2025 (older answers carry no refresh_token),
 * `expires` and `expires_in` that disagree (expiry comes from `expires_in` at receipt).
 */

import type { LightspeedConfig } from '../config';
import type { TokenSet } from '../domain/model';
import type { OAuthAdapter, ProviderDefinition, ProviderResponse } from '../domain/ports';
import { expiresInField, formPost, parseTokenBody, tokenEndpointFailure } from './oauth2';

const fillPrefix = (template: string, account: string): string =>
  template.replaceAll('{domain_prefix}', account);

/**
 * Turns a token-endpoint response for `account` into tokens; throws a classified ProviderError
 * otherwise (bounds and salvage rules in oauth2.ts, `parseTokenBody`).
 */
export function parseLightspeedTokenResponse(response: ProviderResponse, account: string): TokenSet {
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
export function lightspeedProvider(config: LightspeedConfig): ProviderDefinition {
  const oauth: OAuthAdapter = {
    callbackAccountParameter: 'domain_prefix',
    // X-Series does not support PKCE (providers.md); the reference_changed event covers the gap.
    pkce: false,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, redirectUri, state }) {
      const url = new URL(config.authorizeUrl);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
        scope: config.scopes.join(' '),
      }).toString();
      return url.toString();
    },
    buildCodeExchange({ account, code, clientId, clientSecret, redirectUri }) {
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
    id: 'lightspeed-x',
    displayName: 'Lightspeed Retail X-Series',
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
