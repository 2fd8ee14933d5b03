/**
 * What makes one OAuth provider differ from another in the simulator: where its endpoints are, what
 * the authorize request and the callback carry, how the token endpoint wants its body and answers,
 * how refresh tokens rotate, and what the verify API looks like. OAuthSimulator runs any profile.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthorizeRequest, AuthorizeRules } from './authorize';
import type { ConsentCopy } from './consent-page';
import type { AccessTokenCheck, RefreshTokenRecord } from './state';

export type TokenGrant = 'authorization_code' | 'refresh_token';

/** A refused token call in OAuth terms; the profile turns it into its provider's error shape. */
export interface TokenError {
  status: number;
  error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type';
  description: string;
}

/** A request the profile recognised under the simulator's root. */
export type Route =
  /** `partition`: the shop (Shopify) or region (Clover) in the authorize URL's path. */
  | { kind: 'authorize'; partition: string }
  /** `endpoint`: the profile's name for it (Clover has `token` and `refresh`). */
  | { kind: 'token'; endpoint: string; partition: string }
  | { kind: 'api'; partition: string; resource: string[] };

/** How a refresh treats the presented refresh token. */
export type RefreshPolicy =
  /** Single use: a new one in the answer, the old one revoked at once. */
  | 'rotate'
  /** The same token stays valid; `echo`: the answer repeats it (Square), or leaves it out (X-Series legacy). */
  | { unchanged: 'echo' | 'omit' }
  /** A new one in the answer; the old one stays valid until the new access or refresh token is first used (Shopify since 2026-08). */
  | 'grace';

/** What a successful grant hands the profile to shape its answer from. */
export interface TokenAnswer {
  grant: TokenGrant;
  accessToken: string;
  /** Seconds the access token lives; undefined for a token that never expires (Shopify without expiring=1). */
  accessTokenTtlSeconds: number | undefined;
  /** Epoch ms. */
  issuedAt: number;
  refreshToken?: string;
  /** Epoch ms; undefined when the refresh token has no documented lifetime. */
  refreshTokenExpiresAt?: number;
  account: string;
  partition: string;
  /** Space-separated. */
  scope: string;
}

/** The account the person picks on the consent page, and how a typed one is checked. */
export interface AccountRule {
  pattern: RegExp;
  /** Turns what was typed into the account id (trim, case). */
  normalize(typed: string): string;
  /** Thrown by consent() when the account does not match `pattern`; shown on the page unless `pageMessage`. */
  invalidMessage: string;
  /** Shown on the consent page beside a typed account that does not match `pattern`. */
  pageMessage?: string;
  /** Prefilled on the consent page. */
  suggestion: string;
}

/** What the verify API of a profile can ask the engine. */
export interface ApiContext {
  now: number;
  /** Checks an access token presented under `partition`; a successful check counts as its first use. */
  checkAccessToken(token: string | undefined, partition: string): AccessTokenCheck;
}

export interface SimulatorProfile {
  /** The path segment under the base path, e.g. 'lightspeed-x'. */
  id: string;
  copy: ConsentCopy;
  /** Where the account comes from: typed on the consent page, or the partition in the authorize path (Shopify). */
  accountSource: 'typed' | 'partition';
  /** Whether the typed account is also the partition later URLs name (X-Series: the domain prefix). */
  partitionIsAccount?: boolean;
  account: AccountRule;
  authorize: AuthorizeRules;
  defaultAccessTokenTtlSeconds: number;
  /** A new code or token as the provider's look (prefixes, lengths). */
  newToken(kind: 'code' | 'access' | 'refresh'): string;
  /** Matches the path segments below the root (after the consent and control endpoints are handled). */
  route(segments: string[]): Route | undefined;
  /** Every URL the broker's settings need, with `{placeholders}` the broker fills in. */
  urls(base: string): Record<string, string>;
  /** Whether `partition` is a valid one for an authorize URL (a shop name, a region). */
  partitionValid?(partition: string): boolean;
  /** The query the browser is sent back with after Allow. */
  callback(input: CallbackInput): Record<string, string | undefined>;
  /** The query after Deny; `includeState`: the option includeStateOnDenial. */
  denial(request: AuthorizeRequest, includeState: boolean): Record<string, string | undefined>;
  token: TokenRules;
  /** Serves a verify-API call (method already checked to be GET). */
  api(
    req: IncomingMessage,
    res: ServerResponse,
    route: Extract<Route, { kind: 'api' }>,
    context: ApiContext,
  ): void;
}

export interface CallbackInput {
  request: AuthorizeRequest;
  code: string;
  account: string;
  partition: string;
  now: number;
  clientId: string;
  clientSecret: string;
}

export interface TokenRules {
  encoding: 'form' | 'json' | 'form-or-json';
  /** A body in another encoding: refused with invalid_request, or read as no parameters at all (R-Series). */
  wrongEncoding: 'refuse' | 'empty';
  /** Whether a missing or unknown grant type is refused before client authentication (R-Series). */
  grantTypeFirst?: boolean;
  /** Which grant a call asks for, or why it is refused. */
  grantOf(endpoint: string, params: URLSearchParams): TokenGrant | TokenError;
  /** `secret-unless-pkce`: a PKCE grant may leave client_secret out (Square, Clover low-trust); `id`: client_id alone (Clover refresh). */
  clientAuth(grant: TokenGrant): 'secret' | 'secret-unless-pkce' | 'id';
  /** redirect_uri on the exchange: required and equal (X-Series), equal when sent (Square), or ignored. */
  exchangeRedirectUri: 'required' | 'if-sent' | 'ignored';
  /** Provider-specific checks of an exchange; `expiring: false` issues a never-expiring token without refresh token. */
  checkExchange?(params: URLSearchParams): TokenError | { expiring: boolean };
  /** Provider-specific checks of a refresh (R-Series refuses `scope`). */
  checkRefresh?(params: URLSearchParams): TokenError | undefined;
  refreshPolicy(record: RefreshTokenRecord): RefreshPolicy;
  /** Lifetime of a new refresh token in seconds, if the provider documents one. */
  refreshTokenTtlSeconds?(pkce: boolean): number | undefined;
  /** The 200 body. */
  answer(answer: TokenAnswer): Record<string, unknown>;
  /** Puts another account into a good answer (foreign_account fault); false when the answer names none. */
  nameAccount(body: Record<string, unknown>, account: string): boolean;
  /** The provider's error answer. */
  error(error: TokenError): { status: number; body: unknown };
}

/** The usual OAuth 2.0 `grant_type` dispatch. */
export function grantTypeOf(params: URLSearchParams): TokenGrant | TokenError {
  const grantType = params.get('grant_type');
  if (grantType === null)
    return { status: 400, error: 'invalid_request', description: 'grant_type is required' };
  if (grantType === 'authorization_code' || grantType === 'refresh_token') return grantType;
  return {
    status: 400,
    error: 'unsupported_grant_type',
    description: 'grant_type must be authorization_code or refresh_token',
  };
}

/** RFC 6749 §5.2 error body. */
export function rfc6749Error(error: TokenError): { status: number; body: unknown } {
  return { status: error.status, body: { error: error.error, error_description: error.description } };
}

export function isTokenError(value: unknown): value is TokenError {
  return typeof value === 'object' && value !== null && 'error' in value && 'status' in value;
}
