/** Fixed rate-limit windows, as both providers count calls: per key, from the first call of a window. */
import type { OutgoingHttpHeaders } from 'node:http';

/** One call counted against a window. */
export interface WindowHit {
  /** Whether this call is over the limit. */
  over: boolean;
  /** When the window ends (epoch ms); a refused call may be retried then. */
  resetAt: number;
  /** `x-ratelimit-limit` and `x-ratelimit-remaining` after this call. */
  headers: OutgoingHttpHeaders;
}

export class RateWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly windowMs: number) {}

  /** Counts a call by `key` at `now` against `limit` calls per window. */
  hit(key: string, now: number, limit: number): WindowHit {
    let window = this.windows.get(key);
    if (window === undefined || now >= window.start + this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    return {
      over: window.count > limit,
      resetAt: window.start + this.windowMs,
      headers: {
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': String(Math.max(0, limit - window.count)),
      },
    };
  }
}
