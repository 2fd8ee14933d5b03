/** `npm run bench [-- --quick] [--out FILE] [--skip fetch,http,cold,sweep]`: the run's options. */
import { join } from 'node:path';
import { ROOT } from './lib/child';

const QUICK = {
  fetch: { rounds: 3, iterations: 100, warmup: 100, capacityFetches: 20 },
  http: { connections: 10, durationSeconds: 3, warmupSeconds: 2, rounds: 2 },
  cold: { runs: 10 },
  sweep: {
    small: 1_000,
    large: 10_000,
    huge: 20_000,
    due: 100,
    timedDue: 1_000,
    timedRuns: 1,
    tokenLatencyMs: 50,
  },
};

/** The full run: more rounds and longer, and the sweep over 100,000 connections. */
const FULL: typeof QUICK = {
  fetch: { rounds: 5, iterations: 400, warmup: 300, capacityFetches: 50 },
  http: { ...QUICK.http, durationSeconds: 7, warmupSeconds: 3, rounds: 6 },
  cold: { runs: 20 },
  sweep: { ...QUICK.sweep, huge: 100_000, timedRuns: 3 },
};

export type Settings = typeof QUICK;

export interface BenchOptions {
  readonly quick: boolean;
  readonly outFile: string;
  /** Phases left out (for working on one phase; the run then fails for the missing keys). */
  readonly skip: ReadonlySet<string>;
  readonly settings: Settings;
}

/** The options of `args` (the command line after `npm run bench --`). */
export function parseOptions(args: readonly string[]): BenchOptions {
  const quick = args.includes('--quick');
  const outArg = args.indexOf('--out');
  const skipArg = args.indexOf('--skip');
  return {
    quick,
    outFile:
      outArg === -1
        ? join(ROOT, 'bench', quick ? 'results.quick.json' : 'results.json')
        : (args[outArg + 1] ?? ''),
    skip: new Set(skipArg === -1 ? [] : (args[skipArg + 1] ?? '').split(',')),
    settings: quick ? QUICK : FULL,
  };
}
