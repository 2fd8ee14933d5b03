/**
 * Throughput over HTTP: GET /tokens/{provider}/{account} through the local runtime vs a bare
 * node:http server doing the same GetItem, each in its own process, on the run's dynalite; autocannon
 * (fixed connections and duration) in this process. Rounds alternate which target goes first.
 */
import autocannon from 'autocannon';
import { type Child, startChild } from '../lib/child';
import { BENCH_API_KEY } from '../lib/runtime';
import { median } from '../lib/stats';

export interface HttpOptions {
  readonly endpoint: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  /** CPU time of the run's dynalite process (µs, user + system). */
  readonly dynamoCpu: () => Promise<number>;
  readonly log: (line: string) => void;
}

type Target = 'broker' | 'bare';
type Cpu = { user: number; system: number };

interface RoundResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** CPU µs of the target process per request. */
  cpuPerRequestUs: number;
  /** CPU µs of dynalite per request. */
  dynamoCpuPerRequestUs: number;
}

export async function measureHttp(options: HttpOptions) {
  const targets: Record<Target, Child<{ url: string }>> = {} as never;
  try {
    for (const name of ['broker', 'bare'] as const) {
      targets[name] = await startChild<{ url: string }>('children/http-target.ts', {
        BENCH_DYNAMODB_ENDPOINT: options.endpoint,
        BENCH_TARGET: name,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
    }
    const load = async (name: Target, seconds: number): Promise<RoundResult> => {
      const target = targets[name];
      const cpuBefore = await target.call<Cpu>('cpu');
      const dynamoBefore = await options.dynamoCpu();
      const result = await autocannon({
        url: target.ready.url,
        connections: options.connections,
        duration: seconds,
        headers: { authorization: `Bearer ${BENCH_API_KEY}` },
      });
      const cpuAfter = await target.call<Cpu>('cpu');
      const dynamoAfter = await options.dynamoCpu();
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`);
      const requests = result['2xx'];
      return {
        rps: requests / result.duration,
        p50: result.latency.p50,
        p99: result.latency.p99,
        requests,
        cpuPerRequestUs:
          (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / Math.max(1, requests),
        dynamoCpuPerRequestUs: (dynamoAfter - dynamoBefore) / Math.max(1, requests),
      };
    };
    for (const name of ['broker', 'bare'] as const) await load(name, options.warmupSeconds);
    const rounds: Record<Target, RoundResult>[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const order: Target[] = round % 2 === 0 ? ['broker', 'bare'] : ['bare', 'broker'];
      const results = {} as Record<Target, RoundResult>;
      for (const name of order) results[name] = await load(name, options.durationSeconds);
      rounds.push(results);
      options.log(
        `  round ${round + 1}: broker ${results.broker.rps.toFixed(0)} req/s (p99 ${results.broker.p99} ms), bare ${results.bare.rps.toFixed(0)} req/s (p99 ${results.bare.p99} ms)`,
      );
    }
    const of = (name: Target, field: keyof RoundResult) => median(rounds.map((round) => round[name][field]));
    return {
      http_rps_ratio: median(rounds.map((round) => round.broker.rps / round.bare.rps)),
      http_p99_ms: of('broker', 'p99'),
      broker: {
        rps: of('broker', 'rps'),
        p50_ms: of('broker', 'p50'),
        p99_ms: of('broker', 'p99'),
        cpu_us_per_request: of('broker', 'cpuPerRequestUs'),
        dynalite_cpu_us_per_request: of('broker', 'dynamoCpuPerRequestUs'),
      },
      bare: {
        rps: of('bare', 'rps'),
        p50_ms: of('bare', 'p50'),
        p99_ms: of('bare', 'p99'),
        cpu_us_per_request: of('bare', 'cpuPerRequestUs'),
        dynalite_cpu_us_per_request: of('bare', 'dynamoCpuPerRequestUs'),
      },
      rounds,
    };
  } finally {
    for (const target of Object.values(targets)) await target.stop();
  }
}
