/**
 * The load test's short form (load/runner.ts, `npm run load -- --quick` for the full figures): 5 s
 * of concurrent token fetches over many accounts while the sweep and on-demand refreshes rotate
 * tokens. Every request succeeds and the provider never sees a double refresh.
 */
import { describe, expect, it } from 'vitest';
import { runLoad } from '../../load/runner';

describe('sustained load', () => {
  it('answers every request and never refreshes an account twice at once while the sweep and callers rotate tokens', async () => {
    const figures = await runLoad({
      durationSeconds: 5,
      connections: 20,
      accounts: 60,
      // Due for the sweep 3 s after each refresh, so it refreshes within the 5 s.
      tokenTtlSeconds: 30,
      refreshMarginSeconds: 27,
    });
    expect(figures.failures).toEqual([]);
    expect(figures.passed).toBe(true);
    expect(figures.requests.total).toBeGreaterThan(100);
    expect(figures.requests.non2xx).toBe(0);
    expect(figures.requests.errors).toBe(0);
    // Refreshes and rotation really happened, from callers and from the sweep…
    expect(figures.requests.demanding + figures.requests.forced).toBeGreaterThan(0);
    expect(figures.provider.refreshes).toBeGreaterThan(10);
    expect(figures.sweep.refreshed).toBeGreaterThan(0);
    // …and never twice at once, never with a rotated-away refresh token.
    expect(figures.provider.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(figures.provider.revokedRefreshTokenUses).toBe(0);
    expect(figures.provider.invalidGrants).toBe(0);
    expect(figures.connections).toEqual({ active: 60, reauthorizationRequired: 0 });
  }, 60_000);
});
