/**
 * Clover (v2 OAuth, expiring tokens). The regional hosts become a path segment (`na`, `eu`, `la`,
 * `sandbox`); the callback carries `merchant_id`, `employee_id` and `client_id`; the code exchange
 * (`/oauth/v2/token`) takes a JSON body with client_id and client_secret (or a PKCE verifier for
 * low-trust apps); refreshes go to their own endpoint (`/oauth/v2/refresh`, client_id and
 * refresh_token only); lifetimes are stated as epoch seconds; refresh tokens are single use
 * (docs.clover.com, "use refresh token to generate new expiring token").
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, sendJson } from '../http';
import type { SimulatorProfile } from '../profile';
import { randomToken } from '../random';
import { RateWindows } from '../rate-limit';

export const CLOVER_REGIONS = ['na', 'eu', 'la', 'sandbox'] as const;
const MERCHANT_ID = /^[A-Z0-9]{13}$/;
// Inference: the docs give no lifetimes ("do not hard-code them"); their sample answer's refresh
// token outlives the access token by a year. 30 minutes for access tokens is our assumption.
const ACCESS_TOKEN_TTL_SECONDS = 30 * 60;
const REFRESH_TOKEN_TTL_SECONDS = 365 * 24 * 3600;
// Clover's documented API limit: 16 requests a second per access token; counted per merchant here.
const API_LIMIT_PER_SECOND = 16;

/** A 13-character upper-case id derived from `seed`, shaped like Clover's ids. */
function cloverId(seed: string): string {
  const alphabet = 'ABCDEFGHJKMNPQRSTVWXYZ0123456789';
  const digest = createHash('sha256').update(seed).digest();
  return [...digest.subarray(0, 13)].map((byte) => alphabet.charAt(byte % alphabet.length)).join('');
}

export function cloverProfile(): SimulatorProfile {
  const windows = new RateWindows(1000);
  const isRegion = (value: string | undefined): value is string =>
    CLOVER_REGIONS.some((region) => region === value);
  return {
    id: 'clover',
    copy: {
      productName: 'Clover',
      title: 'Connect your Clover merchant account',
      field: { name: 'merchant_id', label: 'Clover merchant id' },
    },
    accountSource: 'typed',
    account: {
      pattern: MERCHANT_ID,
      normalize: (typed) => typed.trim().toUpperCase(),
      invalidMessage: 'the merchant id must be 13 upper-case letters and digits',
      suggestion: 'DEMOMERCHANT1',
    },
    partitionValid: isRegion,
    // The app's permissions are set in its settings, not asked for in the URL.
    authorize: { scope: { mode: 'none' } },
    defaultAccessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    // Lengths vary on purpose: the docs warn that token lengths are not fixed.
    newToken: (kind) =>
      kind === 'code' ? randomToken(32) : randomToken(48 + Math.floor(Math.random() * 40)),
    route(segments) {
      const [region, first, second, third] = segments;
      if (!isRegion(region)) return undefined;
      if (segments.length === 4 && first === 'oauth' && second === 'v2' && third !== undefined) {
        if (third === 'authorize') return { kind: 'authorize', partition: region };
        if (third === 'token' || third === 'refresh')
          return { kind: 'token', endpoint: third, partition: region };
      }
      if (segments.length === 4 && first === 'v3' && second === 'merchants' && third !== undefined) {
        return { kind: 'api', partition: region, resource: [third] };
      }
      return undefined;
    },
    urls: (base) => ({
      authorizeUrl: `${base}/{region}/oauth/v2/authorize`,
      tokenUrl: `${base}/{region}/oauth/v2/token`,
      refreshUrl: `${base}/{region}/oauth/v2/refresh`,
      apiBaseUrl: `${base}/{region}`,
      verifyUrl: `${base}/{region}/v3/merchants/{merchant_id}`,
    }),
    callback: ({ code, account, request, clientId }) => ({
      merchant_id: account,
      employee_id: cloverId(`${account}/employee`),
      client_id: clientId,
      code,
      state: request.state,
    }),
    // Inference: the docs show no denial redirect.
    denial: (request) => ({ error: 'access_denied', state: request.state }),
    token: {
      encoding: 'json',
      wrongEncoding: 'refuse',
      grantOf: (endpoint) => (endpoint === 'refresh' ? 'refresh_token' : 'authorization_code'),
      clientAuth: (grant) => (grant === 'refresh_token' ? 'id' : 'secret-unless-pkce'),
      exchangeRedirectUri: 'ignored',
      refreshPolicy: () => 'rotate',
      refreshTokenTtlSeconds: () => REFRESH_TOKEN_TTL_SECONDS,
      answer(answer) {
        const seconds = Math.floor(answer.issuedAt / 1000);
        const body: Record<string, unknown> = {
          access_token: answer.accessToken,
          access_token_expiration: seconds + (answer.accessTokenTtlSeconds ?? 0),
        };
        if (answer.refreshToken !== undefined) {
          body.refresh_token = answer.refreshToken;
          if (answer.refreshTokenExpiresAt !== undefined)
            body.refresh_token_expiration = Math.floor(answer.refreshTokenExpiresAt / 1000);
        }
        return body;
      },
      // The answer names no merchant: a foreign_account fault moves the tokens to the other one.
      nameAccount: () => false,
      // Inference: Clover documents no token-endpoint error body; its API answers `{message}`.
      error: (error) => ({ status: error.status, body: { message: error.description } }),
    },
    api(req: IncomingMessage, res: ServerResponse, route, context): void {
      const check = context.checkAccessToken(bearerToken(req), route.partition);
      const merchantId = route.resource[0];
      if (!check.ok || check.account !== merchantId) {
        sendJson(res, 401, { message: '401 Unauthorized' });
        return;
      }
      const hit = windows.hit(merchantId, context.now, API_LIMIT_PER_SECOND);
      if (hit.over) {
        sendJson(res, 429, { message: '429 Too Many Requests' }, { 'retry-after': '1' });
        return;
      }
      sendJson(res, 200, {
        href: `https://api.clover.com/v3/merchants/${merchantId}`,
        id: merchantId,
        name: `Demo merchant ${merchantId}`,
        owner: {
          href: `https://api.clover.com/v3/merchants/${merchantId}/employees`,
          id: cloverId(`${merchantId}/employee`),
        },
        isBillable: true,
      });
    },
  };
}
