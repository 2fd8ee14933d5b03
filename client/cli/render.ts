/** The human-readable output of the commands (`--json` prints the broker's JSON instead). */
import { fields, table, when } from '../format';
import type { ConnectionMetadata, TokenResponse } from '../types';

/** Connections as a table, the name column only when one has a name. */
export function connectionTable(connections: readonly ConnectionMetadata[], now: number): string {
  if (connections.length === 0) return 'No connections.';
  const named = connections.some((c) => typeof c.name === 'string');
  return table(
    ['PROVIDER', 'ACCOUNT', 'SOURCE', 'STATUS', 'EXPIRES', 'REFERENCE', ...(named ? ['NAME'] : [])],
    connections.map((c) => [
      c.provider,
      c.account,
      c.source,
      c.status,
      when(c.expires_at, now),
      c.reference ?? '',
      ...(named ? [c.name ?? ''] : []),
    ]),
  );
}

/** Personal tokens as a table. */
export function personalTokenTable(tokens: readonly ConnectionMetadata[], now: number): string {
  if (tokens.length === 0) return 'No personal tokens.';
  return table(
    ['PROVIDER', 'ACCOUNT', 'NAME', 'STATUS', 'EXPIRES'],
    tokens.map((c) => [c.provider, c.account, c.name ?? '', c.status, when(c.expires_at, now)]),
  );
}

/** One connection, a field per line. */
export function connectionFields(c: ConnectionMetadata, now: number): string {
  return fields([
    ['provider', c.provider],
    ['account', c.account],
    ['source', c.source],
    ['status', c.status],
    ['expires_at', when(c.expires_at, now)],
    ['connected_at', c.connected_at],
    ['refreshed_at', c.refreshed_at ?? '-'],
    ['reference', c.reference ?? '-'],
    ['name', c.source === 'personal' ? (c.name ?? '-') : undefined],
    ['last_error', c.source === 'oauth' ? (c.last_error ?? '-') : undefined],
    // v1.1: a broker before it leaves them out; null means the provider states no refresh expiry.
    ['refresh_expires_at', c.source === 'oauth' ? optionalWhen(c.refresh_expires_at, now) : undefined],
    ['renew_by', c.source === 'oauth' ? optionalWhen(c.renew_by, now) : undefined],
  ]);
}

/** An optional date: left out when absent, `-` when null. */
const optionalWhen = (iso: string | null | undefined, now: number) =>
  iso === undefined ? undefined : when(iso, now, '-');

/** A token, a field per line. */
export function tokenFields(t: TokenResponse, now: number): string {
  return fields([
    ['access_token', t.access_token],
    ['token_type', t.token_type],
    ['source', t.source],
    ['expires_at', when(t.expires_at, now)],
    ['api_base_url', t.api_base_url],
    ['stale', t.stale === true ? 'true' : undefined],
  ]);
}
