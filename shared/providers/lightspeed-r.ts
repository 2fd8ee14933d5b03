/**
 * Lightspeed Retail R-Series, provider id `lightspeed-r`. Facts in docs/providers.md ("Shopify,
 * Square, Clover, Lightspeed R-Series"): one authorization server (`cloud.lightspeedapp.com`),
 * form-encoded token requests (JSON is refused), no `scope` on a refresh (refused with
 * invalid_grant), 1-hour access tokens, single-use refresh tokens. Neither the callback nor the
 * token answer names the account: one call to the Account endpoint does.
 */
import { ProviderError } from '../domain/errors';
import type { TokenSet } from '../domain/model';
import type { AccountLookup, OAuthBehaviour, ProviderBehaviour, ProviderResponse } from '../domain/ports';
import { UNSTATED_RENEWAL } from '../domain/renewal';
import { defineProvider, type ProviderConfig } from './definition';
import {
  authorizationUrl,
  expiresInField,
  formPost,
  jsonObject,
  parseTokenBody,
  tokenEndpointFailure,
} from './oauth2';
import { parseRetryAfter } from './retry-after';

/** The broker's default scopes (`LIGHTSPEED_R_SCOPES` replaces them); R-Series has no read-only ones. */
export const DEFAULT_LIGHTSPEED_R_SCOPES = ['employee:register', 'employee:inventory'] as const;

/** What an R-Series account id looks like: a numeric `accountID` (inference). */
const ACCOUNT_ID = /^[0-9]{1,12}$/;

/**
 * The API's leaky bucket is per account (60 units, 1 a second; a GET costs 1); the token endpoint's
 * limit is not published. Access tokens last an hour, so every account is refreshed hourly: 8 at
 * once and at most 50 a second cover 180,000 accounts, and the lookup after an exchange costs its
 * account one unit. Inference; lower it if Lightspeed answers 429.
 */
const LIGHTSPEED_R_PACING = Object.freeze({
  concurrency: 8,
  perSecond: 50,
  basis: 'per-account leaky bucket; token-endpoint limit unpublished; hourly refresh (inference)',
});

type LightspeedRSetting = 'authorizeUrl' | 'tokenUrl' | 'accountUrl' | 'apiBaseUrl';

/** Turns a token-endpoint response into tokens; throws a classified ProviderError otherwise (400 invalid_grant: dead grant). */
export function parseLightspeedRTokenResponse(response: ProviderResponse): TokenSet {
  if (response.status < 200 || response.status > 299) throw tokenEndpointFailure(response);
  return parseTokenBody(response, undefined, (body) => expiresInField(body.expires_in));
}

/**
 * The account an Account.json answer names: `{"Account": {"accountID": "123"}}`. A login reaching
 * several accounts would list them (`"Account": [...]`, inference from the API's XML-to-JSON
 * style): one is taken, several are refused, since the broker cannot tell which one was authorized.
 */
export function parseLightspeedRAccount(response: ProviderResponse): string {
  const { status } = response;
  if (status === 429 || status >= 500) {
    throw new ProviderError('transient', `the Account endpoint answered ${status}`, {
      status,
      retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), response.receivedAt),
    });
  }
  if (status === 401 || status === 403) {
    // The access token just issued is refused: the grant is not usable.
    throw new ProviderError(
      'invalid_grant',
      `the Account endpoint refused the new access token (${status})`,
      {
        status,
      },
    );
  }
  if (status < 200 || status > 299) {
    throw new ProviderError('invalid_client', `the Account endpoint answered ${status}`, { status });
  }
  const named = jsonObject(response.body)?.Account;
  const accounts = Array.isArray(named) ? named : [named];
  if (accounts.length !== 1) {
    throw new ProviderError(
      'invalid_client',
      `the Account endpoint lists ${accounts.length} accounts; the broker cannot tell which one was authorized`,
      { status },
    );
  }
  const [account] = accounts;
  const id =
    typeof account === 'object' && account !== null
      ? (account as Record<string, unknown>).accountID
      : undefined;
  const text = typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : id;
  if (typeof text !== 'string' || !ACCOUNT_ID.test(text)) {
    // Possibly a truncated answer: `unconfirmed` lets the lookup retry it within its budget.
    throw new ProviderError(
      'unconfirmed',
      'the Account endpoint answered without a usable Account.accountID',
      {
        status,
      },
    );
  }
  return text;
}

/** The `lightspeed-r` provider for a configuration (URLs and scopes are configurable for tests and demo). */
export function lightspeedRProvider({
  settings,
  app,
}: ProviderConfig<LightspeedRSetting>): ProviderBehaviour {
  const config = { ...settings, scopes: app?.scopes ?? DEFAULT_LIGHTSPEED_R_SCOPES };
  const accountLookup: AccountLookup = {
    request: (accessToken) => ({
      url: config.accountUrl,
      method: 'GET',
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    }),
    parse: parseLightspeedRAccount,
  };
  const oauth: OAuthBehaviour = {
    // PKCE is not mentioned in the R-Series docs (unconfirmed): the adapter does not depend on it.
    pkce: false,
    accountLookup,
    renewal: UNSTATED_RENEWAL,
    pacing: LIGHTSPEED_R_PACING,
    scopes: config.scopes,
    buildAuthorizationUrl({ clientId, state }) {
      // No redirect_uri (docs): the code goes to the one registered for the client, and then the
      // exchange must not carry one either (RFC 6749 §4.1.3).
      return authorizationUrl(config.authorizeUrl, {
        response_type: 'code',
        client_id: clientId,
        scope: config.scopes.join(' '),
        state,
      });
    },
    buildCodeExchange({ code, clientId, clientSecret }) {
      return formPost(config.tokenUrl, {
        client_id: clientId,
        client_secret: clientSecret,
        code,
        grant_type: 'authorization_code',
      });
    },
    // No scope: a refresh that carries one is refused with invalid_grant (issue thread).
    buildRefresh({ refreshToken, clientId, clientSecret }) {
      return formPost(config.tokenUrl, {
        client_id: clientId,
        client_secret: clientSecret,
        refresh_token: refreshToken,
        grant_type: 'refresh_token',
      });
    },
    parseTokenResponse: parseLightspeedRTokenResponse,
  };
  return {
    oauth,
    apiBaseUrl: (account) => config.apiBaseUrl.replaceAll('{account}', account),
    // No verifyRequest: R-Series has no personal tokens, so `PUT /personal-tokens` refuses it.
  };
}

/** Lightspeed Retail R-Series: OAuth on one authorization server; the account comes from an API call. */
export const lightspeedR = defineProvider({
  id: 'lightspeed-r',
  displayName: 'Lightspeed Retail R-Series',
  account: {
    pattern: ACCOUNT_ID,
    syntax: 'a Lightspeed R-Series account id (1 to 12 digits)',
    description: 'Lightspeed R-Series account id',
    example: '123456',
  },
  settings: {
    authorizeUrl: {
      env: 'LIGHTSPEED_R_AUTHORIZE_URL',
      default: 'https://cloud.lightspeedapp.com/auth/oauth/authorize',
    },
    tokenUrl: { env: 'LIGHTSPEED_R_TOKEN_URL', default: 'https://cloud.lightspeedapp.com/auth/oauth/token' },
    accountUrl: {
      env: 'LIGHTSPEED_R_ACCOUNT_URL',
      default: 'https://api.lightspeedapp.com/API/V3/Account.json',
    },
    // A template with `{account}`.
    apiBaseUrl: {
      env: 'LIGHTSPEED_R_API_BASE_URL',
      default: 'https://api.lightspeedapp.com/API/V3/Account/{account}',
    },
  },
  oauth: {
    portalName: 'Lightspeed Retail (R-Series) developer portal',
    env: {
      clientId: 'LIGHTSPEED_R_CLIENT_ID',
      clientSecret: 'LIGHTSPEED_R_CLIENT_SECRET',
      clientSecretArn: 'LIGHTSPEED_R_CLIENT_SECRET_ARN',
      scopes: 'LIGHTSPEED_R_SCOPES',
    },
    context: 'lightspeedR',
    scopes: {
      default: DEFAULT_LIGHTSPEED_R_SCOPES,
      pattern: /^employee:[a-z_]+$/,
      example: 'employee:inventory',
    },
  },
  personalTokens: false,
  create: lightspeedRProvider,
});
