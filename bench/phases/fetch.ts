/**
 * Phase 1: the tokens function's handler in-process vs a bare GetItem (children/fetch.ts), and the
 * inputs of the cost model (duration, capacity per fetch).
 */
import { startChild } from '../lib/child';
import { median } from '../lib/stats';
import type { Settings } from '../options';

export interface FetchCapacity {
  dynamodbRequestsPerFetch: number;
  readUnitsPerFetch: number;
  writeUnitsPerFetch: number;
  keyProviderCallsPerFetch: number;
}

/** What the cost phase needs from this one. */
export interface Fetched {
  handlerMs: number;
  lambdaMs: number;
  getItemMs: number;
  capacity: FetchCapacity;
}

/** The environment of a children/fetch.ts process on the run's dynalite. */
export const fetchChildEnv = (endpoint: string) => ({
  BENCH_DYNAMODB_ENDPOINT: endpoint,
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_SERVICE_NAME: 'token-broker',
  POWERTOOLS_METRICS_NAMESPACE: 'TokenBroker',
});

type Step = 'getItem' | 'query' | 'store' | 'service' | 'handler' | 'lambda';
const STEPS: Step[] = ['getItem', 'query', 'store', 'service', 'handler', 'lambda'];

export async function measureFetch(options: {
  endpoint: string;
  settings: Settings['fetch'];
  log: (line: string) => void;
}): Promise<{ fetched: Fetched; results: Record<string, unknown> }> {
  const { settings, log } = options;
  const child = await startChild<{ pid: number }>('children/fetch.ts', fetchChildEnv(options.endpoint));
  try {
    type Round = { median: Record<Step, number> };
    const rounds = await child.call<Round[]>('measure', settings);
    const capacity = await child.call<FetchCapacity>('capacity', { fetches: settings.capacityFetches });
    const of = (name: Step) => median(rounds.map((r) => r.median[name]));
    const fetched = { handlerMs: of('handler'), lambdaMs: of('lambda'), getItemMs: of('getItem'), capacity };
    log(
      `  medians of ${rounds.length} rounds: ${STEPS.map((step) => `${step} ${of(step).toFixed(3)} ms`).join(', ')}`,
    );
    return {
      fetched,
      results: {
        fetch_overhead_ratio: median(rounds.map((r) => r.median.lambda / r.median.getItem)),
        fetch: {
          lambda_handler_median_ms: fetched.lambdaMs,
          handler_only_median_ms: fetched.handlerMs,
          get_item_median_ms: fetched.getItemMs,
          /** Median latency of each step (each includes the previous), and its ratio to GetItem. */
          steps_median_ms: Object.fromEntries(STEPS.map((step) => [step, of(step)])),
          steps_ratio: Object.fromEntries(
            STEPS.map((step) => [step, median(rounds.map((r) => r.median[step] / r.median.getItem))]),
          ),
          per_fetch: capacity,
          rounds: rounds.length,
          iterations_per_round: settings.iterations,
          round_medians_ms: rounds.map((r) => r.median),
        },
      },
    };
  } finally {
    await child.stop();
  }
}
