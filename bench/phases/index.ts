/**
 * The run's phases in order, on one dynalite in its own process and one temporary folder: each
 * phase adds its keys to the results; a failed phase is recorded and the run goes on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STACK_BUNDLING } from '../lib/bundling';
import { type Child, startChild } from '../lib/child';
import { TOKEN_CALLS_PER_RETAILER } from '../lib/runtime';
import { round } from '../lib/stats';
import type { BenchOptions } from '../options';
import { measureColdInit } from './cold-init';
import { costResults } from './cost';
import { type Fetched, fetchChildEnv, measureFetch } from './fetch';
import { measureHttp } from './http';
import { measureSweep } from './sweep';

export interface PhaseRun {
  readonly results: Record<string, unknown>;
  /** Failed phases, with the stack. */
  readonly errors: string[];
  readonly phaseSeconds: Record<string, number>;
}

type Log = (line: string) => void;

/** Runs every phase not skipped and resolves what they measured. */
export async function runPhases(options: BenchOptions, log: Log): Promise<PhaseRun> {
  const { settings } = options;
  const run: PhaseRun = { results: {}, errors: [], phaseSeconds: {} };
  const phase = async (id: string, name: string, measure: () => Promise<Record<string, unknown>>) => {
    if (options.skip.has(id)) {
      log(`== ${name}: skipped`);
      return;
    }
    log(`== ${name}`);
    const started = performance.now();
    try {
      Object.assign(run.results, await measure());
    } catch (error) {
      run.errors.push(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      log(`  FAILED: ${error instanceof Error ? error.message : String(error)}`);
    }
    run.phaseSeconds[name] = round((performance.now() - started) / 1000, 1);
  };

  // Bundles, keyrings and secret files of this run; children inherit the variable.
  const tmpRoot = await mkdtemp(join(tmpdir(), 'token-broker-bench-'));
  process.env.BENCH_TMP = tmpRoot;
  let dynalite: Child<{ endpoint: string }> | undefined;
  try {
    dynalite = await startChild<{ endpoint: string }>('children/dynalite.ts');
    const db = dynalite;
    const endpoint = db.ready.endpoint;
    const dynamoCpu = async () => {
      const cpu = await db.call<{ user: number; system: number }>('cpu');
      return cpu.user + cpu.system;
    };
    let fetched: Fetched | undefined;

    await phase('fetch', 'token fetch in-process vs bare GetItem', async () => {
      const fetch = await measureFetch({ endpoint, settings: settings.fetch, log });
      fetched = fetch.fetched;
      return fetch.results;
    });
    await phase('http', 'HTTP throughput: local runtime vs bare node:http + GetItem', async () =>
      httpResults(await measureHttp({ endpoint, ...settings.http, dynamoCpu, log }), settings.http),
    );
    await phase('cold', 'bundles and cold init', async () =>
      coldResults(await measureColdInit({ ...settings.cold, log }), log),
    );
    await phase('sweep', 'sweep: read capacity and time', async () => {
      // Token fetches beside the sweep: the tokens function's handler in its own process.
      const fetcher = await startChild<{ pid: number }>('children/fetch.ts', fetchChildEnv(endpoint));
      try {
        const sweep = await measureSweep({
          endpoint,
          ...settings.sweep,
          dynamoCpu,
          fetchLoop: { start: () => fetcher.call('loopStart'), stop: () => fetcher.call('loopStop') },
          log,
        });
        return sweepResults(sweep, settings.sweep);
      } finally {
        await fetcher.stop();
      }
    });
    await phase('cost', 'cost per million token fetches', async () => {
      if (fetched === undefined) throw new Error('needs the in-process fetch measurement');
      return costResults(fetched);
    });
  } finally {
    await dynalite?.stop();
    await rm(tmpRoot, { recursive: true, force: true });
  }
  return run;
}

function httpResults(
  http: Awaited<ReturnType<typeof measureHttp>>,
  settings: BenchOptions['settings']['http'],
) {
  return {
    http_rps_ratio: http.http_rps_ratio,
    http_p99_ms: http.http_p99_ms,
    http: {
      connections: settings.connections,
      duration_seconds: settings.durationSeconds,
      rounds: settings.rounds,
      broker: http.broker,
      bare: http.bare,
      per_round: http.rounds.map((r) => ({
        broker_rps: round(r.broker.rps, 1),
        bare_rps: round(r.bare.rps, 1),
        ratio: round(r.broker.rps / r.bare.rps),
      })),
    },
  };
}

function coldResults(cold: Awaited<ReturnType<typeof measureColdInit>>, log: Log) {
  const { samples_ms: _samples, ...rest } = cold;
  log(
    `  import minus node -e 0: ${Object.entries(cold.cold_init_ms)
      .map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`)
      .join(', ')}; @aws-sdk/client-dynamodb alone ${cold.baseline_cold_init_ms.toFixed(0)} ms`,
  );
  return {
    cold_init_ms: cold.cold_init_ms,
    cold_init_ratio: cold.cold_init_ratio,
    cold_init_ratio_by_function: cold.cold_init_ratio_by_function,
    bundle_bytes: cold.bundle_bytes,
    bundle_gzip_bytes: cold.bundle_gzip_bytes,
    cold_init: { ...rest, bundling: STACK_BUNDLING },
  };
}

function sweepResults(
  sweep: Awaited<ReturnType<typeof measureSweep>>,
  settings: BenchOptions['settings']['sweep'],
) {
  const {
    sweep_rcu_ratio,
    sweep_read_ratio_100k,
    fetch_p99_during_sweep_ratio,
    sweep_1000_due_seconds,
    provider_429s,
    ...rest
  } = sweep;
  return {
    sweep_rcu_ratio,
    sweep_read_ratio_100k,
    fetch_p99_during_sweep_ratio,
    sweep_1000_due_seconds,
    provider_429s,
    sweep: {
      ...rest,
      connections: { small: settings.small, large: settings.large, huge: settings.huge, due: settings.due },
      timed_due: settings.timedDue,
      token_latency_ms: settings.tokenLatencyMs,
      simulator_token_calls_per_retailer_per_5_minutes: TOKEN_CALLS_PER_RETAILER,
    },
  };
}
