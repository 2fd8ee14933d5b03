/**
 * Whether a refresh lease held by another process is abandoned, judged without comparing one
 * host's wall clock with another's (refresh.ts explains why). A lease this process has watched
 * unchanged (same owner, same end) for a whole lease length on its own monotonic clock is
 * abandoned: only the rate of clocks matters, not their setting. A wall-clock comparison is kept
 * for a cold observer alone, with a tolerance no working host exceeds.
 */
import type { Clock } from './ports';

/**
 * Clock skew the lease tolerates for a cold observer (one that has not watched the lease itself):
 * AWS refuses SigV4 requests signed more than 5 minutes off, the same bound.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Leases remembered as watched, at most (the oldest is forgotten first). */
const WATCHED_LEASES = 10_000;

/** A lease as its row shows it: who holds it, and its holder's own estimate of its end. */
export interface HeldLease {
  readonly owner: string;
  readonly until: number | undefined;
}

/** The leases this process has seen held, by connection, and since when (monotonic ms). */
export class LeaseWatch {
  private readonly watched = new Map<string, HeldLease & { since: number }>();

  constructor(
    private readonly leaseMs: number,
    private readonly clock: Clock,
    private readonly monotonic: () => number,
  ) {}

  /**
   * Whether `lease` on connection `id` is abandoned. Watched: seen unchanged for a whole lease
   * length. Cold: the holder's end estimate lies more than MAX_CLOCK_SKEW_MS behind this clock.
   */
  abandoned(id: string, lease: HeldLease): boolean {
    if (lease.until !== undefined && lease.until + MAX_CLOCK_SKEW_MS < this.clock.now()) return true;
    const seen = this.watched.get(id);
    const now = this.monotonic();
    if (seen !== undefined && seen.owner === lease.owner && seen.until === lease.until) {
      return now - seen.since >= this.leaseMs;
    }
    this.watched.delete(id);
    if (this.watched.size >= WATCHED_LEASES) {
      const oldest = this.watched.keys().next();
      if (oldest.done !== true) this.watched.delete(oldest.value);
    }
    this.watched.set(id, { ...lease, since: now });
    return false;
  }

  /** Forgets a connection's lease (this process took it). */
  forget(id: string): void {
    this.watched.delete(id);
  }
}
