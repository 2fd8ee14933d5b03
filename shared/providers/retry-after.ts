/**
 * `Retry-After` as delay seconds or an HTTP date (Lightspeed sends a date, Xentral seconds).
 * Resolves whole seconds from `now`, at least 1, or undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.max(1, Number(value));
  const date = Date.parse(value);
  if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined;
  return Math.max(1, Math.ceil((date - now) / 1000));
}
