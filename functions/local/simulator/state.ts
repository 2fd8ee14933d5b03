/**
 * What the Lightspeed simulator has issued: authorization codes, access tokens and refresh tokens,
 * with the part of it that survives a restart (snapshot / restore).
 */
import type { AuthorizeRequest } from './authorize';
import { randomToken } from './random';

/**
 * What the simulator must keep across a restart so that connections made before it still work, as
 * they would against the real service: the live access tokens and the active refresh tokens
 * (rotated and revoked ones only ever answer `invalid_grant`, which an unknown token does too).
 */
export interface LightspeedSimulatorState {
  accessTokens: [token: string, record: { domainPrefix: string; expiresAt: number; revoked: boolean }][];
  refreshTokens: [token: string, record: { domainPrefix: string; scope: string }][];
}

export interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  domainPrefix: string;
  scope: string;
  codeChallenge?: string;
  expiresAt: number;
  used: boolean;
}

interface AccessTokenRecord {
  domainPrefix: string;
  expiresAt: number;
  revoked: boolean;
}

export interface RefreshTokenRecord {
  domainPrefix: string;
  scope: string;
  state: 'active' | 'rotated' | 'revoked';
}

const CODE_TTL_MS = 10 * 60 * 1000;

export class IssuedTokens {
  readonly codes = new Map<string, AuthorizationCode>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();

  constructor(restore: LightspeedSimulatorState | undefined) {
    for (const [token, record] of restore?.accessTokens ?? []) this.accessTokens.set(token, record);
    for (const [token, record] of restore?.refreshTokens ?? [])
      this.refreshTokens.set(token, { ...record, state: 'active' });
  }

  /** The live access tokens and active refresh tokens at `now`. */
  snapshot(now: number): LightspeedSimulatorState {
    return {
      accessTokens: [...this.accessTokens].filter(([, record]) => !record.revoked && record.expiresAt > now),
      refreshTokens: [...this.refreshTokens]
        .filter(([, record]) => record.state === 'active')
        .map(([token, { domainPrefix, scope }]) => [token, { domainPrefix, scope }]),
    };
  }

  /** A new single-use code for an approved request, valid for 10 minutes. */
  issueCode(request: AuthorizeRequest, domainPrefix: string, now: number): string {
    const code = randomToken(40);
    this.codes.set(code, {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      domainPrefix,
      scope: request.scope,
      ...(request.codeChallenge === undefined ? {} : { codeChallenge: request.codeChallenge }),
      expiresAt: now + CODE_TTL_MS,
      used: false,
    });
    return code;
  }

  issueAccessToken(domainPrefix: string, expiresAt: number): string {
    const token = randomToken(40);
    this.accessTokens.set(token, { domainPrefix, expiresAt, revoked: false });
    return token;
  }

  issueRefreshToken(domainPrefix: string, scope: string): string {
    const token = randomToken(40);
    this.refreshTokens.set(token, { domainPrefix, scope, state: 'active' });
    return token;
  }

  /** Whether `token` is a live access token of this store at `now`. */
  accessTokenValid(token: string | undefined, domainPrefix: string, now: number): boolean {
    const record = token === undefined ? undefined : this.accessTokens.get(token);
    return (
      record !== undefined &&
      !record.revoked &&
      record.domainPrefix === domainPrefix &&
      now < record.expiresAt
    );
  }

  /** Revokes every token of a store and drops its unused codes (a retailer disconnecting the app). */
  revokeAccount(domainPrefix: string): void {
    for (const record of this.accessTokens.values()) {
      if (record.domainPrefix === domainPrefix) record.revoked = true;
    }
    for (const record of this.refreshTokens.values()) {
      if (record.domainPrefix === domainPrefix && record.state === 'active') record.state = 'revoked';
    }
    for (const [code, record] of this.codes) {
      if (record.domainPrefix === domainPrefix) this.codes.delete(code);
    }
  }
}
