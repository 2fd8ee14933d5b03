/**
 * Shopify (Admin API, expiring offline tokens). The per-shop host `{shop}.myshopify.com` becomes a
 * path segment (tests run on 127.0.0.1): `{root}/{shop}/admin/oauth/authorize`, `…/access_token`,
 * `…/admin/api/{version}/shop.json`. The callback is signed with the client secret (hmac); the code
 * exchange asks for expiring tokens with `expiring=1`; every refresh rotates, and since 2026-08 the
 * previous refresh token stays valid until the new access or refresh token is first used
 * (shopify.dev changelog, "more resilient refreshes for expiring offline access tokens").
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http';
import { LeakyBuckets } from '../leaky-bucket';
import { rfc6749Error, type SimulatorProfile, type TokenError } from '../profile';
import { DOMAIN_PREFIX_PATTERN } from '../random';

export const SHOPIFY_API_VERSION = '2026-10';
const REFRESH_TOKEN_TTL_SECONDS = 90 * 24 * 3600;
// REST Admin API, standard plan: a bucket of 40 calls per app and store, leaking 2 a second.
const BUCKET_SIZE = 40;
const LEAK_PER_SECOND = 2;

/**
 * The hmac Shopify puts on a callback or app URL: hex HMAC-SHA256 with the client secret over every
 * other parameter (not `hmac` or `signature`), sorted by name, as `name=value` joined with `&`, with
 * `%` and `&` escaped in values and `=` too in names (shopify.dev, "verify a request").
 */
export function shopifyHmac(params: Record<string, string> | URLSearchParams, clientSecret: string): string {
  const entries = params instanceof URLSearchParams ? [...params] : Object.entries(params);
  const escapePart = (value: string, isName: boolean) => {
    const escaped = value.replace(/%/g, '%25').replace(/&/g, '%26');
    return isName ? escaped.replace(/=/g, '%3D') : escaped;
  };
  const message = entries
    .filter(([name]) => name !== 'hmac' && name !== 'signature')
    .map(([name, value]) => `${escapePart(name, true)}=${escapePart(value, false)}`)
    .sort()
    .join('&');
  return createHmac('sha256', clientSecret).update(message).digest('hex');
}

/** The `host` parameter: base64 of the shop's admin URL without the scheme, unpadded. */
export function shopifyHost(shop: string): string {
  return Buffer.from(`admin.shopify.com/store/${shop}`).toString('base64').replace(/=+$/, '');
}

/** The signed query Shopify opens an app's URL with when a merchant installs or opens it from the admin. */
export function shopifySignedQuery(shop: string, clientSecret: string, now: number): Record<string, string> {
  const params = {
    host: shopifyHost(shop),
    shop: `${shop}.myshopify.com`,
    timestamp: String(Math.floor(now / 1000)),
  };
  return { ...params, hmac: shopifyHmac(params, clientSecret) };
}

function invalidRequest(description: string): TokenError {
  return { status: 400, error: 'invalid_request', description };
}

export function shopifyProfile(): SimulatorProfile {
  const buckets = new LeakyBuckets(BUCKET_SIZE, LEAK_PER_SECOND);
  return {
    id: 'shopify',
    copy: {
      productName: 'Shopify',
      title: 'Install app on Shopify',
      field: { name: 'shop', label: 'Shop', fixed: true },
    },
    accountSource: 'partition',
    account: {
      pattern: DOMAIN_PREFIX_PATTERN,
      normalize: (typed) => typed.trim().toLowerCase(),
      invalidMessage: 'shop must be the {shop} label of {shop}.myshopify.com',
      suggestion: 'demo-shop',
    },
    partitionValid: (partition) => DOMAIN_PREFIX_PATTERN.test(partition),
    // Scopes are comma-separated; there is no response_type.
    authorize: { requireResponseType: false, scopeSeparator: /[\s,]+/ },
    defaultAccessTokenTtlSeconds: 3600,
    newToken: (kind) =>
      kind === 'code'
        ? randomBytes(16).toString('hex')
        : `${kind === 'access' ? 'shpat' : 'shprt'}_${randomBytes(16).toString('hex')}`,
    route(segments) {
      const [shop, admin, area, fourth, fifth] = segments;
      if (shop === undefined || !DOMAIN_PREFIX_PATTERN.test(shop) || admin !== 'admin') return undefined;
      if (segments.length === 4 && area === 'oauth' && fourth === 'authorize') {
        return { kind: 'authorize', partition: shop };
      }
      if (segments.length === 4 && area === 'oauth' && fourth === 'access_token') {
        return { kind: 'token', endpoint: 'access_token', partition: shop };
      }
      if (segments.length === 5 && area === 'api' && fourth !== undefined && /^\d{4}-\d{2}$/.test(fourth)) {
        if (fifth === 'shop.json') return { kind: 'api', partition: shop, resource: ['shop.json'] };
      }
      return undefined;
    },
    urls: (base) => ({
      authorizeUrl: `${base}/{shop}/admin/oauth/authorize`,
      tokenUrl: `${base}/{shop}/admin/oauth/access_token`,
      apiBaseUrl: `${base}/{shop}/admin/api/${SHOPIFY_API_VERSION}`,
      verifyUrl: `${base}/{shop}/admin/api/${SHOPIFY_API_VERSION}/shop.json`,
    }),
    callback({ code, account, request, now, clientSecret }) {
      const params = {
        code,
        host: shopifyHost(account),
        shop: `${account}.myshopify.com`,
        state: request.state,
        timestamp: String(Math.floor(now / 1000)),
      };
      return { ...params, hmac: shopifyHmac(params, clientSecret) };
    },
    // Inference: Shopify documents no denial redirect (a merchant who declines simply does not install).
    denial: (request) => ({ error: 'access_denied', state: request.state }),
    token: {
      encoding: 'form-or-json',
      wrongEncoding: 'refuse',
      grantOf(_endpoint, params) {
        const grantType = params.get('grant_type');
        if (grantType === null) return 'authorization_code';
        if (grantType === 'refresh_token') return 'refresh_token';
        return {
          status: 400,
          error: 'unsupported_grant_type',
          description: 'grant_type must be refresh_token',
        };
      },
      clientAuth: () => 'secret',
      exchangeRedirectUri: 'ignored',
      checkExchange(params) {
        const expiring = params.get('expiring');
        if (expiring === null || expiring === '0') return { expiring: false };
        return expiring === '1' ? { expiring: true } : invalidRequest('expiring must be 0 or 1');
      },
      refreshPolicy: () => 'grace',
      refreshTokenTtlSeconds: () => REFRESH_TOKEN_TTL_SECONDS,
      answer(answer) {
        const scope = answer.scope.split(' ').join(',');
        if (answer.accessTokenTtlSeconds === undefined) return { access_token: answer.accessToken, scope };
        const body: Record<string, unknown> = {
          access_token: answer.accessToken,
          scope,
          expires_in: answer.accessTokenTtlSeconds,
        };
        if (answer.refreshToken !== undefined) {
          body.refresh_token = answer.refreshToken;
          body.refresh_token_expires_in = Math.round(
            ((answer.refreshTokenExpiresAt ?? answer.issuedAt) - answer.issuedAt) / 1000,
          );
        }
        return body;
      },
      // The answer names no shop: a foreign_account fault moves the tokens to the other shop.
      nameAccount: () => false,
      error: rfc6749Error,
    },
    api(req: IncomingMessage, res: ServerResponse, route, context): void {
      const shop = route.partition;
      const header = req.headers['x-shopify-access-token'];
      const token = typeof header === 'string' ? header : undefined;
      if (!context.checkAccessToken(token, shop).ok) {
        sendJson(res, 401, {
          errors: '[API] Invalid API key or access token (unrecognized login or wrong password)',
        });
        return;
      }
      const pour = buckets.pour(shop, context.now);
      const headers = { 'x-shopify-shop-api-call-limit': `${pour.level}/${pour.size}` };
      if (pour.over) {
        sendJson(
          res,
          429,
          {
            errors:
              'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.',
          },
          { ...headers, 'retry-after': '2.0' },
        );
        return;
      }
      sendJson(
        res,
        200,
        {
          shop: {
            id: stableNumber(shop),
            name: shop,
            email: `owner@${shop}.example`,
            domain: `${shop}.myshopify.com`,
            myshopify_domain: `${shop}.myshopify.com`,
            currency: 'USD',
            plan_name: 'basic',
          },
        },
        headers,
      );
    },
  };
}

/** A stable numeric id for a shop, as Shopify's are integers. */
function stableNumber(shop: string): number {
  let hash = 0;
  for (const char of shop) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_000_007;
  return 10_000_000 + hash;
}
