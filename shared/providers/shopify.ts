/**
 * Shopify Admin API with expiring offline tokens, provider id `shopify`. Facts in docs/providers.md
 * ("Shopify, Square, Clover, Lightspeed R-Series"): the shop is the host of every OAuth URL, so it
 * is known before authorization; callbacks and install starts are signed with an HMAC of the query;
 * JSON token requests; `expiring: 1` asks for a 1-hour access token with a 90-day refresh token that
 * rotates on every refresh.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DNS_LABEL_ACCOUNT, type TokenSet } from '../domain/model';
import type { OAuthBehaviour, ProviderBehaviour, ProviderResponse, RenewalCadence } from '../domain/ports';
import { defineProvider, type ProviderConfig } from './definition';
import { authorizationUrl, expiresInField, jsonPost, parseTokenBody, tokenEndpointFailure } from './oauth2';

/** The broker's read-only default scopes (`SHOPIFY_SCOPES` replaces them). */
export const DEFAULT_SHOPIFY_SCOPES = [
  'read_locations',
  'read_products',
  'read_inventory',
  'read_orders',
  'read_customers',
] as const;

/** How far a signed query's `timestamp` may be from now (the SDK's tolerance, in seconds). */
export const SHOPIFY_HMAC_TOLERANCE_SECONDS = 90;

/**
 * Only used when an answer states no `refresh_token_expires_in`: the documented refresh-token life
 * is 90 days, so refreshing at least every 30 days leaves two chances before it ends.
 */
const SHOPIFY_RENEWAL: RenewalCadence = Object.freeze({
  everySeconds: 30 * 86_400,
  basis: 'refresh tokens last 90 days (Shopify docs): at least every 30 days when an answer states none',
});

/**
 * The token endpoint's limit is undocumented; Shopify's documented limits count per app and store
 * (the REST bucket leaks 2 requests/s), and each shop sees one refresh an hour. Access tokens last an
 * hour, so the sweep refreshes every shop hourly: 8 at once and at most 50 a second cover 180,000
 * shops. Inference; lower it if Shopify answers 429.
 */
const SHOPIFY_PACING = Object.freeze({
  concurrency: 8,
  perSecond: 50,
  basis: 'token-endpoint limit undocumented, limits count per store; hourly refresh per shop (inference)',
});

/** `{shop}.myshopify.com`, as Shopify's callbacks and install starts name the shop. */
const SHOP_DOMAIN = /^([a-z0-9][a-z0-9-]*)\.myshopify\.com$/i;

type ShopifySetting = 'authorizeUrl' | 'tokenUrl' | 'apiBaseUrl';

/** Fills the shop into a URL template; `{shop}` may stand anywhere (host or path, for the simulator). */
const fillShop = (template: string, shop: string): string => template.replaceAll('{shop}', shop);

/**
 * The shop a `shop` parameter names: `{label}.myshopify.com` → `label` (lower-cased: host names are
 * case-insensitive). The SDK also accepts shopify.com, myshopify.io and shop.dev hosts; the broker
 * accepts only myshopify.com (stricter, inference).
 */
export function parseShopDomain(value: string): string | undefined {
  const match = SHOP_DOMAIN.exec(value);
  return match?.[1]?.toLowerCase();
}

/**
 * The string Shopify signs: every parameter but `hmac` and `signature`, keys sorted as the SDK sorts
 * them (`localeCompare`; for the lower-case names Shopify sends this is plain lexicographic order),
 * serialized by URLSearchParams with `+` written as `%20` (SDK hmac-validator.ts, processed-query.ts).
 */
export function shopifySignedString(query: Readonly<Record<string, string | undefined>>): string {
  const params = new URLSearchParams();
  const keys = Object.keys(query)
    .filter((key) => key !== 'hmac' && key !== 'signature' && query[key] !== undefined)
    .sort((a, b) => a.localeCompare(b));
  for (const key of keys) params.append(key, query[key] as string);
  return params.toString().replace(/\+/g, '%20');
}

/**
 * Checks a Shopify-signed query (OAuth callback or install start): the HMAC-SHA256 hex of the signed
 * string under the client secret, compared in constant time, and a timestamp within 90 s of `now`.
 * Resolves why it is refused (never naming the secret or the hmac), or undefined when it holds.
 */
export function verifyShopifyQuery(
  query: Readonly<Record<string, string | undefined>>,
  clientSecret: string,
  now: number,
): string | undefined {
  const { hmac, timestamp } = query;
  if (hmac === undefined || hmac === '') return 'missing hmac';
  // The SDK lets a missing timestamp through (NaN compares false); the broker requires one.
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return 'missing or malformed timestamp';
  if (Math.abs(now / 1000 - Number(timestamp)) > SHOPIFY_HMAC_TOLERANCE_SECONDS) {
    return `timestamp more than ${SHOPIFY_HMAC_TOLERANCE_SECONDS} s from now`;
  }
  if (!/^[0-9a-f]{64}$/i.test(hmac)) return 'malformed hmac';
  const expected = createHmac('sha256', clientSecret).update(shopifySignedString(query)).digest();
  // Both sides are 32 bytes here, as timingSafeEqual requires.
  if (!timingSafeEqual(expected, Buffer.from(hmac, 'hex'))) return 'hmac does not match';
  return undefined;
}

/**
 * Turns a token-endpoint response into tokens; throws a classified ProviderError otherwise. The
 * answer names no shop (the request's host did); 400 `invalid_grant` is a dead refresh token (per a
 * third-party report; Shopify's pages do not show the body: unconfirmed, RFC 6749 shape assumed).
 */
export function parseShopifyTokenResponse(response: ProviderResponse): TokenSet {
  if (response.status < 200 || response.status > 299) throw tokenEndpointFailure(response);
  return parseTokenBody(
    response,
    undefined,
    (body) => expiresInField(body.expires_in),
    (body) => {
      const seconds = expiresInField(body.refresh_token_expires_in);
      return seconds === undefined ? undefined : response.receivedAt + seconds * 1000;
    },
  );
}

/** The `shopify` provider for a configuration (URL templates and scopes are configurable for tests and demo). */
export function shopifyProvider({ settings, app }: ProviderConfig<ShopifySetting>): ProviderBehaviour {
  const config = { ...settings, scopes: app?.scopes ?? DEFAULT_SHOPIFY_SCOPES };
  const shopOf = (account: string | undefined, what: string): string => {
    if (account === undefined) throw new Error(`a Shopify ${what} needs the shop`);
    return account;
  };
  const oauth: OAuthBehaviour = {
    callbackAccount: { parameter: 'shop', parse: parseShopDomain },
    // Shopify's authorization-code grant takes no PKCE (docs); the HMAC, state and browser binding
    // protect the callback, and reference_changed reports a moved account.
    pkce: false,
    verifyCallback: verifyShopifyQuery,
    renewal: SHOPIFY_RENEWAL,
    pacing: SHOPIFY_PACING,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, redirectUri, state, account }) {
      // No `grant_options[]`: without `per-user` Shopify issues the offline token the broker keeps.
      return authorizationUrl(fillShop(config.authorizeUrl, shopOf(account, 'authorization')), {
        client_id: clientId,
        scope: config.scopes.join(','),
        redirect_uri: redirectUri,
        state,
      });
    },
    buildCodeExchange({ account, code, clientId, clientSecret }) {
      // `expiring: 1`: without it Shopify issues a non-expiring token with no refresh token.
      return jsonPost(fillShop(config.tokenUrl, shopOf(account, 'code exchange')), {
        client_id: clientId,
        client_secret: clientSecret,
        code,
        expiring: 1,
      });
    },
    buildRefresh({ account, refreshToken, clientId, clientSecret }) {
      return jsonPost(fillShop(config.tokenUrl, account), {
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
    },
    parseTokenResponse: parseShopifyTokenResponse,
  };
  return {
    oauth,
    apiBaseUrl: (account) => fillShop(config.apiBaseUrl, account),
    // Custom apps' Admin API tokens are static tokens a shop owner copies: personal tokens here.
    // shop.json is the smallest authenticated read (REST is legacy since 2024-10 but still served).
    verifyRequest: (account, token) => ({
      url: `${fillShop(config.apiBaseUrl, account)}/shop.json`,
      method: 'GET',
      headers: { 'x-shopify-access-token': token, accept: 'application/json' },
    }),
  };
}

/** Shopify: OAuth on the shop's own host, signed callbacks and installs; custom-app tokens too. */
export const shopify = defineProvider({
  id: 'shopify',
  displayName: 'Shopify',
  account: {
    ...DNS_LABEL_ACCOUNT,
    description: 'Shopify shop name (the label before .myshopify.com)',
    example: 'demo-shop',
  },
  // Templates with `{shop}`, anywhere in the URL (the simulator serves `/_sim/shopify/{shop}/admin/...`).
  settings: {
    authorizeUrl: {
      env: 'SHOPIFY_AUTHORIZE_URL',
      default: 'https://{shop}.myshopify.com/admin/oauth/authorize',
    },
    tokenUrl: {
      env: 'SHOPIFY_TOKEN_URL',
      default: 'https://{shop}.myshopify.com/admin/oauth/access_token',
    },
    apiBaseUrl: {
      env: 'SHOPIFY_API_BASE_URL',
      default: 'https://{shop}.myshopify.com/admin/api/2026-10',
    },
  },
  oauth: {
    portalName: 'Shopify Partner Dashboard / Dev Dashboard',
    env: {
      clientId: 'SHOPIFY_CLIENT_ID',
      clientSecret: 'SHOPIFY_CLIENT_SECRET',
      clientSecretArn: 'SHOPIFY_CLIENT_SECRET_ARN',
      scopes: 'SHOPIFY_SCOPES',
    },
    context: 'shopify',
    // The shop is the authorization URL's host, and installs start in the Shopify admin (app URL).
    accountFirst: true,
    startsInstalls: true,
    scopes: {
      default: DEFAULT_SHOPIFY_SCOPES,
      // Space-separated in the variable, comma-separated on the wire.
      pattern: /^[a-z]+(?:_[a-z]+)+$/,
      example: 'read_products',
    },
  },
  personalTokens: true,
  create: shopifyProvider,
});
