/**
 * When a connection must be refreshed for its refresh token's sake. An idle connection whose
 * refresh token expires (Shopify: about 90 days; Clover: stated per answer) dies without a single
 * failed call unless someone refreshes it in time; so does one whose provider says nothing and
 * expires it anyway. The sweep therefore takes every connection at the earlier of the access
 * token's expiry and `renewBy`, which is never "never".
 */
import type { TokenSet } from './model';
import type { RenewalCadence } from './ports';

/** At most this long before a stated refresh-token expiry the connection is renewed. */
export const RENEW_BEFORE_REFRESH_EXPIRY_MS = 7 * 86_400_000;

export interface Renewal {
  /** The refresh token's expiry as stated (now or by an earlier answer for the same refresh token). */
  readonly refreshExpiresAt: number | undefined;
  readonly renewBy: number;
}

/**
 * The renewal of tokens received at `now`. An answer without a refresh token kept the stored one,
 * so the stored one's expiry (`previous`) still holds; a new refresh token without a stated expiry
 * gets the provider's cadence. Ahead of a stated expiry the margin is 7 days, or half the remaining
 * life for a short-lived one, so the sweep always gets there first.
 */
export function renewalOf(
  tokens: TokenSet,
  previous: { readonly refreshExpiresAt?: number | undefined } | undefined,
  cadence: RenewalCadence,
  now: number,
): Renewal {
  const refreshExpiresAt =
    tokens.refreshExpiresAt ?? (tokens.refreshToken === undefined ? previous?.refreshExpiresAt : undefined);
  if (refreshExpiresAt === undefined) return { refreshExpiresAt, renewBy: now + cadence.everySeconds * 1000 };
  const margin = Math.min(RENEW_BEFORE_REFRESH_EXPIRY_MS, Math.max(0, refreshExpiresAt - now) / 2);
  return { refreshExpiresAt, renewBy: Math.floor(refreshExpiresAt - margin) };
}

/** The time by which the connection needs a refresh: the earlier of its two deadlines. */
export function refreshDeadline(connection: {
  readonly expiresAt: number;
  readonly renewBy?: number | undefined;
}): number {
  return connection.renewBy === undefined
    ? connection.expiresAt
    : Math.min(connection.expiresAt, connection.renewBy);
}

/**
 * The cadence of a provider that neither states nor documents a refresh-token lifetime: 30 days,
 * an inference (the shortest idle lifetime the broker's providers document is Shopify's 90 days).
 */
export const UNSTATED_RENEWAL: RenewalCadence = Object.freeze({
  everySeconds: 30 * 86_400,
  basis: 'no lifetime documented: at least every 30 days (inference)',
});
