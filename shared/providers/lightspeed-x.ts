/**
 * Lightspeed Retail X-Series (formerly Vend), provider id `lightspeed-x`. Facts in
 * ../shared/docs/providers.md: form-encoded token requests to a per-store host, scopes required on
 * authorization, refresh-token rotation since March 2025 (older answers carry no refresh_token),
 * `expires` and `expires_in` that disagree (expiry comes from `expires_in` at receipt).
 */
import type { LightspeedConfig } from '../config';
import { ProviderError } from '../domain/errors';
import type { TokenSet } from '../domain/model';
import { formPost, jsonObject, tokenEndpointFailure } from './oauth2';
import type { OAuthAdapter, ProviderDefinition, ProviderResponse } from './types';

const fillPrefix = (template: string, account: string): string =>
  template.replaceAll('{domain_prefix}', account);

/** Turns a token-endpoint response into tokens; throws a classified ProviderError otherwise. */
export function parseLightspeedTokenResponse(response: ProviderResponse): TokenSet {
  if (response.status < 200 || response.status > 299) throw tokenEndpointFailure(response);
  const body = jsonObject(response.body);
  const unreadable = (why: string) =>
    new ProviderError('transient', `unreadable token response: ${why}`, { status: response.status });
  if (body === undefined) throw unreadable('not a JSON object');
  const { access_token, refresh_token, expires_in, expires, token_type, scope } = body;
  if (typeof access_token !== 'string' || access_token === '') throw unreadable('no access_token');
  if (token_type !== undefined && String(token_type).toLowerCase() !== 'bearer') {
    throw unreadable(`token_type ${String(token_type)} is not Bearer`);
  }
  const expiresAt = computeExpiry(expires_in, expires, response.receivedAt);
  if (expiresAt === undefined) throw unreadable('no usable expires_in');
  return {
    accessToken: access_token,
    refreshToken: typeof refresh_token === 'string' && refresh_token !== '' ? refresh_token : undefined,
    expiresAt,
    scope: typeof scope === 'string' ? scope : undefined,
  };
}

/**
 * Expiry from `expires_in` at receipt. Only when it is missing, fall back to the absolute `expires`
 * if it lies in the future: a token without a known expiry would never be refreshed ahead of time.
 */
function computeExpiry(expiresIn: unknown, expires: unknown, receivedAt: number): number | undefined {
  const relative = typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
  if (typeof relative === 'number' && Number.isFinite(relative) && relative > 0) {
    return receivedAt + Math.floor(relative) * 1000;
  }
  if (typeof expires === 'number' && expires * 1000 > receivedAt) return expires * 1000;
  return undefined;
}

/** The `lightspeed-x` provider for a configuration (URLs and scopes are configurable for tests and demo). */
export function lightspeedProvider(config: LightspeedConfig): ProviderDefinition {
  const oauth: OAuthAdapter = {
    callbackAccountParameter: 'domain_prefix',
    // Refresh answers carry it (providers.md); an exchange answer may, and then must agree.
    tokenAccountField: 'domain_prefix',
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
