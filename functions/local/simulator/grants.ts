/**
 * The token endpoint's grants once its faults are decided, for any profile: body encoding, client
 * authentication, the code exchange (with PKCE S256 when the code has a challenge) and the refresh
 * with the profile's rotation policy. Errors come out in OAuth terms; the profile shapes them.
 */
import { createHash } from 'node:crypto';
import { isTokenError, type SimulatorProfile, type TokenError, type TokenGrant } from './profile';
import { safeEqual } from './random';
import type { IssuedTokens } from './state';
import type { SimulatorCounters } from './stats';

export type GrantResult =
  | { status: 200; body: Record<string, unknown>; grant: TokenGrant; account: string }
  | { status: number; error: TokenError };

/** What a grant reads and changes; the simulator passes itself in. */
export interface GrantContext {
  readonly profile: SimulatorProfile;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accessTokenTtlSeconds: number;
  /** Shortens the refresh tokens' lifetime where the profile states one (tests of renewal). */
  readonly refreshTokenTtlSeconds: number | undefined;
  readonly issued: IssuedTokens;
  readonly stats: SimulatorCounters;
  now(): number;
  tokensChanged(): void;
}

/** One call to a token endpoint, its body already read. */
export interface TokenCall {
  url: URL;
  endpoint: string;
  partition: string;
  /** Whether the body came in an encoding the profile accepts. */
  encodingOk: boolean;
  params: URLSearchParams;
}

export function tokenError(status: number, error: TokenError['error'], description: string): GrantResult {
  return { status, error: { status, error, description } };
}

export function invalidGrant(context: GrantContext, description: string): GrantResult {
  context.stats.counters.invalidGrants += 1;
  return tokenError(400, 'invalid_grant', description);
}

/** Runs the grant a token-endpoint call asks for; `omitRefreshToken` leaves the refresh token out of a 200. */
export function grant(context: GrantContext, call: TokenCall, omitRefreshToken: boolean): GrantResult {
  const { profile } = context;
  const { url, params } = call;
  if (url.search !== '') {
    return tokenError(400, 'invalid_request', 'parameters must be sent in the request body');
  }
  if (!call.encodingOk) {
    const wanted =
      profile.token.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    return tokenError(400, 'invalid_request', `the request body must be ${wanted}`);
  }
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1)
      return tokenError(400, 'invalid_request', `${name} must be given once`);
  }
  const clientId = params.get('client_id');
  const clientSecret = params.get('client_secret');
  const wanted = profile.token.grantOf(call.endpoint, params);
  if (isTokenError(wanted) && profile.token.grantTypeFirst === true)
    return { status: wanted.status, error: wanted };
  if (clientId === null || clientId !== context.clientId) return badClient();
  const auth = isTokenError(wanted) ? 'secret' : profile.token.clientAuth(wanted);
  const secretOk = clientSecret !== null && safeEqual(clientSecret, context.clientSecret);
  if (clientSecret !== null && !secretOk) return badClient();
  if (auth === 'secret' && !secretOk) return badClient();
  if (isTokenError(wanted)) return { status: wanted.status, error: wanted };
  // Without the secret only a PKCE grant (or Clover's refresh) is allowed; checked where the grant is known.
  const pkceOnly = auth === 'secret-unless-pkce' && !secretOk;
  if (wanted === 'authorization_code') return exchange(context, call, omitRefreshToken, pkceOnly);
  return refresh(context, call, omitRefreshToken, pkceOnly);
}

function badClient(): GrantResult {
  return tokenError(401, 'invalid_client', 'Client authentication failed');
}

function exchange(
  context: GrantContext,
  call: TokenCall,
  omitRefreshToken: boolean,
  pkceOnly: boolean,
): GrantResult {
  const { profile } = context;
  const { params } = call;
  const code = params.get('code');
  const redirectUri = params.get('redirect_uri');
  const redirectRule = profile.token.exchangeRedirectUri;
  if (code === null || (redirectRule === 'required' && redirectUri === null)) {
    return tokenError(
      400,
      'invalid_request',
      redirectRule === 'required' ? 'code and redirect_uri are required' : 'code is required',
    );
  }
  const checked = profile.token.checkExchange?.(params) ?? { expiring: true };
  if (isTokenError(checked)) return { status: checked.status, error: checked };
  const record = context.issued.codes.get(code);
  if (record === undefined) return invalidGrant(context, 'The authorization code is invalid');
  if (record.used) return invalidGrant(context, 'The authorization code has already been used');
  if (context.now() >= record.expiresAt) return invalidGrant(context, 'The authorization code has expired');
  if (record.clientId !== params.get('client_id')) {
    return invalidGrant(context, 'The authorization code was issued to another client');
  }
  if (redirectRule !== 'ignored' && redirectUri !== null && record.redirectUri !== redirectUri) {
    return invalidGrant(context, 'redirect_uri does not match the authorization request');
  }
  if (record.partition !== call.partition) {
    return invalidGrant(context, 'The authorization code belongs to another store');
  }
  record.used = true;
  if (pkceOnly && record.codeChallenge === undefined) return badClient();
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
  const pkce = record.codeChallenge !== undefined;
  const issuedAt = context.now();
  const ttl = checked.expiring ? context.accessTokenTtlSeconds : undefined;
  const expiresAt = ttl === undefined ? Number.MAX_SAFE_INTEGER : issuedAt + ttl * 1000;
  const accessToken = context.issued.issueAccessToken(record.account, record.partition, expiresAt);
  let refreshToken: string | undefined;
  let refreshTokenExpiresAt: number | undefined;
  if (checked.expiring && !omitRefreshToken) {
    refreshTokenExpiresAt = refreshExpiry(context, pkce, issuedAt);
    refreshToken = context.issued.issueRefreshToken(record.account, record.partition, record.scope, {
      pkce,
      ...(refreshTokenExpiresAt === undefined ? {} : { expiresAt: refreshTokenExpiresAt }),
    });
  }
  context.tokensChanged();
  const body = profile.token.answer({
    grant: 'authorization_code',
    accessToken,
    accessTokenTtlSeconds: ttl,
    issuedAt,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    ...(refreshTokenExpiresAt === undefined ? {} : { refreshTokenExpiresAt }),
    account: record.account,
    partition: record.partition,
    scope: record.scope,
  });
  return { status: 200, body, grant: 'authorization_code', account: record.account };
}

function refreshExpiry(context: GrantContext, pkce: boolean, issuedAt: number): number | undefined {
  const stated = context.profile.token.refreshTokenTtlSeconds?.(pkce);
  if (stated === undefined) return undefined;
  return issuedAt + Math.min(stated, context.refreshTokenTtlSeconds ?? stated) * 1000;
}

function refresh(
  context: GrantContext,
  call: TokenCall,
  omitRefreshToken: boolean,
  pkceOnly: boolean,
): GrantResult {
  const { profile, issued } = context;
  const token = call.params.get('refresh_token');
  if (token === null) return tokenError(400, 'invalid_request', 'refresh_token is required');
  const record = issued.refreshTokens.get(token);
  if (record === undefined || record.partition !== call.partition) {
    return invalidGrant(context, 'The refresh token is invalid');
  }
  if (pkceOnly && !record.pkce) return badClient();
  const refused = profile.token.checkRefresh?.(call.params);
  if (refused !== undefined) {
    if (refused.error === 'invalid_grant') context.stats.counters.invalidGrants += 1;
    return { status: refused.status, error: refused };
  }
  if (record.state === 'rotated') {
    context.stats.counters.revokedRefreshTokenUses += 1;
    return invalidGrant(context, 'The refresh token has been revoked');
  }
  if (record.state === 'revoked') return invalidGrant(context, 'The refresh token has been revoked');
  const now = context.now();
  if (record.expiresAt !== undefined && now >= record.expiresAt) {
    return invalidGrant(context, 'The refresh token has expired');
  }
  // Using the successor of a token kept alive by a grace rule ends that grace.
  if (record.predecessor !== undefined) {
    issued.endGrace(record.predecessor);
    delete record.predecessor;
  }
  context.stats.counters.refreshes += 1;
  context.stats.account(record.account).refreshes += 1;
  const policy = profile.token.refreshPolicy(record);
  const grace = policy === 'grace' ? token : undefined;
  const ttl = context.accessTokenTtlSeconds;
  const accessToken = issued.issueAccessToken(record.account, record.partition, now + ttl * 1000, grace);
  let refreshToken: string | undefined;
  let refreshTokenExpiresAt: number | undefined;
  if (typeof policy === 'object') {
    if (policy.unchanged === 'echo' && !omitRefreshToken) {
      refreshToken = token;
      refreshTokenExpiresAt = record.expiresAt;
    }
  } else if (!omitRefreshToken) {
    record.state = policy === 'grace' ? 'superseded' : 'rotated';
    refreshTokenExpiresAt = refreshExpiry(context, record.pkce, now);
    refreshToken = issued.issueRefreshToken(record.account, record.partition, record.scope, {
      pkce: record.pkce,
      ...(refreshTokenExpiresAt === undefined ? {} : { expiresAt: refreshTokenExpiresAt }),
      ...(grace === undefined ? {} : { predecessor: grace }),
    });
  }
  context.tokensChanged();
  const body = profile.token.answer({
    grant: 'refresh_token',
    accessToken,
    accessTokenTtlSeconds: ttl,
    issuedAt: now,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    ...(refreshTokenExpiresAt === undefined ? {} : { refreshTokenExpiresAt }),
    account: record.account,
    partition: record.partition,
    scope: record.scope,
  });
  return { status: 200, body, grant: 'refresh_token', account: record.account };
}
