/**
 * The public contract's shapes (docs/api.md) as a backend sees them. Written out here rather than
 * imported from `shared/` so the client carries no broker code (zod, the domain) into its callers;
 * only the provider ids come from the provider registry, which imports no library.
 */
import { PROVIDER_IDS, type ProviderId } from '../shared/providers';

export const PROVIDERS = PROVIDER_IDS;
export type Provider = ProviderId;

export const CONNECTION_STATUSES = ['active', 'reauthorization_required', 'expired'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

export type CredentialSource = 'oauth' | 'personal';

/** `GET /tokens/{provider}/{account}`. */
export interface TokenResponse {
  readonly provider: Provider;
  readonly account: string;
  readonly access_token: string;
  readonly token_type: string;
  /** ISO date-time; null for a personal token without expiry. */
  readonly expires_at: string | null;
  readonly source: CredentialSource;
  readonly api_base_url: string;
  /** Set when a refresh failed for a transient reason and the stored, still valid token came back. */
  readonly stale?: boolean;
}

/** Connection metadata: never a token. */
export interface ConnectionMetadata {
  readonly provider: Provider;
  readonly account: string;
  readonly source: CredentialSource;
  readonly status: ConnectionStatus;
  readonly expires_at: string | null;
  readonly connected_at: string;
  readonly refreshed_at: string | null;
  readonly reference: string | null;
  /** Personal tokens: the name given when stored. */
  readonly name?: string | null;
  /** OAuth: the last refresh error code, e.g. `invalid_grant`. */
  readonly last_error?: string | null;
  /** OAuth (v1.1): ISO date-time when the refresh token expires, if the provider states it; else null. */
  readonly refresh_expires_at?: string | null;
  /** OAuth (v1.1): ISO date-time by which the sweep renews the refresh token, or null. */
  readonly renew_by?: string | null;
}

/** `POST /connect-sessions`. */
export interface ConnectSession {
  readonly id: string;
  readonly connect_url: string;
  readonly expires_at: string;
}

/** `GET /connections`: one page. */
export interface ConnectionPage {
  readonly connections: readonly ConnectionMetadata[];
  readonly next_token?: string;
}

export interface GetTokenOptions {
  /** The token must stay valid at least this long (0..43200; the broker's default is 300). */
  readonly minValidSeconds?: number;
  /** Ask the broker to refresh now; never answered from the cache. */
  readonly forceRefresh?: boolean;
}

export interface CreateConnectSessionInput {
  readonly provider: Provider;
  /**
   * The account being connected (v1.1), in the provider's own syntax. Required where the provider
   * needs it before authorization (Shopify: the shop); for the others, when given, the account the
   * provider names must equal it, else nothing is stored.
   */
  readonly account?: string;
  /** Where the browser goes when the flow ends; its origin must be in BROKER_RETURN_TO_ORIGINS. */
  readonly returnTo?: string;
  /** Your own id for the retailer, handed back on `return_to` and kept on the connection. */
  readonly reference?: string;
}

export interface ListConnectionsOptions {
  readonly provider?: Provider;
  readonly status?: ConnectionStatus;
  /** Page size, 1..100 (the broker's default is 50). */
  readonly limit?: number;
  readonly nextToken?: string;
}

export interface PersonalTokenInput {
  readonly token: string;
  readonly name?: string;
  /** ISO date-time, or null for a token without expiry. */
  readonly expiresAt?: string | null;
  /** Let the broker check the token with one cheap call to the provider before storing it. */
  readonly verify?: boolean;
}
