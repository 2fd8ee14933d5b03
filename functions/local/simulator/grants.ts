/**
 * The Lightspeed token endpoint's grants once its faults are decided: client authentication, the
 * code exchange (with PKCE S256 when the code has a challenge) and the refresh with rotation.
 */
import { createHash } from 'node:crypto';
import { FORM_TYPE } from './http';
import { safeEqual } from './random';
import type { IssuedTokens } from './state';
import type { LightspeedCounters } from './stats';

// The documented examples' `expires` and `expires_in` disagree; ours point past the real expiry so a
// client that trusts `expires` uses a dead token and its tests notice.
const EXPIRES_SKEW_SECONDS = 90;

export interface GrantResult {
  status: number;
  body: Record<string, unknown>;
}

/** What a grant reads and changes; the simulator passes itself in. */
export interface GrantContext {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Whether refreshes rotate (the legacy behaviour, no refresh_token in the answer, never did). */
  readonly rotateRefreshTokens: boolean;
  readonly accessTokenTtlSeconds: number;
  readonly issued: IssuedTokens;
  readonly stats: LightspeedCounters;
  now(): number;
  tokensChanged(): void;
}

export function oauthError(status: number, error: string, description: string): GrantResult {
  return { status, body: { error, error_description: description } };
}

export function invalidGrant(context: GrantContext, description: string): GrantResult {
  context.stats.counters.invalidGrants += 1;
  return oauthError(400, 'invalid_grant', description);
}

/** Runs the grant a token-endpoint call asks for; `omitRefreshToken` leaves the refresh token out of a 200. */
export function grant(
  context: GrantContext,
  request: { url: URL; isForm: boolean; params: URLSearchParams; domainPrefix: string },
  omitRefreshToken: boolean,
): GrantResult {
  const { url, isForm, params, domainPrefix } = request;
  if (url.search !== '') {
    return oauthError(400, 'invalid_request', 'parameters must be sent in the request body');
  }
  if (!isForm) return oauthError(400, 'invalid_request', `the request body must be ${FORM_TYPE}`);
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1)
      return oauthError(400, 'invalid_request', `${name} must be given once`);
  }
  const clientId = params.get('client_id');
  const clientSecret = params.get('client_secret');
  if (
    clientId === null ||
    clientSecret === null ||
    clientId !== context.clientId ||
    !safeEqual(clientSecret, context.clientSecret)
  ) {
    return oauthError(401, 'invalid_client', 'Client authentication failed');
  }
  const grantType = params.get('grant_type');
  if (grantType === null) return oauthError(400, 'invalid_request', 'grant_type is required');
  if (grantType === 'authorization_code') return exchange(context, params, domainPrefix, omitRefreshToken);
  if (grantType === 'refresh_token') return refresh(context, params, domainPrefix, omitRefreshToken);
  return oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
}

function exchange(
  context: GrantContext,
  params: URLSearchParams,
  domainPrefix: string,
  omitRefreshToken: boolean,
): GrantResult {
  const code = params.get('code');
  const redirectUri = params.get('redirect_uri');
  if (code === null || redirectUri === null) {
    return oauthError(400, 'invalid_request', 'code and redirect_uri are required');
  }
  const record = context.issued.codes.get(code);
  if (record === undefined) return invalidGrant(context, 'The authorization code is invalid');
  if (record.used) return invalidGrant(context, 'The authorization code has already been used');
  if (context.now() >= record.expiresAt) return invalidGrant(context, 'The authorization code has expired');
  if (record.clientId !== params.get('client_id')) {
    return invalidGrant(context, 'The authorization code was issued to another client');
  }
  if (record.redirectUri !== redirectUri) {
    return invalidGrant(context, 'redirect_uri does not match the authorization request');
  }
  if (record.domainPrefix !== domainPrefix) {
    return invalidGrant(context, 'The authorization code belongs to another store');
  }
  record.used = true;
  // RFC 7636 §4.6, checked after the code is spent: a wrong verifier burns the code, as it should.
  if (record.codeChallenge !== undefined) {
    const verifier = params.get('code_verifier');
    if (
      verifier === null ||
      createHash('sha256').update(verifier).digest('base64url') !== record.codeChallenge
    )
      return invalidGrant(context, 'code_verifier does not match the code_challenge');
  }
  context.stats.counters.exchanges += 1;
  const body = accessTokenBody(context, record.domainPrefix);
  if (!omitRefreshToken)
    body.refresh_token = context.issued.issueRefreshToken(record.domainPrefix, record.scope);
  context.tokensChanged();
  return { status: 200, body };
}

function refresh(
  context: GrantContext,
  params: URLSearchParams,
  domainPrefix: string,
  omitRefreshToken: boolean,
): GrantResult {
  const token = params.get('refresh_token');
  if (token === null) return oauthError(400, 'invalid_request', 'refresh_token is required');
  const record = context.issued.refreshTokens.get(token);
  if (record === undefined || record.domainPrefix !== domainPrefix) {
    return invalidGrant(context, 'The refresh token is invalid');
  }
  if (record.state === 'rotated') {
    context.stats.counters.revokedRefreshTokenUses += 1;
    return invalidGrant(context, 'The refresh token has been revoked');
  }
  if (record.state === 'revoked') return invalidGrant(context, 'The refresh token has been revoked');
  context.stats.counters.refreshes += 1;
  context.stats.account(domainPrefix).refreshes += 1;
  const body = accessTokenBody(context, domainPrefix);
  // The legacy behaviour (no refresh_token in the response) never rotated.
  if (context.rotateRefreshTokens && !omitRefreshToken) {
    record.state = 'rotated';
    body.refresh_token = context.issued.issueRefreshToken(domainPrefix, record.scope);
  }
  body.domain_prefix = domainPrefix;
  body.scope = record.scope;
  context.tokensChanged();
  return { status: 200, body };
}

function accessTokenBody(context: GrantContext, domainPrefix: string): Record<string, unknown> {
  const issuedAt = context.now();
  const ttl = context.accessTokenTtlSeconds;
  return {
    access_token: context.issued.issueAccessToken(domainPrefix, issuedAt + ttl * 1000),
    token_type: 'Bearer',
    expires: Math.floor(issuedAt / 1000) + ttl + EXPIRES_SKEW_SECONDS,
    expires_in: ttl,
  };
}
