import { MAX_RETRY_AFTER_SECONDS } from '../domain/retry';

/**
 * `Retry-After` as delay seconds or an HTTP date (Lightspeed sends a date, Xentral seconds).
 * Resolves whole seconds from `now`, from 1 to MAX_RETRY_AFTER_SECONDS, or undefined when absent
 * or unreadable. A year, a date in 2099 or `1e23` would otherwise park a healthy connection (and
 * an absurd number reach a write); after the cap the provider is simply asked again.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  // RFC 9110 allows only digits; a number written as `1e23` or `1.5` is read leniently, then clamped.
  if (/^\d+(?:\.\d+)?(?:e\+?\d+)?$/i.test(value)) return clampSeconds(Math.ceil(Number(value)));
  const date = Date.parse(value);
  if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined;
  return clampSeconds(Math.ceil((date - now) / 1000));
}

function clampSeconds(seconds: number): number {
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, seconds));
}
