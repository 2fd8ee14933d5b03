/** The broker's records, as the domain sees them (the adapters map them to storage). */

import type { ProviderId } from '../providers';

// The ids come from the provider registry (shared/providers/index.ts, `PROVIDER_IDS`).
export type { ProviderId };

export type CredentialSource = 'oauth' | 'personal';
export type ConnectionStatus = 'active' | 'reauthorization_required' | 'expired' | 'expiring';

/**
 * The contract's account rule for `lightspeed-x`, `xentral` and every provider whose account goes
 * into a host name: a lower-case DNS label.
 */
export const ACCOUNT_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Says what ACCOUNT_PATTERN allows, for error messages. */
export const DNS_LABEL_SYNTAX = 'a lower-case DNS label (a-z, 0-9, inner hyphens, at most 63 characters)';

/** One provider's account syntax (contract v1.1): checked before any outbound call. */
export interface AccountSyntax {
  readonly pattern: RegExp;
  /** What the pattern allows, completing "must be …" in an error message. */
  readonly syntax: string;
}

/** The DNS-label rule of v1.0, kept by providers whose account is put into a host name. */
export const DNS_LABEL_ACCOUNT: AccountSyntax = Object.freeze({
  pattern: ACCOUNT_PATTERN,
  syntax: DNS_LABEL_SYNTAX,
});

/**
 * What any provider's account syntax stays inside: letters, digits and inner hyphens, at most 63
 * characters. Storage keys, cursors and log fields rely on it; each provider narrows it.
 */
export const ANY_ACCOUNT_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A personal token this close to its expiry is `expiring`: warned about and flagged by the sweep. */
export const EXPIRING_WINDOW_MS = 14 * 86_400_000;

export interface ConnectionKey {
  readonly provider: ProviderId;
  readonly account: string;
}

/** Tokens as a provider answered them, with expiry already made absolute at receipt. */
export interface TokenSet {
  readonly accessToken: string;
  /** Absent when the provider did not rotate: the stored one is kept. */
  readonly refreshToken?: string | undefined;
  /** Epoch milliseconds, computed from `expires_in` when the response arrived. */
  readonly expiresAt: number;
  /**
   * When the refresh token expires (epoch ms), where the provider states it (Shopify, Clover);
   * undefined when it does not.
   */
  readonly refreshExpiresAt?: number | undefined;
  readonly scope?: string | undefined;
}

/** An OAuth connection's metadata, as listing, deleting and status reads need it: no token at all. */
export interface OAuthRecord extends ConnectionKey {
  readonly source: 'oauth';
  readonly status: 'active' | 'reauthorization_required';
  readonly expiresAt: number;
  /** The refresh token's expiry as the provider stated it (epoch ms), if it did. */
  readonly refreshExpiresAt?: number | undefined;
  /**
   * The latest time the connection must be refreshed for its refresh token's sake (epoch ms): ahead
   * of the stated refresh-token expiry, or the provider's default cadence when none is stated. The
   * sweep takes the connection at the earlier of this and the access token's expiry.
   */
  readonly renewBy?: number | undefined;
  /** +1 on every token write; the refresh protocol's fencing number. */
  readonly version: number;
  readonly leaseOwner?: string | undefined;
  readonly leaseUntil?: number | undefined;
  readonly connectedAt: number;
  readonly refreshedAt?: number | undefined;
  readonly reference?: string | undefined;
  readonly scope?: string | undefined;
  readonly failureCount: number;
  readonly lastError?: string | undefined;
  /** When the last refresh attempt failed (epoch ms); waiters use it to share the holder's result. */
  readonly lastFailureAt?: number | undefined;
  readonly retryAfterSeconds?: number | undefined;
  /**
   * When a refresh attempt ended without a usable answer after the provider may have processed it
   * (a timeout, a cut connection): the provider may have rotated the refresh token in an answer the
   * broker never received. Cleared by the next successful write of tokens.
   */
  readonly unconfirmedAt?: number | undefined;
}

/**
 * An OAuth connection as a token fetch reads it: the access token opened, the refresh token not
 * even read. Only taking the refresh lease yields the refresh token (LeasedConnection), so a copy
 * read for a fetch can never be used to refresh.
 */
export interface OAuthConnection extends OAuthRecord {
  readonly accessToken: string;
}

/**
 * The connection as the write that took the refresh lease returned it: the only shape with the
 * refresh token, and that token is the one of the leased version.
 */
export interface LeasedConnection extends OAuthConnection {
  readonly refreshToken: string;
}

export interface PersonalConnection extends ConnectionKey {
  readonly source: 'personal';
  readonly name?: string | undefined;
  /** Epoch ms, or undefined for a token without expiry. */
  readonly expiresAt?: number | undefined;
  /** Version of the secret holding the token, so a cached value is never stale. */
  readonly secretVersion: string;
  /** When the sweep announced that this token expires soon (epoch ms). */
  readonly expiringNotifiedAt?: number | undefined;
  readonly connectedAt: number;
  readonly refreshedAt?: number | undefined;
  readonly reference?: string | undefined;
}

/** A credential's metadata (an OAuth connection with or without its access token, or a personal token). */
export type Connection = OAuthRecord | PersonalConnection;

export interface ConnectSession {
  readonly id: string;
  readonly provider: ProviderId;
  /** The account the backend named when creating the session (required where the provider needs it). */
  readonly account?: string | undefined;
  readonly returnTo?: string | undefined;
  readonly reference?: string | undefined;
  readonly createdAt: number;
  /** No new authorization attempt starts after this (the contract's 10 minutes). */
  readonly expiresAt: number;
  /** Kept until then, so that an attempt started just before `expiresAt` can still complete it. */
  readonly keepUntil: number;
}

/** One authorization attempt: created each time a browser opens the connect link. */
export interface OAuthState {
  readonly state: string;
  readonly provider: ProviderId;
  readonly sessionId: string;
  /** SHA-256 of the cookie value that binds the state to the browser that started the flow. */
  readonly browserBindingHash: string;
  /** PKCE (RFC 7636) code verifier, for providers that take one; sent only on the code exchange. */
  readonly codeVerifier?: string | undefined;
  /** The session's account, when it named one: the callback's account must equal it. */
  readonly account?: string | undefined;
  readonly returnTo?: string | undefined;
  readonly reference?: string | undefined;
  readonly expiresAt: number;
}

/**
 * The status a caller sees: a personal token past its expiry reads as `expired`, one expiring
 * within 14 days as `expiring` (it still works).
 */
export function connectionStatus(connection: Connection, now: number): ConnectionStatus {
  if (connection.source === 'oauth') return connection.status;
  if (connection.expiresAt === undefined) return 'active';
  if (connection.expiresAt <= now) return 'expired';
  return connection.expiresAt - now <= EXPIRING_WINDOW_MS ? 'expiring' : 'active';
}

/** A credential's metadata with the status a caller sees at one moment. */
export interface ConnectionView {
  readonly connection: Connection;
  readonly status: ConnectionStatus;
}

/** The view of a connection at `now`. */
export const viewOf = (connection: Connection, now: number): ConnectionView => ({
  connection,
  status: connectionStatus(connection, now),
});
