/**
 * Wire DTOs: the contract's JSON answers (snake_case, ISO dates) shaped from the domain's records.
 * Each picks its fields one by one, so a token reaches an answer only where the contract puts one.
 */
import type { AppUsage, ConnectionList } from '../../shared/domain/connections';
import type {
  ConnectionStatus,
  ConnectionView,
  CredentialSource,
  ProviderId,
} from '../../shared/domain/model';
import type { IssuedToken } from '../../shared/domain/tokens';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The token route's answer (the contract's "Token response"). */
export interface TokenResponse {
  provider: string;
  account: string;
  access_token: string;
  token_type: 'Bearer';
  expires_at: string | null;
  source: CredentialSource;
  api_base_url: string;
  /** Only in degraded mode: the refresh failed transiently, the stored token is still valid. */
  stale?: true;
}

/** Shapes a token handed out for the token route. */
export function tokenResponse(token: IssuedToken): TokenResponse {
  return {
    provider: token.provider,
    account: token.account,
    access_token: token.accessToken,
    token_type: 'Bearer',
    expires_at: iso(token.expiresAt),
    source: token.source,
    api_base_url: token.apiBaseUrl,
    ...(token.stale ? { stale: true as const } : {}),
  };
}

/** The public metadata of a connection: never a token. */
export interface ConnectionMetadata {
  provider: ProviderId;
  account: string;
  source: CredentialSource;
  status: ConnectionStatus;
  expires_at: string | null;
  connected_at: string;
  refreshed_at: string | null;
  reference: string | null;
  name?: string | null;
  last_error?: string | null;
  /** Additions (v1.1), OAuth only: the refresh token's stated expiry, and when the sweep renews it. */
  refresh_expires_at?: string | null;
  renew_by?: string | null;
}

/** Shapes a connection for the API: metadata only, by construction no token field. */
export function connectionMetadata({ connection, status }: ConnectionView): ConnectionMetadata {
  const base: ConnectionMetadata = {
    provider: connection.provider,
    account: connection.account,
    source: connection.source,
    status,
    expires_at: iso(connection.expiresAt),
    connected_at: new Date(connection.connectedAt).toISOString(),
    refreshed_at: iso(connection.refreshedAt),
    reference: connection.reference ?? null,
  };
  if (connection.source === 'personal') base.name = connection.name ?? null;
  else {
    base.last_error = connection.lastError ?? null;
    base.refresh_expires_at = iso(connection.refreshExpiresAt);
    base.renew_by = iso(connection.renewBy);
  }
  return base;
}

const appUsage = (app: AppUsage) => ({
  provider: app.provider,
  client_id: app.clientId,
  connected_stores: app.connectedStores,
  unapproved_app_limit: app.unapprovedAppLimit ?? null,
});

/** `GET /connections`: a page of metadata, the next page's token and the apps' usage. */
export function connectionListResponse(list: ConnectionList) {
  return {
    connections: list.connections.map(connectionMetadata),
    apps: list.apps.map(appUsage),
    ...(list.nextCursor === undefined ? {} : { next_token: list.nextCursor }),
  };
}

/** `POST /connect-sessions`: the link to hand to the retailer. */
export const connectSessionResponse = (session: { id: string; connectUrl: string; expiresAt: number }) => ({
  id: session.id,
  connect_url: session.connectUrl,
  expires_at: new Date(session.expiresAt).toISOString(),
});
