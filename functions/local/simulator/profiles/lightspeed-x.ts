/**
 * Lightspeed Retail X-Series (provider id `lightspeed-x`), as docs/providers.md describes it: the
 * retailer types the store's domain prefix on the consent page, every later URL names it, the token
 * endpoint takes form bodies and rotates refresh tokens, and the API counts calls per retailer in
 * 5-minute windows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, sendJson } from '../http';
import { lightspeedPayload } from '../payloads';
import { grantTypeOf, rfc6749Error, type SimulatorProfile } from '../profile';
import { DOMAIN_PREFIX_PATTERN, randomToken } from '../random';
import { RateWindows } from '../rate-limit';

// The API's limit counts per retailer in 5-minute windows.
const RATE_WINDOW_MS = 5 * 60 * 1000;
// The documented examples' `expires` and `expires_in` disagree; ours point past the real expiry so a
// client that trusts `expires` uses a dead token and its tests notice.
const EXPIRES_SKEW_SECONDS = 90;

export interface LightspeedXProfileOptions {
  /** Registers of every simulated retailer; the API allows 300 × registers + 50 calls per 5 minutes. Default 1. */
  registers?: number;
  /** Whether refresh responses rotate (new refresh_token, old one revoked). Default true. */
  rotateRefreshTokens?: boolean;
}

export function lightspeedXProfile(options: LightspeedXProfileOptions = {}): SimulatorProfile {
  const apiWindows = new RateWindows(RATE_WINDOW_MS);
  return {
    id: 'lightspeed-x',
    copy: {
      productName: 'Lightspeed Retail X-Series',
      title: 'Connect to Lightspeed Retail',
      field: { name: 'domain_prefix', label: 'Store domain prefix' },
    },
    accountSource: 'typed',
    partitionIsAccount: true,
    account: {
      pattern: DOMAIN_PREFIX_PATTERN,
      normalize: (typed) => typed.trim().toLowerCase(),
      invalidMessage: 'domainPrefix must be a DNS label (lower-case letters, digits, hyphens)',
      pageMessage:
        'Enter the store domain prefix: lower-case letters, digits and hyphens, starting and ending with a letter or digit.',
      suggestion: 'demo-store',
    },
    authorize: {},
    defaultAccessTokenTtlSeconds: 86_400,
    newToken: () => randomToken(40),
    route(segments) {
      const [first, second, third, fourth] = segments;
      if (segments.length === 1 && first === 'connect') return { kind: 'authorize', partition: '' };
      if (first === undefined || !DOMAIN_PREFIX_PATTERN.test(first) || second !== 'api') return undefined;
      if (segments.length === 4 && third === '1.0' && fourth === 'token') {
        return { kind: 'token', endpoint: 'token', partition: first };
      }
      if (segments.length >= 4 && third === '2.0' && segments.slice(3).every((segment) => segment !== '')) {
        return { kind: 'api', partition: first, resource: segments.slice(3) };
      }
      return undefined;
    },
    urls: (base) => ({
      authorizeUrl: `${base}/connect`,
      tokenUrl: `${base}/{domain_prefix}/api/1.0/token`,
      apiBaseUrl: `${base}/{domain_prefix}/api`,
    }),
    callback: ({ code, account, request }) => ({ code, domain_prefix: account, state: request.state }),
    // The real docs show no `state` on the denial, so it is there only on request.
    denial: (request, includeState) => ({
      error: 'access_denied',
      state: includeState ? request.state : undefined,
    }),
    token: {
      encoding: 'form',
      wrongEncoding: 'refuse',
      grantOf: (_endpoint, params) => grantTypeOf(params),
      clientAuth: () => 'secret',
      exchangeRedirectUri: 'required',
      // The legacy behaviour (no refresh_token in the response) never rotated.
      refreshPolicy: () => (options.rotateRefreshTokens === false ? { unchanged: 'omit' } : 'rotate'),
      answer(answer) {
        const ttl = answer.accessTokenTtlSeconds ?? 0;
        const body: Record<string, unknown> = {
          access_token: answer.accessToken,
          token_type: 'Bearer',
          expires: Math.floor(answer.issuedAt / 1000) + ttl + EXPIRES_SKEW_SECONDS,
          expires_in: ttl,
        };
        if (answer.refreshToken !== undefined) body.refresh_token = answer.refreshToken;
        if (answer.grant === 'refresh_token') {
          body.domain_prefix = answer.account;
          body.scope = answer.scope;
        }
        return body;
      },
      nameAccount(body, account) {
        body.domain_prefix = account;
        return true;
      },
      error: rfc6749Error,
    },
    api(req: IncomingMessage, res: ServerResponse, route, context): void {
      const domainPrefix = route.partition;
      if (!context.checkAccessToken(bearerToken(req), domainPrefix).ok) {
        sendJson(
          res,
          401,
          { error: 'Unauthorized', message: 'The access token is missing, invalid or expired' },
          { 'www-authenticate': 'Bearer' },
        );
        return;
      }
      const limit = 300 * (options.registers ?? 1) + 50;
      const hit = apiWindows.hit(domainPrefix, context.now, limit);
      if (hit.over) {
        const headers = { ...hit.headers, 'retry-after': new Date(hit.resetAt).toUTCString() };
        sendJson(res, 429, { error: 'Too Many Requests', message: 'Rate limiting enforced' }, headers);
        return;
      }
      sendJson(res, 200, lightspeedPayload(domainPrefix, route.resource.join('/')), hit.headers);
    },
  };
}
