/** Leaky buckets, as Shopify and Lightspeed R-Series count API calls: per key, draining at a fixed rate. */

/** One call poured into a bucket. */
export interface Pour {
  /** Whether the call overflowed the bucket (and was not counted). */
  over: boolean;
  /** The level after this call (rounded up), out of `size`. */
  level: number;
  size: number;
  /** Seconds until the call would fit, when over. */
  retryAfterSeconds: number;
}

export class LeakyBuckets {
  private readonly buckets = new Map<string, { level: number; at: number }>();

  constructor(
    private readonly size: number,
    private readonly leakPerSecond: number,
  ) {}

  /** Pours a call of `cost` into `key`'s bucket at `now` (epoch ms). */
  pour(key: string, now: number, cost = 1): Pour {
    const bucket = this.buckets.get(key) ?? { level: 0, at: now };
    const level = Math.max(0, bucket.level - ((now - bucket.at) / 1000) * this.leakPerSecond);
    const over = level + cost > this.size;
    const after = over ? level : level + cost;
    this.buckets.set(key, { level: after, at: now });
    const retryAfterSeconds = over ? Math.ceil((level + cost - this.size) / this.leakPerSecond) : 0;
    return { over, level: Math.ceil(after), size: this.size, retryAfterSeconds };
  }
}
