/**
 * RFC 6749 pieces shared by OAuth providers: the form-encoded token request and the classification
 * of token-endpoint answers. Provider files add their own quirks on top.
 */

import { ProviderError, UnusableTokenAnswerError } from '../domain/errors';
import { ANY_ACCOUNT_PATTERN, type TokenSet } from '../domain/model';
import type { ProviderRequest, ProviderResponse } from '../domain/ports';
import { parseRetryAfter } from './retry-after';

/** An authorization URL: `base` (a configured URL) with exactly `params` as its query. */
export function authorizationUrl(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  url.search = new URLSearchParams(params).toString();
  return url.toString();
}

/** A token-endpoint POST: parameters only in an x-www-form-urlencoded body, never in the query. */
export function formPost(url: string, params: Record<string, string>): ProviderRequest {
  return {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  };
}

/**
 * A token-endpoint POST with a JSON body (Shopify, Square, Clover): parameters only in the body,
 * never in the query. `headers` adds provider headers (Square-Version).
 */
export function jsonPost(
  url: string,
  params: Record<string, string | number>,
  headers: Record<string, string> = {},
): ProviderRequest {
  return {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(params),
  };
}

/** Parses a JSON object body, or undefined (HTML error pages and truncated bodies are common). */
export function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Classifies a non-2xx token-endpoint answer. Keeps the provider's `error` code, never its body. */
export function tokenEndpointFailure(response: ProviderResponse): ProviderError {
  const { status } = response;
  const error = jsonObject(response.body)?.error;
  const providerError = typeof error === 'string' && /^[\w. -]{1,64}$/.test(error) ? error : undefined;
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), response.receivedAt);
  const details = { status, providerError, retryAfterSeconds };
  if (status === 429 || status >= 500) {
    return new ProviderError('transient', `token endpoint answered ${status}`, details);
  }
  if (providerError === 'invalid_grant') {
    return new ProviderError('invalid_grant', 'the provider refused the grant (invalid_grant)', details);
  }
  return new ProviderError(
    'invalid_client',
    `token endpoint refused the broker's request with ${status}${providerError ? ` (${providerError})` : ''}`,
    details,
  );
}

/** RFC 6750 §2.1 `b64token`: what an access token may hold to travel in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** RFC 6749 Appendix A.17: `refresh-token = 1*VSCHAR` (printable ASCII and space). */
const VSCHARS = /^[\x20-\x7e]+$/;
/** Longest token the broker stores; real ones are tens to a few hundred characters. */
export const MAX_TOKEN_LENGTH = 4096;
/**
 * The range `expires_in` is trusted in, in seconds. Above it the lifetime is clamped down: refreshing
 * earlier than needed is harmless, while a huge number (1e13, 1e308) would leave a token unrefreshed
 * until it dies, or make an invalid date that no write can store. Zero, negative or non-numeric
 * values make the access token unusable.
 */
export const EXPIRES_IN_RANGE = Object.freeze({ minSeconds: 1, maxSeconds: 31 * 86_400 });

/** Longest refresh-token lifetime the broker believes (Clover's samples show a year). */
const MAX_REFRESH_LIFETIME_MS = 400 * 86_400_000;

/** Where a provider's answer names its account, and the account the request was for. */
export interface AccountCheck {
  /** The answer's field naming the account (Lightspeed: `domain_prefix`), when it has one. */
  readonly field: string;
  /** The account the request was for; undefined when the answer is what names it (Square's exchange). */
  readonly expected: string | undefined;
}

/**
 * Turns a 2xx token-endpoint body into tokens, validated with bounds, or throws:
 * - `account_mismatch` when the answer names another account (nothing of it may be stored);
 *   `account` is undefined for a provider whose answers never name one (Shopify, Clover);
 * - UnusableTokenAnswerError when the access-token part cannot be used, keeping a usable new
 *   refresh token for the caller to store (the provider has rotated: the old one is gone).
 * `expiry` reads the provider's lifetime fields (seconds from receipt, or undefined when unusable).
 */
export function parseTokenBody(
  response: ProviderResponse,
  account: AccountCheck | undefined,
  expiresInSeconds: (body: Record<string, unknown>) => number | undefined,
  refreshExpiresAt?: (body: Record<string, unknown>) => number | undefined,
): TokenSet & { account?: string } {
  const { status } = response;
  const body = jsonObject(response.body);
  if (body === undefined) {
    throw new UnusableTokenAnswerError('unreadable token response: not a JSON object', status, undefined);
  }
  const named = account === undefined ? undefined : body[account.field];
  if (named !== undefined && account?.expected !== undefined && named !== account.expected) {
    throw new ProviderError(
      'account_mismatch',
      `the token answer names another ${account.field} than the account asked for`,
      {
        status,
        ...(typeof named === 'string' && ANY_ACCOUNT_PATTERN.test(named) ? { answeredAccount: named } : {}),
      },
    );
  }
  const { access_token, refresh_token, token_type, scope } = body;
  let refreshToken: string | undefined;
  if (refresh_token !== undefined && refresh_token !== null && refresh_token !== '') {
    if (!isToken(refresh_token, VSCHARS)) {
      // A rotated refresh token the broker cannot store or send: nothing to keep.
      throw new UnusableTokenAnswerError(
        'unusable token response: malformed refresh_token',
        status,
        undefined,
      );
    }
    refreshToken = refresh_token;
  }
  const unusable = (why: string) =>
    new UnusableTokenAnswerError(`unusable token response: ${why}`, status, refreshToken);
  if (access_token === undefined || access_token === null || access_token === '') {
    throw unusable('no access_token');
  }
  if (!isToken(access_token, B64TOKEN)) throw unusable('access_token is not a b64token (RFC 6750)');
  if (token_type !== undefined && (typeof token_type !== 'string' || token_type.toLowerCase() !== 'bearer')) {
    throw unusable('token_type is not Bearer');
  }
  const seconds = expiresInSeconds(body);
  if (seconds === undefined || !(seconds >= EXPIRES_IN_RANGE.minSeconds)) {
    throw unusable('no usable expires_in');
  }
  const lifetime = Math.floor(Math.min(seconds, EXPIRES_IN_RANGE.maxSeconds));
  // A stated refresh-token expiry only moves renewal earlier, so an odd value is dropped, not fatal.
  const refreshExpiry = refreshToken === undefined ? undefined : refreshExpiresAt?.(body);
  return {
    ...(typeof named === 'string' && ANY_ACCOUNT_PATTERN.test(named) ? { account: named } : {}),
    accessToken: access_token,
    refreshToken,
    expiresAt: response.receivedAt + lifetime * 1000,
    refreshExpiresAt:
      refreshExpiry !== undefined && Number.isFinite(refreshExpiry) && refreshExpiry > response.receivedAt
        ? Math.floor(Math.min(refreshExpiry, response.receivedAt + MAX_REFRESH_LIFETIME_MS))
        : undefined,
    scope: typeof scope === 'string' && scope.length <= 2048 && VSCHARS.test(scope) ? scope : undefined,
  };
}

function isToken(value: unknown, pattern: RegExp): value is string {
  return typeof value === 'string' && value.length <= MAX_TOKEN_LENGTH && pattern.test(value);
}

/** `expires_in` as a finite number of seconds (a number or a string of digits), else undefined. */
export function expiresInField(value: unknown): number | undefined {
  const seconds = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : undefined;
}
