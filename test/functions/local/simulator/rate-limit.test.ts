import { describe, expect, it } from 'vitest';
import { RateWindows } from '../../../../functions/local/simulator/rate-limit';

describe('RateWindows', () => {
  it('counts calls per key in a fixed window from its first call and refuses those over the limit', () => {
    const windows = new RateWindows(60_000);
    const first = windows.hit('acme', 1_000, 2);
    expect(first).toEqual({
      over: false,
      resetAt: 61_000,
      headers: { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' },
    });
    expect(windows.hit('acme', 30_000, 2).over).toBe(false);
    const third = windows.hit('acme', 60_999, 2);
    expect(third.over).toBe(true);
    expect(third.headers['x-ratelimit-remaining']).toBe('0');
    expect(windows.hit('globex', 60_999, 2).over).toBe(false);
  });

  it('opens a new window at its reset time', () => {
    const windows = new RateWindows(1_000);
    windows.hit('acme', 0, 1);
    expect(windows.hit('acme', 999, 1).over).toBe(true);
    const fresh = windows.hit('acme', 1_000, 1);
    expect(fresh).toMatchObject({ over: false, resetAt: 2_000 });
  });
});
