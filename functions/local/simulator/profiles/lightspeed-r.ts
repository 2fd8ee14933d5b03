/**
 * Lightspeed Retail R-Series. The authorize and token endpoints (cloud.lightspeedapp.com) and the
 * API (api.lightspeedapp.com) become the path segments `cloud` and `api`. The token endpoint takes
 * form bodies only (a JSON body reads as no parameters); refresh tokens are single use; sending
 * `scope` on a refresh is refused with invalid_grant; neither the callback nor the token answer
 * names the account, which comes from `GET /API/V3/Account.json`; the API counts calls in a leaky
 * bucket per account (60 units, draining 1 a second) and says so in `X-LS-API-Bucket-Level`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, sendJson } from '../http';
import { LeakyBuckets } from '../leaky-bucket';
import { grantTypeOf, type SimulatorProfile, type TokenError } from '../profile';
import { randomToken } from '../random';

const ACCOUNT_ID = /^[1-9][0-9]{2,11}$/;
const BUCKET_SIZE = 60;
const DRIP_RATE = 1;

/** The league/oauth2-server error body R-Series answers with. */
function leagueError(error: TokenError): { status: number; body: unknown } {
  return {
    status: error.status,
    body: { error: error.error, error_description: error.description, message: error.description },
  };
}

export function lightspeedRProfile(): SimulatorProfile {
  const buckets = new LeakyBuckets(BUCKET_SIZE, DRIP_RATE);
  return {
    id: 'lightspeed-r',
    copy: {
      productName: 'Lightspeed Retail R-Series',
      title: 'Connect to Lightspeed Retail (R-Series)',
      field: { name: 'account_id', label: 'Account id' },
    },
    accountSource: 'typed',
    account: {
      pattern: ACCOUNT_ID,
      normalize: (typed) => typed.trim(),
      invalidMessage: 'the account id must be 3-12 digits',
      suggestion: '123456',
    },
    authorize: { redirectUriOptional: true },
    defaultAccessTokenTtlSeconds: 3600,
    newToken: () => randomToken(40),
    route(segments) {
      const path = segments.join('/');
      if (path === 'cloud/auth/oauth/authorize') return { kind: 'authorize', partition: '' };
      if (path === 'cloud/auth/oauth/token') return { kind: 'token', endpoint: 'token', partition: '' };
      const [host, api, version, ...resource] = segments;
      if (host === 'api' && api === 'API' && version === 'V3' && resource.length > 0) {
        if (resource.every((segment) => segment !== '') && resource.at(-1)?.endsWith('.json') === true)
          return { kind: 'api', partition: '', resource };
      }
      return undefined;
    },
    urls: (base) => ({
      authorizeUrl: `${base}/cloud/auth/oauth/authorize`,
      tokenUrl: `${base}/cloud/auth/oauth/token`,
      apiBaseUrl: `${base}/api/API/V3`,
      verifyUrl: `${base}/api/API/V3/Account.json`,
    }),
    callback: ({ code, request }) => ({ code, state: request.state }),
    denial: (request) => ({
      error: 'access_denied',
      error_description: 'The resource owner or authorization server denied the request.',
      state: request.state,
    }),
    token: {
      encoding: 'form',
      wrongEncoding: 'empty',
      grantTypeFirst: true,
      grantOf: (_endpoint, params) => {
        const wanted = grantTypeOf(params);
        // league/oauth2-server names a missing grant_type unsupported, too.
        return typeof wanted === 'string' ? wanted : { ...wanted, error: 'unsupported_grant_type' };
      },
      clientAuth: () => 'secret',
      exchangeRedirectUri: 'if-sent',
      checkRefresh: (params) =>
        params.has('scope')
          ? { status: 400, error: 'invalid_grant', description: 'scope must not be sent on a refresh' }
          : undefined,
      refreshPolicy: () => 'rotate',
      answer(answer) {
        const body: Record<string, unknown> = {
          access_token: answer.accessToken,
          expires_in: answer.accessTokenTtlSeconds,
          token_type: 'bearer',
          scope: answer.scope,
        };
        if (answer.refreshToken !== undefined) body.refresh_token = answer.refreshToken;
        return body;
      },
      nameAccount: () => false,
      error: leagueError,
    },
    api(req: IncomingMessage, res: ServerResponse, route, context): void {
      const check = context.checkAccessToken(bearerToken(req), '');
      if (!check.ok) {
        sendJson(res, 401, {
          httpCode: '401',
          httpMessage: 'Unauthorized',
          message: 'Invalid access token.',
          errorClass: 'Exception',
        });
        return;
      }
      const accountId = check.account;
      const pour = buckets.pour(accountId, context.now);
      const headers = {
        'x-ls-api-bucket-level': `${pour.level}/${pour.size}`,
        'x-ls-api-drip-rate': String(DRIP_RATE),
        'x-ls-acct-id': accountId,
      };
      if (pour.over) {
        sendJson(
          res,
          429,
          {
            httpCode: '429',
            httpMessage: 'Too Many Requests',
            message: 'Rate Limit Exceeded',
            errorClass: 'Exception',
          },
          { ...headers, 'retry-after': String(pour.retryAfterSeconds) },
        );
        return;
      }
      const [first, second] = route.resource;
      if (route.resource.length === 1 && first === 'Account.json') {
        sendJson(
          res,
          200,
          {
            '@attributes': { count: '1' },
            Account: {
              accountID: accountId,
              name: `Demo store ${accountId}`,
              link: { '@attributes': { href: `/API/V3/Account/${accountId}` } },
            },
          },
          headers,
        );
        return;
      }
      if (first !== 'Account' || second !== accountId) {
        sendJson(
          res,
          403,
          { httpCode: '403', httpMessage: 'Forbidden', message: 'Not authorized for this account.' },
          headers,
        );
        return;
      }
      sendJson(res, 200, { '@attributes': { count: '0', offset: '0', limit: '100' } }, headers);
    },
  };
}
