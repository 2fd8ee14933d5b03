/**
 * What an OAuth simulator has issued: authorization codes, access tokens and refresh tokens, with
 * the part of it that survives a restart (snapshot / restore).
 *
 * Every record names its `account` (the store, merchant or shop the tokens act for) and, where the
 * provider puts one in the URL, its `partition` (X-Series domain prefix, Shopify shop, Clover
 * region): a token presented under another partition is refused, as the real hosts would.
 */
import type { AuthorizeRequest } from './authorize';
import { randomToken } from './random';

/**
 * What the simulator must keep across a restart so that connections made before it still work, as
 * they would against the real service: the live access tokens and the active refresh tokens
 * (rotated and revoked ones only ever answer `invalid_grant`, which an unknown token does too).
 * `domainPrefix` is the account (the name predates the other providers and is kept for saved
 * files); `partition` is there only when it differs from the account.
 */
export interface OAuthSimulatorState {
  accessTokens: [
    token: string,
    record: { domainPrefix: string; expiresAt: number; revoked: boolean; partition?: string },
  ][];
  refreshTokens: [
    token: string,
    record: { domainPrefix: string; scope: string; partition?: string; pkce?: boolean; expiresAt?: number },
  ][];
}

export interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  account: string;
  partition: string;
  scope: string;
  codeChallenge?: string;
  expiresAt: number;
  used: boolean;
}

export interface AccessTokenRecord {
  account: string;
  partition: string;
  expiresAt: number;
  revoked: boolean;
  /** A refresh token kept valid by a grace rule until this access token is first used. */
  predecessor?: string;
}

export interface RefreshTokenRecord {
  account: string;
  partition: string;
  scope: string;
  /** `superseded`: rotated under a grace rule, still accepted until its successor is first used. */
  state: 'active' | 'superseded' | 'rotated' | 'revoked';
  /** Whether the grant began with PKCE (Square rotates only those). */
  pkce: boolean;
  /** Epoch ms after which the token is refused; none when the provider documents no lifetime. */
  expiresAt?: number;
  /** See AccessTokenRecord.predecessor. */
  predecessor?: string;
}

/** Why an access token is refused, for providers whose error names it. */
export type AccessTokenCheck =
  | { ok: true; account: string; token: string }
  | { ok: false; reason: 'missing' | 'unknown' | 'expired' | 'revoked' };

const CODE_TTL_MS = 10 * 60 * 1000;

export class IssuedTokens {
  readonly codes = new Map<string, AuthorizationCode>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();

  constructor(
    restore: OAuthSimulatorState | undefined,
    private readonly tokenShape: (kind: 'code' | 'access' | 'refresh') => string = () => randomToken(40),
  ) {
    for (const [token, record] of restore?.accessTokens ?? []) {
      const { domainPrefix, partition, expiresAt, revoked } = record;
      this.accessTokens.set(token, {
        account: domainPrefix,
        partition: partition ?? domainPrefix,
        expiresAt,
        revoked,
      });
    }
    for (const [token, record] of restore?.refreshTokens ?? []) {
      const { domainPrefix, partition, scope, pkce, expiresAt } = record;
      this.refreshTokens.set(token, {
        account: domainPrefix,
        partition: partition ?? domainPrefix,
        scope,
        state: 'active',
        pkce: pkce === true,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      });
    }
  }

  /** The live access tokens and active refresh tokens at `now`. */
  snapshot(now: number): OAuthSimulatorState {
    const partition = (record: { account: string; partition: string }) =>
      record.partition === record.account ? {} : { partition: record.partition };
    return {
      accessTokens: [...this.accessTokens]
        .filter(([, record]) => !record.revoked && record.expiresAt > now)
        .map(([token, record]) => [
          token,
          {
            domainPrefix: record.account,
            expiresAt: record.expiresAt,
            revoked: record.revoked,
            ...partition(record),
          },
        ]),
      // A superseded token is left out: after a restart only its successor works, a simplification
      // on the safe side (the broker must already hold the successor).
      refreshTokens: [...this.refreshTokens]
        .filter(([, record]) => record.state === 'active' && (record.expiresAt ?? Infinity) > now)
        .map(([token, record]) => [
          token,
          {
            domainPrefix: record.account,
            scope: record.scope,
            ...partition(record),
            ...(record.pkce ? { pkce: true } : {}),
            ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
          },
        ]),
    };
  }

  /** A new single-use code for an approved request, valid for 10 minutes. */
  issueCode(request: AuthorizeRequest, account: string, partition: string, now: number): string {
    const code = this.tokenShape('code');
    this.codes.set(code, {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      account,
      partition,
      scope: request.scope,
      ...(request.codeChallenge === undefined ? {} : { codeChallenge: request.codeChallenge }),
      expiresAt: now + CODE_TTL_MS,
      used: false,
    });
    return code;
  }

  issueAccessToken(account: string, partition: string, expiresAt: number, predecessor?: string): string {
    const token = this.tokenShape('access');
    this.accessTokens.set(token, {
      account,
      partition,
      expiresAt,
      revoked: false,
      ...(predecessor === undefined ? {} : { predecessor }),
    });
    return token;
  }

  issueRefreshToken(
    account: string,
    partition: string,
    scope: string,
    extra: { pkce: boolean; expiresAt?: number; predecessor?: string },
  ): string {
    const token = this.tokenShape('refresh');
    this.refreshTokens.set(token, { account, partition, scope, state: 'active', ...extra });
    return token;
  }

  /** Moves tokens to another account (a fault: the grant took effect for the wrong store). */
  reassign(tokens: { access?: unknown; refresh?: unknown }, account: string): void {
    const access = typeof tokens.access === 'string' ? this.accessTokens.get(tokens.access) : undefined;
    if (access !== undefined) access.account = account;
    const refresh = typeof tokens.refresh === 'string' ? this.refreshTokens.get(tokens.refresh) : undefined;
    if (refresh !== undefined) refresh.account = account;
  }

  /** Whether `token` is a live access token of this partition at `now`, and whose. */
  checkAccessToken(token: string | undefined, partition: string, now: number): AccessTokenCheck {
    if (token === undefined) return { ok: false, reason: 'missing' };
    const record = this.accessTokens.get(token);
    if (record === undefined || record.partition !== partition) return { ok: false, reason: 'unknown' };
    if (record.revoked) return { ok: false, reason: 'revoked' };
    if (now >= record.expiresAt) return { ok: false, reason: 'expired' };
    // Its first use ends the grace of the refresh token it replaced.
    if (record.predecessor !== undefined) {
      this.endGrace(record.predecessor);
      delete record.predecessor;
    }
    return { ok: true, account: record.account, token };
  }

  /** Whether `token` is a live access token of this store at `now`. */
  accessTokenValid(token: string | undefined, partition: string, now: number): boolean {
    return this.checkAccessToken(token, partition, now).ok;
  }

  /** Revokes a superseded refresh token once its successor has been used. */
  endGrace(token: string): void {
    const record = this.refreshTokens.get(token);
    if (record?.state === 'superseded') record.state = 'rotated';
  }

  /** Revokes every token of an account and drops its unused codes (a retailer disconnecting the app). */
  revokeAccount(account: string): void {
    for (const record of this.accessTokens.values()) {
      if (record.account === account) record.revoked = true;
    }
    for (const record of this.refreshTokens.values()) {
      if (record.account === account && (record.state === 'active' || record.state === 'superseded'))
        record.state = 'revoked';
    }
    for (const [code, record] of this.codes) {
      if (record.account === account) this.codes.delete(code);
    }
  }
}
