/** An OAuth simulator's counters, including how many refreshes of one account overlapped. */
import type { ServerResponse } from 'node:http';

/** Per-account counters of an OAuth simulator. */
export interface AccountStats {
  refreshes: number;
  refreshAttempts: number;
  maxConcurrentRefreshes: number;
}

/** Counters of an OAuth simulator since construction or the last resetStats(). */
export interface SimulatorStats {
  tokenCalls: number;
  exchanges: number;
  refreshes: number;
  refreshAttempts: number;
  invalidGrants: number;
  revokedRefreshTokenUses: number;
  maxConcurrentRefreshesPerAccount: number;
  byAccount: Record<string, AccountStats>;
  apiCalls: number;
}

function emptyStats(): SimulatorStats {
  return {
    tokenCalls: 0,
    exchanges: 0,
    refreshes: 0,
    refreshAttempts: 0,
    invalidGrants: 0,
    revokedRefreshTokenUses: 0,
    maxConcurrentRefreshesPerAccount: 0,
    byAccount: {},
    apiCalls: 0,
  };
}

export class SimulatorCounters {
  /** The live counters; replaced, not zeroed, by reset(). */
  counters = emptyStats();
  private readonly refreshesInFlight = new Map<string, number>();

  /** A snapshot of the counters. */
  snapshot(): SimulatorStats {
    const byAccount: Record<string, AccountStats> = {};
    let max = 0;
    for (const [account, stats] of Object.entries(this.counters.byAccount)) {
      byAccount[account] = { ...stats };
      max = Math.max(max, stats.maxConcurrentRefreshes);
    }
    return { ...this.counters, byAccount, maxConcurrentRefreshesPerAccount: max };
  }

  /** Zeroes the counters (refreshes still in flight keep being tracked). */
  reset(): void {
    this.counters = emptyStats();
  }

  account(domainPrefix: string): AccountStats {
    let stats = this.counters.byAccount[domainPrefix];
    if (stats === undefined) {
      stats = { refreshes: 0, refreshAttempts: 0, maxConcurrentRefreshes: 0 };
      this.counters.byAccount[domainPrefix] = stats;
    }
    return stats;
  }

  /** Counts a refresh as in flight from now until its response is finished or abandoned. */
  trackRefresh(domainPrefix: string, res: ServerResponse): void {
    const inFlight = (this.refreshesInFlight.get(domainPrefix) ?? 0) + 1;
    this.refreshesInFlight.set(domainPrefix, inFlight);
    const stats = this.account(domainPrefix);
    stats.refreshAttempts += 1;
    stats.maxConcurrentRefreshes = Math.max(stats.maxConcurrentRefreshes, inFlight);
    this.counters.refreshAttempts += 1;
    // Over once the answer is handed to the socket ('finish') or the client is gone ('close'):
    // 'close' alone can come after the client already sent its next request, counting an overlap
    // that never happened.
    let over = false;
    const end = () => {
      if (over) return;
      over = true;
      const left = (this.refreshesInFlight.get(domainPrefix) ?? 1) - 1;
      if (left > 0) this.refreshesInFlight.set(domainPrefix, left);
      else this.refreshesInFlight.delete(domainPrefix);
    };
    res.once('finish', end);
    res.once('close', end);
  }
}
